//===- LayerImpl.h - a compiled layer's insides -------------------*- C++ -*-===//
//
// Internal to lib/Runtime: what CompiledLayer.cpp (compile, run on the CPU),
// Descriptors.cpp (argument validation into memref descriptors) and
// CudaLayer.cpp (the cuda target's kernels and launches) share.
//
//===----------------------------------------------------------------------===//
#ifndef TTTC_LIB_RUNTIME_LAYERIMPL_H
#define TTTC_LIB_RUNTIME_LAYERIMPL_H

#include "Runtime.h"
#include "tttc/tttc_cuda.h"

#include <map>
#include <mutex>

namespace llvm {
class StdThreadPool;
} // namespace llvm

namespace mlir {
class MLIRContext;
class ExecutionEngine;
} // namespace mlir

namespace tttc {

/// A ranked memref descriptor as the C interface expects it: allocated and
/// aligned pointers, offset, sizes, strides (C-contiguous).
struct Descriptor {
  std::vector<int64_t> words;
  Descriptor(void *data, const std::vector<int64_t> &shape);
};

/// The extents of a descriptor built by `Descriptor`.
std::vector<int64_t> extentsOf(const Descriptor &d);

/// The tensor named `n` among `ts` (the first), or null.
const Tensor *findByName(const std::vector<Tensor> &ts, const std::string &n);

struct CompiledLayer::CudaKernel {
  tttc_cuda_kernel *kernel = nullptr;
  std::vector<int> paramOrder; // kernel parameter i: signature buffer paramOrder[i]
};

struct CompiledLayer::Impl {
  std::unique_ptr<mlir::MLIRContext> ctx;
  std::unique_ptr<mlir::ExecutionEngine> engine;
  /// The options compiled with (the cuda target compiles more kernels from
  /// them on demand).
  mlir::ttt::PipelineOptions options;
  /// The cuda target: a kernel per column-block count (1: as compiled; more
  /// compiled on demand when the options leave the count to the launch).
  std::map<int64_t, CudaKernel> kernels;
  /// The cuda target with the backward: the training forward's and the
  /// backward's kernels; with decode, the resume kernel (one program per
  /// (b, h)).
  CudaKernel trainKernel, backwardKernel, resumeKernel;
  bool cuda = false;                  // compiled for target cuda (kernels[1] loaded)
  bool autoColumnBlocks = false;
  bool splitRefused = false;          // the layer's state cannot be split
  int64_t fitBlocks = -1;             // fewest column blocks without scratch (-1: unprobed)
  std::mutex mu;
  std::string entry;
  std::string backwardEntry; // "" without the backward
  std::string trainEntry;    // the training forward ("" without the backward)
  std::string resumeEntry;   // the forward from every state ("" without decode)
  /// Target cpu: the threads runs split their batch rows over (created on
  /// the first run that splits).
  std::unique_ptr<llvm::StdThreadPool> pool;
  std::string source, bufferName;
  Impl();
  ~Impl();
};

} // namespace tttc

#endif
