//===- Runtime.h - compile a layer spec and run it on the CPU ---*- C++ -*-===//
//
// Internal C++ interface behind the C API (include/tttc/tttc.h). Keeps the
// heavy MLIR headers (ExecutionEngine, InitAll*) out of its users.
//
//===----------------------------------------------------------------------===//
#ifndef TTTC_LIB_RUNTIME_RUNTIME_H
#define TTTC_LIB_RUNTIME_RUNTIME_H

#include "dialect/Pipelines.h"
#include "dialect/Signature.h"
#include "tttc/PTXListing.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace tttc {

struct Tensor {
  std::string name;
  /// float32, or the layer's I/O type (bf16/f16: 16-bit elements) for its
  /// per-token inputs and readouts.
  void *data = nullptr;
  std::vector<int64_t> shape;
};

struct Descriptor;

/// The pipeline stages `emit` can stop after.
enum class Stage { Spec, AfterAutodiff, Chunked, Linalg, GPUKernel, LLVMDialect, LLVMIR, PTX };

/// The remarks of this thread's last successful compilation ("" if none).
std::string &compileNotes();
/// Parses "spec", "after-autodiff", ...; false if unknown.
bool parseStage(const std::string &name, Stage &stage);

class CompiledLayer {
public:
  /// Compiles `source` (ttt dialect text; `bufferName` names it in
  /// diagnostics) with `options` (the target among them). Returns null and
  /// sets `error` on failure.
  /// With `objectPath` (target cpu), the code is instead generated into a
  /// position-independent object file there (tttc compile: linkable into a
  /// shared library without text relocations); the layer returned then
  /// describes it (signature, chunk size) and does not run.
  static std::unique_ptr<CompiledLayer> compile(const std::string &source,
                                                const std::string &bufferName,
                                                const mlir::ttt::PipelineOptions &options,
                                                std::string &error,
                                                const std::string *objectPath = nullptr);
  ~CompiledLayer();

  const mlir::ttt::LayerSignature &signature() const { return sig; }

  /// Validates shapes and runs on host buffers (for the cuda target: copied
  /// to the device and back). Returns false and sets `error` on failure.
  bool run(const std::vector<Tensor> &inputs, const std::vector<Tensor> &outputs,
           std::string &error);

  /// Whether the layer was compiled with its backward (pipeline option
  /// `backward`).
  bool hasBackward() const;
  /// Bytes a training forward saves for the backward at batch B, length T
  /// and H heads: per state, its values at the start of every
  /// checkpointEvery-th chunk, [B, H, S, ...] float32 with
  /// S = ceil(ceil(T / C) / checkpointEvery), the states one after another
  /// in declaration order. 0 without the backward.
  size_t savedBytes(int64_t B, int64_t T, int64_t H) const;
  /// The forward (as `run`) that also writes what the backward needs into
  /// `saved` (exactly savedBytes(B, T, H) bytes, 4-byte aligned).
  bool runForwardTrain(const std::vector<Tensor> &inputs, const std::vector<Tensor> &outputs,
                       void *saved, size_t savedBytes, std::string &error);
  /// The outer-loop backward on host buffers: given the forward's inputs,
  /// what runForwardTrain saved on them (null: that forward is run first,
  /// into scratch) and cotangents of its outputs (by output name; a missing
  /// one is zero), writes the gradient of each input named in `grads` (same
  /// shape and element type as that input). Returns false and sets `error`
  /// on failure.
  bool runBackward(const std::vector<Tensor> &inputs, const void *saved, size_t savedBytes,
                   const std::vector<Tensor> &cotangents, const std::vector<Tensor> &grads,
                   std::string &error);
  bool runBackward(const std::vector<Tensor> &inputs, const std::vector<Tensor> &cotangents,
                   const std::vector<Tensor> &grads, std::string &error) {
    return runBackward(inputs, nullptr, 0, cotangents, grads, error);
  }
  /// Checks gradients against the float64 per-token reference, independently
  /// of the generated backward: for each input in `grads`, `directions`
  /// seeded random directions U, the central difference of
  /// L = sum <cotangent, output> along U against <grad, U>. `relErr[i]`:
  /// the largest relative difference for grads[i]. With `cu` (N + 1
  /// offsets), the tensors are a packed batch (as for runVarlen) and the
  /// reference runs each sequence alone.
  bool checkGradients(const std::vector<Tensor> &inputs, const std::vector<Tensor> &cotangents,
                      const std::vector<Tensor> &grads, int directions, uint64_t seed,
                      std::vector<double> &relErr, std::string &error,
                      const std::vector<int64_t> &cu = {}) const;

  /// Whether the layer was compiled with `<name>_resume` (pipeline option
  /// `decode`; Decode.h builds the decoder on it).
  bool hasResume() const;
  /// `<name>_resume` on `descs`, built by the caller (no checks here): the
  /// inputs other than initial states (signature order), every state's
  /// value [B, H, ...] (sig.states order), the readouts [B, T, H, n], every
  /// state's final value [B, H, ...].
  bool runResume(std::vector<Descriptor> &descs, int64_t B, std::string &error);

