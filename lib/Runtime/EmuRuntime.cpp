//===- EmuRuntime.cpp - fibers, barriers and a race check for cuda-emu ----===//

#include "EmuRuntime.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
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

/// Who wrote and who read an address since accesses were last forgotten
/// (-1: none; reader -2: several). Within a block, warp barriers order the
/// lanes of a warp: with `warpSyncs` (per warp, how many it has completed),
/// an earlier access by another lane of the same warp is ordered before
/// this one when that warp has synchronised since.
struct Accessors {
  int64_t writer = -1, reader = -1;
  uint64_t writerSync = 0, readerSync = 0; // the warp's count at the access (readers: latest)
  int64_t readerWarp = -1;                 // the readers' warp, -2: several warps
  uint32_t latestLanes = 0;                // lanes of readerWarp that read at readerSync
  /// Records an access by `who`; returns the kind of conflict it makes with
  /// another accessor (whom in `other`: -2 for several readers), or null.
  const char *touch(int64_t who, bool write, int64_t &other,
                    const std::vector<uint64_t> *warpSyncs = nullptr) {
    int64_t warp = who / 32;
    uint64_t now = warpSyncs ? (*warpSyncs)[size_t(warp)] : 0;
    auto ordered = [&](int64_t prev, uint64_t prevSync) {
      return prev == who || (warpSyncs && prev / 32 == warp && now > prevSync);
    };
    // Several readers, all of this warp: ordered if the warp synchronised
    // since the latest of them, or if only this lane read since.
    uint32_t me = uint32_t(1) << (who % 32);
    bool readersOrdered =
        reader == -1 ||
        (reader >= 0 ? ordered(reader, readerSync)
                     : warpSyncs && readerWarp == warp &&
                           (now > readerSync || (latestLanes & ~me) == 0));
    const char *kind = nullptr;
    if (write) {
      if (writer >= 0 && !ordered(writer, writerSync))
        kind = "write after write", other = writer;
      else if (!readersOrdered)
        kind = "write after read", other = reader;
      writer = who;
      writerSync = now;
    } else {
      if (writer >= 0 && !ordered(writer, writerSync))
        kind = "read after write", other = writer;
      if (reader == -1) {
        reader = who;
        readerWarp = warp;
      } else if (reader != who) {
        reader = -2;
        readerWarp = readerWarp == warp ? warp : -2;
      }
      if (now > readerSync || latestLanes == 0) {
        readerSync = std::max(readerSync, now);
        latestLanes = 0;
      }
      if (now == readerSync)
        latestLanes |= me;
    }
    return kind;
  }
};

