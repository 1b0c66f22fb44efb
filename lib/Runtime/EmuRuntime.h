//===- EmuRuntime.h - runtime of the CPU emulation of GPU kernels -*- C++ -*-===//
//
// `ttt-emulate-gpu` outlines each launch into a function of (context, block
// id, thread id) and calls `tttc_emu_launch`, which runs every block's
// threads as cooperative fibers on the calling CPU thread: `tttc_emu_barrier`
// switches to the next thread; all threads of a block resume together once
// every one of them has reached the barrier. With race checking, every
// shared-memory access is reported (`tttc_emu_access`) and two threads
// touching one address between two barriers, one writing, is an error; every
// global-memory access too (`tttc_emu_global_access`), where in addition an
// address one block writes must not be touched by any other block of the
// launch (blocks cannot synchronise).
//
//===----------------------------------------------------------------------===//
#ifndef TTTC_RUNTIME_EMURUNTIME_H
#define TTTC_RUNTIME_EMURUNTIME_H

#include <string>
#include <utility>
#include <vector>

namespace tttc::emu {
/// The runtime's entry points, by the names the emulated code calls.
std::vector<std::pair<const char *, void *>> symbols();
/// Forgets the errors of earlier launches on this thread.
void clearError();
/// The first error (race, barrier divergence) of the launches on this CPU
/// thread since the last clearError(), or "".
std::string error();
} // namespace tttc::emu

#endif
