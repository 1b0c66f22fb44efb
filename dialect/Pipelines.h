//===- Pipelines.h - the named pipelines and their one options type -*- C++ -*-===//
//
// The pipeline top to bottom (docs/architecture.md has one line per pass):
//
//   spec --ttt-decompose, ttt-inner-autodiff-->            after-autodiff
//        --ttt-dual-form-->                                chunked
//        --ttt-lower-layer-to-func, convert-ttt-to-linalg--> linalg
//        --CPU: bufferize, loops, LLVM-->                   llvm-dialect (JIT / object)
//        --GPU: ttt-map-to-gpu, ttt-distribute-to-threads, ...--> gpu-kernel
//              --PTX through NVVM | CPU emulation (cuda-emu)
//
// Every knob of every pipeline is one option of `PipelineOptions`, declared
// once below and parsed by MLIR's pass-option parser: `ttt-opt
// --ttt-gpu-kernel="gpu-threads=256 mma-n-tiles=auto"`, `tttc --target=cuda
// --mma-n-tiles=auto` (the same options as command-line flags) and the C
// API's `tttc_options.options` ("mma-n-tiles=auto") name them alike.
//
//===----------------------------------------------------------------------===//
#ifndef TTTC_DIALECT_PIPELINES_H
#define TTTC_DIALECT_PIPELINES_H

#include "mlir/Pass/PassOptions.h"

#include <string>

namespace mlir::ttt {
/// A count that may also be `auto` (chosen by the compiler or the runtime),
/// spelled as a number or "auto"; 0 stands for auto.
struct AutoInt {
  int64_t value = 0;
  AutoInt(int64_t v = 0) : value(v) {}
  operator int64_t() const { return value; }
  bool isAuto() const { return value == 0; }
};
llvm::raw_ostream &operator<<(llvm::raw_ostream &os, const AutoInt &v);
} // namespace mlir::ttt

namespace llvm::cl {
class OptionCategory;
/// Parses "auto" or an integer (options of type mlir::ttt::AutoInt).
template <>
class parser<mlir::ttt::AutoInt> final : public basic_parser<mlir::ttt::AutoInt> {
public:
  parser(Option &o) : basic_parser(o) {}
  bool parse(Option &o, StringRef argName, StringRef arg, mlir::ttt::AutoInt &v);
  StringRef getValueName() const override { return "N|auto"; }
  void printOptionDiff(const Option &o, mlir::ttt::AutoInt v,
                       OptionValue<mlir::ttt::AutoInt> def, size_t globalWidth) const;
  void anchor() override;
};
} // namespace llvm::cl

namespace mlir {
class DialectRegistry;
class OpPassManager;

namespace ttt {

/// Tokens per chunk step of exact mini-batch-1 rules (UT transform, or
/// state-independent gradients) unless chosen otherwise (bench/RESULTS.md:
/// on one CPU core 16 beats 64 and the sequential path).
constexpr int64_t kDefaultExactChunk = 16;

/// Where a compiled layer runs.
enum class Target { CPU, CUDA, CUDAEmu };
/// Tensor-core operands of f32 matmuls.
enum class MmaPrecision { TF32x3, TF32, TF32RZ };
/// The order of a chunk step's ops for barriers (ttt-schedule-for-barriers).
enum class Schedule { ALAP, ASAP, None };
/// Testing only: a known bug injected into the GPU mapping, which the
/// emulation's checks must catch.
enum class Fault {
  None, ShortGrid, DropBarrier, BadFragment, ColumnOffset, DropFill, DropWarpSync,
  StalePrefetch
};
/// Element type of the per-token inputs and readouts in memory.
enum class IODType { F32, BF16, F16 };

/// Every option of every named pipeline (one struct: the pipelines share
/// them; a pipeline ignores what does not concern it, e.g. `arch` but for
/// PTX).
struct PipelineOptions : public PassPipelineOptions<PipelineOptions> {
  // --- The layer: shapes and types.
  Option<int64_t> headDim{*this, "head-dim", llvm::cl::desc("head dimension D"),
                          llvm::cl::init(64)};
  Option<int64_t> miniBatch{*this, "mini-batch",
                            llvm::cl::desc("mini-batch size C (0: the spec's own)"),
                            llvm::cl::init(0)};
  Option<int64_t> exactChunk{
      *this, "exact-chunk",
      llvm::cl::desc("tokens per chunk step of exact mini-batch-1 rules (1: the sequential "
                     "path, one token per step)"),
      llvm::cl::init(kDefaultExactChunk)};
  Option<IODType> ioDType{
      *this, "io-dtype",
      llvm::cl::desc("per-token inputs and readouts in memory (states, parameters and "
                     "arithmetic stay f32)"),
      llvm::cl::init(IODType::F32),
      llvm::cl::values(clEnumValN(IODType::F32, "f32", "float32"),
                       clEnumValN(IODType::BF16, "bf16", "bfloat16"),
                       clEnumValN(IODType::F16, "f16", "float16"))};
  Option<AutoInt> columnBlocks{
      *this, "column-blocks",
      llvm::cl::desc("programs per (batch, head), each owning D/N columns of the state "
                     "(for small B*H; an error where the state's columns are reduced "
                     "over); auto (target cuda, the default there): chosen per launch"),
      llvm::cl::init(1)};