/// The threads of a block touching an address since the barrier `epoch`.
struct Shadow {
  uint64_t epoch = 0;
  Accessors threads;
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
  bool done = false, atBarrier = false, atWarpSync = false;
  int64_t ops = 0, opsAtPhase = 0; // IR ops run, and at the last barrier (count-ops)
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
  // count-ops: per block, the IR ops of each warp (its busiest lane's),
  // summed over warps and over the launch's blocks.
  bool countOps = false;
  bool countPhases = false; // and print each phase of the first block
  int64_t phase = 0;        // barrier phases closed in this block
  int64_t warpOps = 0;
  // And the sum over barrier phases of the busiest lane's ops in the phase:
  // the block's critical path.
  int64_t pathOps = 0;
  // Per warp, the lanes' operands and results of a collective (an m16n8k8
  // tf32 MMA or an xor shuffle).
  struct WarpCollective {
    int kind = 0; // of the collective the warp's lanes are in: 1 MMA, 2 shuffle, 3 barrier
    float a[32][4], b[32][2], c[32][4], d[32][4];
    int32_t offset[32], width[32];
  };
  std::vector<WarpCollective> warps;
  std::vector<uint64_t> warpSyncs; // warp barriers each warp has completed
  int64_t smem = 0;                // the block's shared memory (race reports)
  uint64_t epoch = 1;
  std::unordered_map<uint64_t, Shadow> shadow;
  // Global memory (the layer's buffers), for the whole launch: blocks have
  // no way to synchronise with each other, so an address one block writes
  // must not be read or written by another; within a block, the barrier
  // rules of shared memory apply.
  struct GlobalShadow {
    Accessors blocks;       // linear block ids
    int64_t lastBlock = -1; // of inBlock
    Shadow inBlock;
  };
  std::unordered_map<uint64_t, GlobalShadow> global;
  int64_t linearBlock = 0, grid[3] = {1, 1, 1};
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
  f.done = f.atBarrier = f.atWarpSync = false;
  f.ops = f.opsAtPhase = 0;
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

/// tf32: the top 19 bits of an f32 (the tensor cores ignore the rest).
double tf32(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  u &= 0xffffe000u;
  float r;
  std::memcpy(&r, &u, 4);
  return r;
}

/// Completes the collectives of warps whose 32 lanes have all arrived. A
/// shuffle hands lane l the value of lane l ^ offset; an MMA is D = C + A B
/// with A 16x8, B 8x8, C and D 16x8 spread over the lanes as PTX's
/// mma.m16n8k8 fragments (lane = 4 g + t): A[g][t], A[g+8][t], A[g][t+4],
/// A[g+8][t+4]; B[t][g], B[t+4][g]; C[g][2t], C[g][2t+1], C[g+8][2t],
/// C[g+8][2t+1]. Returns whether any warp was released.
bool completeWarpCollectives(Block &b) {
  bool released = false;
  size_t nWarps = (b.fibers.size() + 31) / 32;
  for (size_t w = 0; w < nWarps; ++w) {
    size_t lanes = std::min<size_t>(32, b.fibers.size() - w * 32), waiting = 0;
    for (size_t l = 0; l < lanes; ++l)
      waiting += b.fibers[w * 32 + l].atWarpSync;
    if (!waiting || waiting != 32)
      continue;
    Block::WarpCollective &m = b.warps[w];
    if (m.kind == 3) { // warp barrier: the lanes' accesses so far are ordered
      for (int lane = 0; lane < 32; ++lane)
        b.fibers[w * 32 + lane].atWarpSync = false;
      b.warpSyncs[w]++;
      m.kind = 0;
      released = true;
      continue;
    }
    if (m.kind == 2) { // xor shuffle: lane l gets lane (l ^ offset)'s value
      bool uniform = true;
      for (int lane = 0; lane < 32; ++lane)
        uniform &= m.offset[lane] == m.offset[0] && m.width[lane] == 32;
      if (!uniform)
        fail("cuda-emu: a warp shuffle whose lanes disagree on offset or width");
      for (int lane = 0; lane < 32; ++lane) {
        m.d[lane][0] = m.a[(lane ^ m.offset[lane]) & 31][0];
        b.fibers[w * 32 + lane].atWarpSync = false;
      }
      m.kind = 0;
      released = true;
      continue;
    }
    m.kind = 0;
    double A[16][8], B[8][8], C[16][8];
    for (int lane = 0; lane < 32; ++lane) {
      int g = lane / 4, t = lane % 4;
      A[g][t] = tf32(m.a[lane][0]);
      A[g + 8][t] = tf32(m.a[lane][1]);
      A[g][t + 4] = tf32(m.a[lane][2]);
      A[g + 8][t + 4] = tf32(m.a[lane][3]);
      B[t][g] = tf32(m.b[lane][0]);
      B[t + 4][g] = tf32(m.b[lane][1]);
      C[g][2 * t] = m.c[lane][0];
      C[g][2 * t + 1] = m.c[lane][1];
      C[g + 8][2 * t] = m.c[lane][2];
      C[g + 8][2 * t + 1] = m.c[lane][3];
    }
    for (int i = 0; i < 16; ++i)
      for (int j = 0; j < 8; ++j) {
        double s = C[i][j];
        for (int k = 0; k < 8; ++k)
          s += A[i][k] * B[k][j];
        C[i][j] = s;
      }
    for (int lane = 0; lane < 32; ++lane) {
      int g = lane / 4, t = lane % 4;
      m.d[lane][0] = float(C[g][2 * t]);
      m.d[lane][1] = float(C[g][2 * t + 1]);
      m.d[lane][2] = float(C[g + 8][2 * t]);
      m.d[lane][3] = float(C[g + 8][2 * t + 1]);
      b.fibers[w * 32 + lane].atWarpSync = false;
    }
    released = true;
  }
  return released;
}

/// count-ops: a barrier phase ends; its busiest lane adds to the block's
/// critical path.
/// count-ops: the sum over the block's warps of their busiest lane's
/// `ops(fiber)`.
template <typename Ops>
int64_t warpOpsOf(const Block &b, Ops ops) {
  int64_t sum = 0;
  for (size_t w = 0; w * 32 < b.fibers.size(); ++w) {
    int64_t busiest = 0;
    for (size_t l = w * 32; l < std::min(b.fibers.size(), w * 32 + 32); ++l)
      busiest = std::max(busiest, ops(b.fibers[l]));
    sum += busiest;
  }
  return sum;
}

void closePhase(Block &b) {
  auto inPhase = [](const Fiber &f) { return f.ops - f.opsAtPhase; };
  int64_t most = 0;
  for (const Fiber &f : b.fibers)
    most = std::max(most, inPhase(f));
  if (b.countPhases && b.linearBlock == 0)
    std::fprintf(stderr, "cuda-emu: phase %lld: %lld warp-ops, busiest lane %lld\n",
                 (long long)b.phase, (long long)warpOpsOf(b, inPhase), (long long)most);
  for (Fiber &f : b.fibers)
    f.opsAtPhase = f.ops;
  b.phase++;
  b.pathOps += most;
}

void runBlock(Block &b) {
  for (Fiber &f : b.fibers)
    start(f);
  b.epoch++;
  for (;;) {
    // Each thread runs until it reaches a barrier, a warp-level MMA, or
    // returns; complete warps' MMAs then let their lanes go on.
    for (size_t i = 0; i < b.fibers.size(); ++i)
      if (!b.fibers[i].done && !b.fibers[i].atBarrier && !b.fibers[i].atWarpSync)
        resume(b, i);
    if (completeWarpCollectives(b))
      continue;
    bool stuck = false;
    for (Fiber &f : b.fibers)
      if (f.atWarpSync) {
        stuck = true;
        f.atWarpSync = false; // let it go on (with garbage) so the block ends
      }
    if (stuck)
      fail("cuda-emu: a warp-level collective (MMA or shuffle) in block (" +
           std::to_string(b.bid[0]) + ", " +
           std::to_string(b.bid[1]) + ", " + std::to_string(b.bid[2]) +
           ") was not reached by all 32 lanes of its warp");
    if (stuck)
      continue;
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
    if (b.countOps)
      closePhase(b);
    b.shadow.clear();
  }
  b.shadow.clear();
  if (b.countOps) {
    closePhase(b);
    b.warpOps += warpOpsOf(b, [](const Fiber &f) { return f.ops; });
  }
}
/// The barrier rule within a block: between two barriers, an address one
/// thread writes is touched by no other thread.
void checkThreads(Block &b, Shadow &s, int64_t addr, bool write, const char *space) {
  int64_t t = b.fibers[b.running].linear, other = -1;
  if (s.epoch != b.epoch)
    s = {b.epoch, {}};
  if (const char *kind = s.threads.touch(t, write, other, &b.warpSyncs)) {
    char buf[320];
    std::snprintf(buf, sizeof buf,
                  "cuda-emu: data race (%s) on %s memory in block (%lld, %lld, %lld): "
                  "threads %lld and %lld touch address 0x%llx with no barrier between them",
                  kind, space, (long long)b.bid[0], (long long)b.bid[1], (long long)b.bid[2],
                  (long long)std::max<int64_t>(other, -1), (long long)t,
                  (unsigned long long)addr);
    if (std::strcmp(space, "shared") == 0 && b.smem)
      std::snprintf(buf + std::strlen(buf), sizeof buf - std::strlen(buf),
                    " (shared byte %lld)", (long long)(addr - b.smem));
    fail(buf);
  }
}
} // namespace