  /// cuda target only: validates shapes and launches on caller-owned device
  /// buffers on `stream` (a CUstream, null: the default stream); does not
  /// synchronise.
  bool runOnDevice(const std::vector<Tensor> &inputs, const std::vector<Tensor> &outputs,
                   void *stream, std::string &error);

  /// cuda target only, on caller-owned device buffers on `stream`, without
  /// synchronising: the training forward (as runForwardTrain; `saved` is
  /// device memory), and the backward (as runBackward; `saved` from the
  /// former, or null: that forward runs first, into stream-ordered scratch).
  /// The gradients the programs share are written per (b, h) into scratch
  /// and summed on the device in (b, h) order, as on cuda-emu.
  bool runForwardTrainOnDevice(const std::vector<Tensor> &inputs,
                               const std::vector<Tensor> &outputs, void *saved,
                               size_t savedBytes, void *stream, std::string &error);
  bool runBackwardOnDevice(const std::vector<Tensor> &inputs, const void *saved,
                           size_t savedBytes, const std::vector<Tensor> &cotangents,
                           const std::vector<Tensor> &grads, void *stream, std::string &error);

  /// The options this layer was compiled with (its target among them).
  const mlir::ttt::PipelineOptions &options() const;
  /// The cuda target: programs per (b, h) of the last launch (column blocks;
  /// 0 before the first).
  int64_t lastColumnBlocks() const { return lastBlocks; }
  /// Tokens per chunk step (on target cuda: 0 without the backward or decode).
  int64_t chunkSize() const { return chunk; }
  /// Element type of the per-token inputs and readouts: f32, bf16 or f16.
  const std::string &ioType() const { return ioTypeName; }
  /// The operands of the layer's matmuls: f32, or on tensor cores tf32x3
  /// (f32 accuracy), tf32 or tf32-rz (option mma-precision).
  const std::string &matmulPrecision() const { return precisionName; }
  /// Bytes per element of argument `a` in memory.
  size_t elementBytes(const mlir::ttt::ArgInfo &a) const;

  /// Evaluates the spec with the float64 per-token reference interpreter
  /// (no chunking, no dual form; weights materialised per token). Outputs in
  /// signature order, C-contiguous.
  bool runReference(const std::vector<Tensor> &inputs,
                    std::vector<std::vector<double>> &outputs, std::string &error) const;

