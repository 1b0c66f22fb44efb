//===- EmuRuntime.cpp - fibers, barriers and a race check for cuda-emu ----===//

#include "EmuRuntime.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <sys/mman.h>
#include <unordered_map>
#include <vector>

#if !defined(__x86_64__)
#include <ucontext.h>
#endif

namespace {
using KernelFn = void (*)(void *, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t);

#if defined(__x86_64__)
// Saves the callee-saved registers on the current stack, stores the stack
// pointer in *from, and resumes the context whose stack pointer is `to`.
extern "C" void tttc_emu_switch(void **from, void *to);
asm(R"(
  .text
  .p2align 4
  .globl tttc_emu_switch
  .hidden tttc_emu_switch
  .type tttc_emu_switch,@function
tttc_emu_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size tttc_emu_switch, .-tttc_emu_switch
)");
#endif

constexpr size_t kStackBytes = 512 * 1024;

struct Shadow {
  uint64_t epoch;
  int64_t writer; // -1: none this epoch
  int64_t reader; // -1: none, -2: several threads
};

struct Fiber {
  char *stack = nullptr;
#if defined(__x86_64__)
  void *sp = nullptr;
#else
  ucontext_t uc;
#endif
  int64_t tid[3] = {0, 0, 0};
  int64_t linear = 0;
  bool done = false, atBarrier = false;
};

struct Block {
  KernelFn fn;
  void *ctx;
  int64_t bid[3];
  std::vector<Fiber> fibers;
  size_t running = 0;
#if defined(__x86_64__)
  void *schedulerSp = nullptr;
#else
  ucontext_t scheduler;
#endif
  bool checkRaces = false;
  uint64_t epoch = 1;
  std::unordered_map<uint64_t, Shadow> shadow;
};

thread_local Block *current = nullptr;
thread_local std::string firstError;

void fail(const std::string &msg) {
  if (firstError.empty())
    firstError = msg;
}

void toScheduler(Fiber &f) {
#if defined(__x86_64__)
  tttc_emu_switch(&f.sp, current->schedulerSp);
#else
  swapcontext(&f.uc, &current->scheduler);
#endif
}

void fiberMain() {
  Block *b = current;
  Fiber &f = b->fibers[b->running];
  b->fn(b->ctx, b->bid[0], b->bid[1], b->bid[2], f.tid[0], f.tid[1], f.tid[2]);
  f.done = true;
  toScheduler(b->fibers[b->running]);
  std::abort(); // a finished fiber is never resumed
}

#if !defined(__x86_64__)
void fiberMainTrampoline() { fiberMain(); }
#endif

void start(Fiber &f) {
  f.done = f.atBarrier = false;
#if defined(__x86_64__)
  auto *sp = reinterpret_cast<uintptr_t *>(f.stack + kStackBytes);
  *--sp = 0;                                          // keeps the entry aligned
  *--sp = reinterpret_cast<uintptr_t>(&fiberMain);    // `ret` target
  for (int i = 0; i < 6; ++i)
    *--sp = 0;                                        // rbp rbx r12-r15
  f.sp = sp;
#else
  getcontext(&f.uc);
  f.uc.uc_stack.ss_sp = f.stack;
  f.uc.uc_stack.ss_size = kStackBytes;
  f.uc.uc_link = nullptr;
  makecontext(&f.uc, fiberMainTrampoline, 0);
#endif
}

void resume(Block &b, size_t i) {
  b.running = i;
#if defined(__x86_64__)
  tttc_emu_switch(&b.schedulerSp, b.fibers[i].sp);
#else
  swapcontext(&b.scheduler, &b.fibers[i].uc);
#endif
}

void runBlock(Block &b) {
  for (Fiber &f : b.fibers)
    start(f);
  b.epoch++;
  for (;;) {
    // Each thread runs until it reaches a barrier or returns.
    for (size_t i = 0; i < b.fibers.size(); ++i)
      if (!b.fibers[i].done && !b.fibers[i].atBarrier)
        resume(b, i);
    size_t done = 0, waiting = 0;
    for (Fiber &f : b.fibers)
      (f.done ? done : waiting) += 1;
    if (!waiting)
      break;
    if (done)
      fail("cuda-emu: barrier divergence in block (" + std::to_string(b.bid[0]) + ", " +
           std::to_string(b.bid[1]) + ", " + std::to_string(b.bid[2]) + "): " +
           std::to_string(done) + " thread(s) returned while " + std::to_string(waiting) +
           " wait at a barrier");
    for (Fiber &f : b.fibers)
      f.atBarrier = false;
    b.epoch++;
    b.shadow.clear();
  }
  b.shadow.clear();
}
} // namespace

