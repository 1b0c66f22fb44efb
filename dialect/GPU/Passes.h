//===- Passes.h - the GPU backend's passes ----------------------*- C++ -*-===//
//
// Passes of lib/GPU/ (declared in dialect/GPU/Passes.td): from a bufferized
// layer to a gpu.launch whose programs run on blocks of threads, then to PTX
// or to the CPU emulation.
//
//===----------------------------------------------------------------------===//
#ifndef TTTC_DIALECT_GPU_PASSES_H
#define TTTC_DIALECT_GPU_PASSES_H

#include "dialect/Passes.h"

namespace mlir::ttt {
#define GEN_PASS_DECL
#include "dialect/GPU/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "dialect/GPU/Passes.h.inc"
} // namespace mlir::ttt

#endif