extern "C" {
void tttc_emu_launch(void *fn, void *ctx, int64_t gx, int64_t gy, int64_t gz, int64_t bx,
                     int64_t by, int64_t bz, int64_t flags, int64_t smem,
                     int64_t smemBytes) {
  Block b;
  b.fn = reinterpret_cast<KernelFn>(fn);
  b.ctx = ctx;
  // Flags: 1 check races, 2 count ops, 4 and print the first block's phases.
  b.checkRaces = (flags & 1) != 0;
  b.countOps = (flags & 2) != 0;
  b.countPhases = (flags & 4) != 0;
  b.smem = smem;
  int64_t n = bx * by * bz;
  b.fibers.resize(n);
  b.warps.resize(size_t((n + 31) / 32));
  b.warpSyncs.assign(b.warps.size(), 0);
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
        b.linearBlock = (z * gy + y) * gx + x;
        b.grid[0] = gx;
        b.grid[1] = gy;
        b.grid[2] = gz;
        // A GPU leaves shared memory uninitialised: NaN bytes, so that a read
        // before a write reaches the outputs.
        if (smem && smemBytes > 0)
          std::memset(reinterpret_cast<void *>(smem), 0xff, size_t(smemBytes));
        b.phase = 0;
        runBlock(b);
      }
  current = saved;
  munmap(mem, n * (kStackBytes + page));
  if (b.countOps) {
    int64_t blocks = gx * gy * gz;
    double per = double(std::max<int64_t>(blocks, 1));
    std::fprintf(stderr,
                 "cuda-emu: %lld block(s) of %lld threads: %.0f warp-ops per block (the IR ops "
                 "of each warp's busiest lane, summed over its %lld warps), critical path %.0f "
                 "ops (the busiest lane of each barrier phase, summed)\n",
                 (long long)blocks, (long long)n, double(b.warpOps) / per,
                 (long long)((n + 31) / 32), double(b.pathOps) / per);
  }
}

void tttc_emu_count(int64_t ops) {
  Block *b = current;
  b->fibers[b->running].ops += ops;
}