  Option<bool> backward{
      *this, "backward",
      llvm::cl::desc("also derive the outer-loop backward: ttt-chunk-backward, then a "
                     "<layer>_backward entry point beside the forward (every target)"),
      llvm::cl::init(false)};
  Option<int64_t> backwardCheckpoint{
      *this, "backward-checkpoint",
      llvm::cl::desc("the backward's memory strategy: the chunk-start states stored every N "
                     "chunks (1: every chunk, O(T/C) states per program); others recomputed "
                     "(O(T/(C N) + N) states, one more forward of each chunk)"),
      llvm::cl::init(1)};
  Option<bool> decode{
      *this, "decode",
      llvm::cl::desc("also emit <layer>_resume (the forward from given values of every "
                     "state), which token-by-token decoding advances its state with "
                     "(every target; tttc run: decode the sequence too and compare with "
                     "the forward)"),
      llvm::cl::init(false)};

  // --- Where it runs.
  Option<Target> target{
      *this, "target", llvm::cl::desc("where the layer runs (tttc and the C API)"),
      llvm::cl::init(Target::CPU),
      llvm::cl::values(
          clEnumValN(Target::CPU, "cpu", "this machine's CPU (JIT or object file)"),
          clEnumValN(Target::CUDA, "cuda", "a GPU through the CUDA driver (PTX)"),
          clEnumValN(Target::CUDAEmu, "cuda-emu",
                     "the GPU kernel IR, emulated on the CPU (checks, no GPU needed)"))};
  Option<int64_t> cpuThreads{
      *this, "cpu-threads",
      llvm::cl::desc("target cpu: threads a run (forward or backward) splits its batch rows "
                     "over (0: one per core, at most B)"),
      llvm::cl::init(0)};
  Option<std::string> arch{*this, "arch",
                           llvm::cl::desc("GPU architecture of the PTX: sm_80, sm_90, sm_90a"),
                           llvm::cl::init("sm_80")};