extern "C" {
void tttc_emu_launch(void *fn, void *ctx, int64_t gx, int64_t gy, int64_t gz, int64_t bx,
                     int64_t by, int64_t bz, int64_t checkRaces) {
  Block b;
  b.fn = reinterpret_cast<KernelFn>(fn);
  b.ctx = ctx;
  b.checkRaces = checkRaces != 0;
  int64_t n = bx * by * bz;
  b.fibers.resize(n);
  // One stack per thread, a guard page below each (an overflow faults).
  size_t page = 4096;
  char *mem = static_cast<char *>(mmap(nullptr, n * (kStackBytes + page), PROT_READ | PROT_WRITE,
                                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0));
  if (mem == MAP_FAILED) {
    fail("cuda-emu: cannot map the thread stacks");
    return;
  }
  for (int64_t i = 0; i < n; ++i) {
    char *base = mem + i * (kStackBytes + page);
    mprotect(base, page, PROT_NONE);
    b.fibers[i].stack = base + page;
    b.fibers[i].linear = i;
    b.fibers[i].tid[0] = i % bx;
    b.fibers[i].tid[1] = (i / bx) % by;
    b.fibers[i].tid[2] = i / (bx * by);
  }
  Block *saved = current;
  current = &b;
  for (int64_t z = 0; z < gz; ++z)
    for (int64_t y = 0; y < gy; ++y)
      for (int64_t x = 0; x < gx; ++x) {
        b.bid[0] = x;
        b.bid[1] = y;
        b.bid[2] = z;
        runBlock(b);
      }
  current = saved;
  munmap(mem, n * (kStackBytes + page));
}

void tttc_emu_barrier() {
  Block *b = current;
  Fiber &f = b->fibers[b->running];
  f.atBarrier = true;
  toScheduler(f);
}

void tttc_emu_access(int64_t addr, int64_t write) {
  Block *b = current;
  if (!b->checkRaces)
    return;
  int64_t t = b->fibers[b->running].linear;
  Shadow &s = b->shadow[uint64_t(addr)];
  if (s.epoch != b->epoch)
    s = {b->epoch, -1, -1};
  auto race = [&](const char *kind, int64_t other) {
    char buf[256];
    std::snprintf(buf, sizeof buf,
                  "cuda-emu: data race (%s) on shared memory in block (%lld, %lld, %lld): "
                  "threads %lld and %lld touch address 0x%llx with no barrier between them",
                  kind, (long long)b->bid[0], (long long)b->bid[1], (long long)b->bid[2],
                  (long long)other, (long long)t, (unsigned long long)addr);
    fail(buf);
  };
  if (write) {
    if (s.writer >= 0 && s.writer != t)
      race("write after write", s.writer);
    else if (s.reader == -2 || (s.reader >= 0 && s.reader != t))
      race("write after read", s.reader == -2 ? -1 : s.reader);
    s.writer = t;
  } else {
    if (s.writer >= 0 && s.writer != t)
      race("read after write", s.writer);
    if (s.reader == -1)
      s.reader = t;
    else if (s.reader != t)
      s.reader = -2;
  }
}
}

namespace tttc::emu {
std::vector<std::pair<const char *, void *>> symbols() {
  return {{"tttc_emu_launch", reinterpret_cast<void *>(&tttc_emu_launch)},
          {"tttc_emu_barrier", reinterpret_cast<void *>(&tttc_emu_barrier)},
          {"tttc_emu_access", reinterpret_cast<void *>(&tttc_emu_access)}};
}
void clearError() { firstError.clear(); }
std::string error() { return firstError; }
} // namespace tttc::emu