void tttc_emu_barrier() {
  Block *b = current;
  Fiber &f = b->fibers[b->running];
  f.atBarrier = true;
  toScheduler(f);
}

void tttc_emu_syncwarp() {
  Block *b = current;
  Fiber &f = b->fibers[b->running];
  Block::WarpCollective &m = b->warps[size_t(f.linear / 32)];
  if (m.kind && m.kind != 3)
    fail("cuda-emu: lanes of a warp in different collectives (a warp barrier and another)");
  m.kind = 3;
  f.atWarpSync = true;
  toScheduler(f);
}

void tttc_emu_mma_m16n8k8_tf32(float a0, float a1, float a2, float a3, float b0, float b1,
                               float c0, float c1, float c2, float c3, float *d) {
  Block *b = current;
  Fiber &f = b->fibers[b->running];
  int64_t lane = f.linear % 32;
  Block::WarpCollective &m = b->warps[size_t(f.linear / 32)];
  float a[4] = {a0, a1, a2, a3}, bb[2] = {b0, b1}, c[4] = {c0, c1, c2, c3};
  if (m.kind && m.kind != 1)
    fail("cuda-emu: lanes of a warp in different collectives (an MMA and a shuffle)");
  m.kind = 1;
  std::memcpy(m.a[lane], a, sizeof a);
  std::memcpy(m.b[lane], bb, sizeof bb);
  std::memcpy(m.c[lane], c, sizeof c);
  f.atWarpSync = true;
  toScheduler(f);
  std::memcpy(d, m.d[lane], 4 * sizeof(float));
}

float tttc_emu_shuffle_xor_f32(float v, int32_t offset, int32_t width) {
  Block *b = current;
  Fiber &f = b->fibers[b->running];
  int64_t lane = f.linear % 32;
  Block::WarpCollective &m = b->warps[size_t(f.linear / 32)];
  if (m.kind && m.kind != 2)
    fail("cuda-emu: lanes of a warp in different collectives (an MMA and a shuffle)");
  m.kind = 2;
  m.a[lane][0] = v;
  m.offset[lane] = offset;
  m.width[lane] = width;
  f.atWarpSync = true;
  toScheduler(f);
  return m.d[lane][0];
}

void tttc_emu_access(int64_t addr, int64_t write) {
  Block *b = current;
  if (!b->checkRaces)
    return;
  checkThreads(*b, b->shadow[uint64_t(addr)], addr, write != 0, "shared");
}

void tttc_emu_global_access(int64_t addr, int64_t write) {
  Block *b = current;
  if (!b->checkRaces)
    return;
  Block::GlobalShadow &g = b->global[uint64_t(addr)];
  int64_t me = b->linearBlock, other = -1;
  if (const char *kind = g.blocks.touch(me, write != 0, other)) {
    char buf[384], who[96] = "several other blocks";
    if (other >= 0)
      std::snprintf(who, sizeof who, "(%lld, %lld, %lld)", (long long)(other % b->grid[0]),
                    (long long)(other / b->grid[0] % b->grid[1]),
                    (long long)(other / (b->grid[0] * b->grid[1])));
    std::snprintf(buf, sizeof buf,
                  "cuda-emu: data race (%s) on global memory: blocks %s and (%lld, %lld, "
                  "%lld) touch address 0x%llx, and blocks cannot synchronise with each other",
                  kind, who, (long long)b->bid[0], (long long)b->bid[1], (long long)b->bid[2],
                  (unsigned long long)addr);
    fail(buf);
  }
  if (g.lastBlock != me) {
    g.lastBlock = me;
    g.inBlock = {};
  }
  checkThreads(*b, g.inBlock, addr, write != 0, "global");
}
}

namespace tttc::emu {
std::vector<std::pair<const char *, void *>> symbols() {
  return {{"tttc_emu_launch", reinterpret_cast<void *>(&tttc_emu_launch)},
          {"tttc_emu_barrier", reinterpret_cast<void *>(&tttc_emu_barrier)},
          {"tttc_emu_count", reinterpret_cast<void *>(&tttc_emu_count)},
          {"tttc_emu_syncwarp", reinterpret_cast<void *>(&tttc_emu_syncwarp)},
          {"tttc_emu_access", reinterpret_cast<void *>(&tttc_emu_access)},
          {"tttc_emu_global_access", reinterpret_cast<void *>(&tttc_emu_global_access)},
          {"tttc_emu_mma_m16n8k8_tf32", reinterpret_cast<void *>(&tttc_emu_mma_m16n8k8_tf32)},
          {"tttc_emu_shuffle_xor_f32", reinterpret_cast<void *>(&tttc_emu_shuffle_xor_f32)}};
}
void clearError() { firstError.clear(); }
std::string error() { return firstError; }
} // namespace tttc::emu