  // --- The GPU mapping (ttt-distribute-to-threads and around it).
  Option<int64_t> gpuThreads{*this, "gpu-threads",
                             llvm::cl::desc("threads per GPU program (1: one-thread programs)"),
                             llvm::cl::init(512)};
  Option<bool> tensorCores{*this, "tensor-cores",
                           llvm::cl::desc("f32 matmuls on tensor cores (mma.sync)"),
                           llvm::cl::init(true)};
  Option<int64_t> mmaChains{
      *this, "mma-chains",
      llvm::cl::desc("independent accumulators per tensor-core tile: 1, 2 or 3"),
      llvm::cl::init(1)};
  Option<MmaPrecision> mmaPrecision{
      *this, "mma-precision", llvm::cl::desc("tensor-core operands"),
      llvm::cl::init(MmaPrecision::TF32x3),
      llvm::cl::values(
          clEnumValN(MmaPrecision::TF32x3, "tf32x3", "f32 accuracy from three products"),
          clEnumValN(MmaPrecision::TF32, "tf32",
                     "one product of operands rounded to tf32 (~1e-3 relative error)"),
          clEnumValN(MmaPrecision::TF32RZ, "tf32-rz",
                     "one product of the top 19 bits, as the tensor cores read them "
                     "(larger, biased error)"))};
  Option<AutoInt> mmaNTiles{
      *this, "mma-n-tiles",
      llvm::cl::desc("adjacent m16n8 tensor-core tiles per warp task, sharing A fragments "
                     "(1-8, or auto: per matmul the most, up to 4, that leave every warp a "
                     "task)"),
      llvm::cl::init(0)};
  Option<bool> warpRotate{
      *this, "warp-rotate",
      llvm::cl::desc("tensor-core matmuls' tasks start at the warp after the previous one's"),
      llvm::cl::init(false)};
  Option<bool> mmaKSplit{
      *this, "mma-k-split",
      llvm::cl::desc("split-K: tensor-core matmuls with few tiles spread their k steps "
                     "over idle warps"),
      llvm::cl::init(false)};
  Option<bool> staticRounds{
      *this, "static-rounds",
      llvm::cl::desc("loops over static point counts run static rounds (else strided)"),
      llvm::cl::init(true)};
  Option<bool> rowWarps{*this, "row-warps",
                        llvm::cl::desc("row-wise elementwise steps a row per warp"),
                        llvm::cl::init(true)};
  Option<bool> packBuffers{
      *this, "pack-buffers",
      llvm::cl::desc("always pack shared buffers by live range (else apart where "
                     "min-programs programs per SM still fit)"),
      llvm::cl::init(false)};
  Option<Schedule> schedule{
      *this, "schedule", llvm::cl::desc("chunk-step order for barriers"),
      llvm::cl::init(Schedule::ALAP),
      llvm::cl::values(clEnumValN(Schedule::ALAP, "alap", "as late as possible"),
                       clEnumValN(Schedule::ASAP, "asap", "as soon as possible"),
                       clEnumValN(Schedule::None, "none", "program order"))};
  Option<int64_t> prefetch{
      *this, "prefetch",
      llvm::cl::desc("the next chunk's inputs loaded this many block barriers before a "
                     "step's end (0: each step loads its own)"),
      llvm::cl::init(2)};

  // --- PTX.
  Option<int64_t> minPrograms{
      *this, "min-programs",
      llvm::cl::desc("registers budgeted for this many programs per SM (1: no budget)"),
      llvm::cl::init(2)};
  Option<bool> tidPerChunk{
      *this, "tid-per-chunk",
      llvm::cl::desc("the thread id re-read in each chunk step (LLVM hoists nothing that "
                     "depends on it)"),
      llvm::cl::init(true)};

  // --- cuda-emu.
  Option<bool> checkRaces{
      *this, "check-races",
      llvm::cl::desc("cuda-emu: report conflicting accesses (threads of a block between "
                     "barriers, blocks writing what others touch)"),
      llvm::cl::init(false)};
  Option<bool> countOps{
      *this, "count-ops",
      llvm::cl::desc("cuda-emu: print per launch the IR ops a block's warps run"),
      llvm::cl::init(false)};
  Option<bool> countPhases{
      *this, "count-phases",
      llvm::cl::desc("cuda-emu: with count-ops, each barrier phase of the first block too"),
      llvm::cl::init(false)};
  Option<Fault> fault{
      *this, "fault", llvm::cl::desc("testing only: a bug injected into the GPU mapping"),
      llvm::cl::init(Fault::None),
      llvm::cl::values(clEnumValN(Fault::None, "none", "none"),
                       clEnumValN(Fault::ShortGrid, "short-grid", "a grid too small"),
                       clEnumValN(Fault::DropBarrier, "drop-barrier", "a barrier dropped"),
                       clEnumValN(Fault::BadFragment, "bad-fragment",
                                  "a tensor-core fragment misindexed"),
                       clEnumValN(Fault::ColumnOffset, "column-offset",
                                  "a column block's offset wrong"),
                       clEnumValN(Fault::DropFill, "drop-fill", "a fill dropped"),
                       clEnumValN(Fault::DropWarpSync, "drop-warp-sync",
                                  "a warp barrier dropped"),
                       clEnumValN(Fault::StalePrefetch, "stale-prefetch",
                                  "a prefetch past its buffer's last read"))};

