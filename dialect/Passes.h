//===- Passes.h - ttt passes and pipelines ----------------------*- C++ -*-===//
#ifndef TTTC_DIALECT_PASSES_H
#define TTTC_DIALECT_PASSES_H

#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassManager.h"

#include <string>

namespace mlir {
class DialectRegistry;
namespace func { class FuncDialect; }
namespace scf { class SCFDialect; }
namespace tensor { class TensorDialect; }
namespace arith { class ArithDialect; }
namespace linalg { class LinalgDialect; }
namespace math { class MathDialect; }
namespace gpu { class GPUDialect; }
namespace memref { class MemRefDialect; }
namespace bufferization { class BufferizationDialect; }
namespace affine { class AffineDialect; }
namespace LLVM { class LLVMDialect; }
namespace nvgpu { class NVGPUDialect; }
namespace NVVM { class NVVMDialect; }
namespace vector { class VectorDialect; }
class RewritePatternSet;
class TypeConverter;

namespace ttt {
#define GEN_PASS_DECL
#include "dialect/TTTPasses.h.inc"

#define GEN_PASS_REGISTRATION
#include "dialect/TTTPasses.h.inc"

/// Patterns lowering chunk-level ttt ops to linalg/tensor/arith/math.
void populateTTTToLinalgPatterns(RewritePatternSet &patterns);

/// Tokens per chunk step of exact mini-batch-1 rules (UT transform, or
/// state-independent gradients) unless chosen otherwise (bench/RESULTS.md:
/// on one CPU core 16 beats 64 and the sequential path).
constexpr int64_t kDefaultExactChunk = 16;

/// Options shared by the named pipelines.
struct PipelineOptions {
  int64_t headDim = 64;
  int64_t miniBatch = 0; // 0: the spec's own
  int64_t exactChunk = kDefaultExactChunk; // exact mini-batch-1 rules (1: sequential)
  std::string ioType = "f32"; // per-token inputs and readouts: f32, bf16, f16
  std::string libdevice;    // NVVM: libdevice bitcode to link (math functions)
  int64_t gpuThreads = 512; // threads per GPU program (<= 1: one-thread programs)
  /// Shared memory a GPU program may use (KB): the sm_90 opt-in maximum; the
  /// PTX pipeline lowers it to its architecture's (sharedKBForArch).
  int64_t gpuSharedKB = 227;
  bool emuCheckRaces = false; // cuda-emu: report unsynchronised shared accesses
  bool emuCountOps = false;   // cuda-emu: print the warp-ops each block runs
  bool emuCountPhases = false; // cuda-emu: and each barrier phase's (first block)
  bool gpuTensorCores = true; // f32 matmuls on tensor cores (3xTF32)
  int64_t gpuMmaChains = 1;    // independent accumulators per tensor-core tile
  /// Tensor-core operands: "tf32x3" (f32 accuracy), "tf32" (rounded to the
  /// nearest tf32, one product: ~1e-3 relative error) or "tf32-rz" (the
  /// top 19 bits as the tensor cores read them: no rounding instructions,
  /// larger and biased error).
  std::string gpuMmaPrecision = "tf32x3";
  int64_t gpuMmaNTiles = 0;    // adjacent m16n8 tiles per warp task (shared A fragments; 0: auto)
  int64_t gpuMinPrograms = 2;  // PTX: registers budgeted for this many blocks per SM
  // Shared memory per block (KB) that keeps gpuMinPrograms blocks on an SM
  // (buffers that fit apart within it share no bytes): 228 / 2 - 1 on
  // sm_90 (the default, also for cuda-emu), 164 / 2 - 1 on sm_80.
  int64_t gpuOccupancyKB = 113;
  bool gpuPackBuffers = false; // always pack shared buffers by live range
  // How a block's threads walk a step's points (ttt-distribute-to-threads
  // static-rounds, row-warps; ttt-thread-id-per-iteration): together they
  // take TTT-Linear's kernel (D=64, sm_90a) from 2048 to 1704 SASS
  // instructions and from 27 to 14 block barriers at 61 registers (10
  // with buffers apart, gpuOccupancyKB); each
  // alone costs registers (bench/RESULTS.md, session 5).
  bool gpuStaticRounds = true;    // loops over static point counts: static rounds
  bool gpuRowWarps = true;        // row-wise elementwise steps: a row per warp
  /// Tensor-core matmuls' warps round-robin. Off by default: emulated, it
  /// shortens TTT-Linear's critical path 5% (D=64), but ptxas then spills
  /// 8 bytes at the 64-register cap (for a GPU to time: bench variant rot1).
  bool gpuWarpRotate = false;
  /// Split-K for tensor-core matmuls with few tiles (idle warps take k
  /// steps; partial sums added after a barrier). Off by default.
  bool gpuMmaKSplit = false;
  bool gpuTidPerIteration = true; // PTX: thread id re-read in each chunk step
  /// The next chunk's inputs loaded during the current step, this many
  /// block barriers before its end (ttt-prefetch-next-chunk); 0: not.
  int64_t gpuPrefetch = 2;
  /// Chunk steps level-ordered so that chains share barriers
  /// (ttt-schedule-for-barriers): "alap", "asap" or "none".
  std::string gpuSchedule = "alap";
  /// Programs per (b, h) over column blocks of the state (ttt-column-blocks;
  /// 1: none). An error when the layer's state cannot be split.
  int64_t columnBlocks = 1;
  /// Testing only: a bug injected into the GPU mapping ("short-grid",
  /// "drop-barrier", "bad-fragment", "column-offset", "drop-fill").
  std::string gpuFault;
};

/// libdevice (CUDA's math library as bitcode, linked into kernels that call
/// math functions): $CUDA_HOME, $CUDA_PATH or /usr/local/cuda; "" if none.
std::string findLibdevice();
/// The dynamic shared memory one block may opt into on `arch` (KB).
int64_t sharedKBForArch(const std::string &arch);

/// spec -> after-autodiff: ttt-decompose, ttt-inner-autodiff.
void buildAutodiffPipeline(OpPassManager &pm);
/// ... -> chunked: + ttt-dual-form.
void buildChunkedPipeline(OpPassManager &pm, const PipelineOptions &opts);
/// ... -> linalg on tensors: + ttt-lower-layer-to-func, convert-ttt-to-linalg.
void buildLinalgPipeline(OpPassManager &pm, const PipelineOptions &opts);
/// linalg on tensors -> LLVM dialect (bufferization, loops, LLVM).
void buildLinalgToLLVMPipeline(OpPassManager &pm);
/// The whole CPU pipeline, spec -> LLVM dialect.
void buildCPUPipeline(OpPassManager &pm, const PipelineOptions &opts);
/// spec -> bufferized layer whose (batch, head) loops are a gpu.launch.
void buildGPUKernelPipeline(OpPassManager &pm, const PipelineOptions &opts);
/// ... -> the kernel IR emulated on the CPU (LLVM dialect).
void buildCUDAEmuPipeline(OpPassManager &pm, const PipelineOptions &opts);
/// ... -> outlined kernels compiled to PTX for `arch` (gpu.binary objects).
void buildPTXPipeline(OpPassManager &pm, const PipelineOptions &opts,
                      const std::string &arch);

/// Registers the ttt passes and the named pipelines (ttt-to-chunked,
/// ttt-to-linalg, ttt-cpu-pipeline).
void registerTTTPassesAndPipelines();
/// Registers every dialect and interface any tttc tool needs.
void registerTTTDialects(DialectRegistry &registry);
} // namespace ttt
} // namespace mlir

#endif