  /// Expected shapes for batch B, length T, H heads.
  static std::vector<int64_t> shapeOf(const mlir::ttt::ArgInfo &a, int64_t B,
                                      int64_t T, int64_t H, int64_t C);

private:
  CompiledLayer() = default;
  bool validateInputs(const std::vector<Tensor> &inputs, int64_t &B, int64_t &T,
                      int64_t &H, std::vector<Descriptor> *descs, std::string &error) const;
  bool validate(const std::vector<Tensor> &inputs, const std::vector<Tensor> &outputs,
                int64_t &B, int64_t &T, int64_t &H, std::vector<Descriptor> &descs,
                std::string &error) const;
  bool validateBackward(const std::vector<Tensor> &inputs, const void *saved, size_t savedBytes,
                        const std::vector<Tensor> &cotangents, const std::vector<Tensor> &grads,
                        int64_t &B, int64_t &T, int64_t &H, std::vector<Descriptor> &descs,
                        const std::function<void *(size_t bytes)> &zeroed,
                        std::string &error) const;
  /// `validate`, then the saved states' descriptors (written too: apart
  /// from the inputs and outputs).
  bool validateTrain(const std::vector<Tensor> &inputs, const std::vector<Tensor> &outputs,
                     void *saved, size_t savedBytes, int64_t &B, int64_t &T, int64_t &H,
                     std::vector<Descriptor> &descs, std::string &error) const;
  /// The descriptors of the saved states in `saved` (checked to be
  /// savedBytes(B, T, H) bytes), appended to `descs`.
  bool savedDescriptors(const void *saved, size_t bytes, int64_t B, int64_t T, int64_t H,
                        std::vector<Descriptor> &descs, std::string &error) const;
  /// Segments of checkpointEvery chunks for length T: S.
  int64_t savedSlots(int64_t T) const;
  /// Bytes of descriptor i of `descs` as validateBackward builds them
  /// (inputs, saved states, cotangents, gradients).
  size_t backwardBytesOf(const std::vector<Descriptor> &descs, size_t i) const;
  /// How `invokeSplit` treats a descriptor: the same for every thread,
  /// split along its first (batch) dimension, or an accumulated float32
  /// output each thread writes a zeroed copy of, summed into it afterwards.
  enum class Split { Shared, Rows, Summed };
  /// Target cpu: calls `entry` on `descs`, its B batch rows split over the
  /// layer's threads (cpu-threads).
  bool invokeSplit(const std::string &entry, std::vector<Descriptor> &descs,
                   const std::vector<Split> &how, const std::vector<size_t> &elemBytes,
                   int64_t B, std::string &error);
  /// A gradient the GPU programs share (option partial-sums of
  /// ttt-lower-layer-to-func), written per (b, h): backward descriptor
  /// `desc` is given as `shape` ([B, H, ...] partials); the caller's gradient
  /// (n elements) is the sum of `terms` partials (terms == 0: no partials,
  /// only the shape: an omitted position input's).
  struct PartialGrad {
    size_t desc;
    std::vector<int64_t> shape;
    size_t n, terms;
  };
  std::vector<PartialGrad> partialGrads(const std::vector<Descriptor> &descs, int64_t B,
                                        int64_t H) const;
  /// The GPU targets' backward on validated `descs`: the gradients the
  /// programs share written as per-(b, h) partials, then summed (on the
  /// host for cuda-emu, on the device for cuda).
  bool runBackwardPartials(std::vector<Descriptor> &descs, int64_t B, int64_t H,
                           std::string &error);
  /// Tensors for every output at (B, T, H), each in `alloc(bytes)`.
  std::vector<Tensor> outputTensors(int64_t B, int64_t T, int64_t H,
                                    const std::function<void *(size_t)> &alloc) const;
  /// Target cuda with the backward; else false with the reason.
  bool trainsOnDevice(std::string &error) const;
  bool backwardOnDevice(std::vector<Descriptor> &descs, int64_t B, int64_t H, void *stream,
                        std::string &error);
  /// `invokeSplit` on the cpu target; on cuda-emu one call, then the
  /// emulation's findings (races, barrier divergence) as the error.
  bool invoke(const std::string &entry, std::vector<Descriptor> &descs,
              const std::vector<Split> &how, const std::vector<size_t> &elemBytes, int64_t B,
              std::string &error);
  bool launch(int64_t B, int64_t H, std::vector<Descriptor> &descs, void *stream,
              std::string &error);
  struct CudaKernel;
  bool launchKernel(CudaKernel &k, int64_t B, int64_t H, std::vector<Descriptor> &descs,
                    void *stream, std::string &error);
  /// Loads `ptx`, the kernel of entry point `e`, mapping its parameters to
  /// that entry point's arguments by name.
  bool loadKernel(const std::string &ptx, mlir::ttt::EntryPoint e, CudaKernel &k,
                  std::string &error);
  /// The cuda target on host buffers: each descriptor's `bytes(i)` copied to
  /// device memory (those `in(i)`), `run` on device descriptors, then those
  /// `out(i)` copied back.
  bool withDeviceCopies(std::vector<Descriptor> &descs, const std::function<size_t(size_t)> &bytes,
                        const std::function<bool(size_t)> &in,
                        const std::function<bool(size_t)> &out,
                        const std::function<bool(std::vector<Descriptor> &)> &run,
                        std::string &error);
  /// Argument i of the descriptors `validate` builds (inputs, then outputs),
  /// and the bytes its descriptor `d` spans.
  const mlir::ttt::ArgInfo &argAt(size_t i) const;
  size_t bytesOf(const Descriptor &d, size_t i) const;
  /// The cuda target: the kernel with `blocks` column blocks (compiled on
  /// first use), and the count a launch of B x H programs uses.
  CudaKernel *cudaKernel(int64_t blocks, std::string &error);
  /// The cuda target with the backward or decode: compiles and loads the
  /// training forward's and the backward's kernels, or the resume kernel,
  /// and reads the chunk size.
  bool loadEntryKernels(std::string &error);
  int64_t columnBlocksFor(int64_t B, int64_t H);
  std::string ioTypeName = "f32", precisionName = "f32";
  int64_t lastBlocks = 0;
  /// Tokens per chunk step (the mini-batch, or exact-chunk for exact
  /// mini-batch-1 rules), as the lowering recorded it.
  int64_t chunk = 0;
  struct Impl;
  std::unique_ptr<Impl> impl;
  mlir::ttt::LayerSignature sig;
};

/// The reference interpreter behind CompiledLayer::runReference: inputs of
/// float32 elements, or float64 with `f64Inputs` (whatever the I/O type).
bool referenceRun(const std::string &source, const std::string &bufferName,
                  const mlir::ttt::LayerSignature &sig, const std::vector<Tensor> &inputs,
                  std::vector<std::vector<double>> &outputs, std::string &error,
                  bool f64Inputs = false);

/// The IR after `stage`, or "" with `error` set.
std::string emit(const std::string &source, const std::string &bufferName, Stage stage,
                 const mlir::ttt::PipelineOptions &options, std::string &error);

/// Ahead-of-time: an object file and a C header for the entry point.
bool compileToObject(const std::string &source, const std::string &bufferName,
                     const mlir::ttt::PipelineOptions &options, const std::string &objectPath,
                     const std::string &headerPath, std::string &error);

} // namespace tttc

#endif