  // --- Derived, not options: set by the pipelines and the runtime.
  /// NVVM: libdevice bitcode to link (math functions); "" none.
  std::string libdevice;
  /// Shared memory a GPU program may use (KB): the sm_90 opt-in maximum; the
  /// PTX pipeline lowers it to its architecture's (sharedKBForArch).
  int64_t gpuSharedKB = 227;
  /// Shared memory per block (KB) that keeps min-programs blocks on an SM
  /// (228 / 2 - 1 on sm_90, the default, also for cuda-emu).
  int64_t gpuOccupancyKB = 113;

  PipelineOptions() = default;
  PipelineOptions(const PipelineOptions &other) : PipelineOptions() { *this = other; }
  PipelineOptions &operator=(const PipelineOptions &other);

  /// Whether a GPU target (cuda, cuda-emu) was chosen.
  bool gpu() const { return target != Target::CPU; }
  /// How an enum option spells its value ("cuda-emu", "tf32x3", ...).
  template <typename E>
  static llvm::StringRef spelling(const Option<E> &o) {
    return *const_cast<Option<E> &>(o).getParser().findArgStrForValue(o.getValue());
  }
  /// The operands of the layer's matmuls: f32, or on tensor cores (GPU
  /// targets with distributed programs) the mma-precision.
  llvm::StringRef matmulPrecision() const;

  /// Checks what the option parser cannot (ranges, combinations); false
  /// with `error` set.
  bool verify(std::string &error) const;
  /// Parses `text` ("key=value key ..."); false with `error` naming the
  /// first option that is unknown or has a bad value.
  bool parse(llvm::StringRef text, std::string &error);
  /// Every option as `key=value`, space-separated (what `parse` reads).
  std::string str() const;
  /// The options given on the command line (registerAsCommandLine), as
  /// `key=value` text.
  std::string givenStr() const;
  /// Registers these options as command-line flags of the program too
  /// (`--head-dim=64 --mma-n-tiles=auto`, in `category`), so that a driver
  /// parses them with llvm::cl; undone by the destructor.
  void registerAsCommandLine(llvm::cl::OptionCategory &category);
  ~PipelineOptions();

private:
  bool onCommandLine = false;
};

/// The deprecated target strings, "cuda-emu:check-races,threads=64" (the
/// target, then its options after a colon, comma-separated; some spelled
/// as they were before they became pipeline options): into `o`, with a
/// deprecation warning in `note`. False with `error` set when malformed.
bool parseDeprecatedTarget(llvm::StringRef t, PipelineOptions &o, std::string &error,
                           std::string &note);
/// A deprecated target string as pipeline options: "target=KIND KEY=VALUE ...".
std::string deprecatedTargetWords(llvm::StringRef t);

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
/// ... -> outlined kernels compiled to PTX for `opts.arch` (gpu.binary objects).
void buildPTXPipeline(OpPassManager &pm, const PipelineOptions &opts);

/// Registers the ttt passes (dialect/Passes.h, dialect/GPU/Passes.h) and the
/// named pipelines (ttt-to-autodiff ... ttt-ptx-pipeline).
void registerTTTPassesAndPipelines();
} // namespace ttt
} // namespace mlir

#endif
