//===- Pipelines.cpp - named pipelines and the one registration function --===//

#include "dialect/GPU/Passes.h"
#include "dialect/Pipelines.h"
#include "dialect/TTTOps.h"

#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Bufferization/Pipelines/Passes.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Conversion/Passes.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"
#include "mlir/Transforms/Passes.h"

#include <cstdlib>
#include <fstream>
#include <limits>

using namespace mlir;
using namespace mlir::ttt;

namespace {
/// The fault spelling for a pass that injects one of `which`; "" otherwise.
std::string faultFor(const PipelineOptions &o, std::initializer_list<Fault> which) {
  return llvm::is_contained(which, o.fault.getValue()) ? PipelineOptions::spelling(o.fault).str()
                                                       : "";
}
} // namespace

void ttt::buildAutodiffPipeline(OpPassManager &pm) {
  pm.addPass(ttt::createTTTDecompose());
  pm.addPass(ttt::createTTTInnerAutodiff());
}

void ttt::buildChunkedPipeline(OpPassManager &pm, const PipelineOptions &opts) {
  buildAutodiffPipeline(pm);
  ttt::TTTDualFormOptions o;
  o.headDim = opts.headDim;
  o.miniBatch = opts.miniBatch;
  o.exactChunk = opts.exactChunk;
  pm.addPass(ttt::createTTTDualForm(o));
  pm.addPass(createCSEPass());
  if (opts.backward) {
    pm.addPass(ttt::createTTTChunkBackward());
    pm.addPass(createCSEPass());
  }
}

void ttt::buildLinalgPipeline(OpPassManager &pm, const PipelineOptions &opts) {
  buildChunkedPipeline(pm, opts);
  ttt::TTTLowerLayerToFuncOptions lo;
  lo.ioType = PipelineOptions::spelling(opts.ioDType).str();
  lo.checkpointEvery = opts.backwardCheckpoint;
  lo.resume = opts.decode;
  // GPU kernels: no two programs write one gradient element.
  lo.partialSums = opts.backward && opts.gpu();
  pm.addPass(ttt::createTTTLowerLayerToFunc(lo));
  pm.addPass(ttt::createConvertTTTToLinalg());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  if (opts.columnBlocks.getValue() != 1) {
    ttt::TTTColumnBlocksOptions cb;
    cb.blocks = opts.columnBlocks.getValue();
    cb.fault = faultFor(opts, {Fault::ColumnOffset});
    pm.addPass(ttt::createTTTColumnBlocks(cb));
    pm.addPass(createCanonicalizerPass());
  }
}

namespace {
/// `statesInPlace`: next states computed into the carried buffers (GPU
/// kernels, whose states live in shared memory). On the CPU it made
/// Infini-attention 1.6x slower (0.98 -> 1.7 ms at B=2 T=256 H=2, the other
/// examples within noise; bench/RESULTS.md, session 6). Mostly aliasing: the
/// updates then write through the entry's pointer arguments, which LLVM
/// must assume overlap the inputs; with every pointer argument marked
/// llvm.noalias (the API refuses overlapping outputs) in-place ran 0.87-0.96
/// ms against 0.83-0.84 with the copy (session 7, by hand; noalias alone
/// changed none of the nine examples). No gain, so the CPU keeps a buffer
/// per state and a copy per chunk.
void addBufferize(OpPassManager &pm, bool statesInPlace) {
  pm.addPass(ttt::createTTTFoldMatmulAccumulate());
  pm.addPass(ttt::createTTTFuseElementwise());
  pm.addPass(ttt::createTTTMatmulLoopOrder());
  ttt::TTTBufferizeOptions bo;
  bo.statesInPlace = statesInPlace;
  pm.addPass(ttt::createTTTBufferize(bo));
  pm.addPass(ttt::createTTTForwardFills());
  pm.addPass(createCanonicalizerPass());
}

/// Chunk-sized buffers: allocated once per program, outside the chunk loop,
/// on the stack when of static shape and at most `maxBytes` (in a GPU kernel
/// every one: thread-local memory, or shared memory and scratch once
/// ttt-distribute-to-threads has placed them).
void addStackBuffers(OpPassManager &pm, int64_t maxBytes = 256 * 1024) {
  pm.addNestedPass<func::FuncOp>(bufferization::createBufferHoistingPass());
  pm.addNestedPass<func::FuncOp>(bufferization::createBufferLoopHoistingPass());
  pm.addNestedPass<func::FuncOp>(bufferization::createPromoteBuffersToStackPass(
      [maxBytes](Value alloc) {
        auto t = cast<MemRefType>(alloc.getType());
        return t.hasStaticShape() &&
               t.getNumElements() * ((t.getElementTypeBitWidth() + 7) / 8) <= maxBytes;
      }));
}

void addLoopsToLLVM(OpPassManager &pm) {
  bufferization::BufferDeallocationPipelineOptions dopts;
  bufferization::buildBufferDeallocationPipeline(pm, dopts);
  // Clones the deallocation inserts where a function returns a buffer it
  // does not own (the backward's out-of-line chunk functions).
  pm.addPass(createConvertBufferizationToMemRefPass());
  pm.addPass(createConvertLinalgToLoopsPass());
  pm.addPass(createSCFToControlFlowPass());
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());
  // n-D vectors (tensor-core fragments in emulated kernels) as LLVM arrays.
  pm.addPass(createConvertVectorToLLVMPass());
  pm.addPass(createConvertToLLVMPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
  pm.addPass(createCanonicalizerPass());
}
} // namespace

void ttt::buildLinalgToLLVMPipeline(OpPassManager &pm) {
  addBufferize(pm, /*statesInPlace=*/false);
  addStackBuffers(pm);
  addLoopsToLLVM(pm);
}

void ttt::buildGPUKernelPipeline(OpPassManager &pm, const PipelineOptions &opts) {
  buildLinalgPipeline(pm, opts);
  // A kernel is one function: the backward's out-of-line chunk functions
  // inlined.
  if (opts.backward)
    pm.addPass(createInlinerPass());
  addBufferize(pm, /*statesInPlace=*/true);
  ttt::TTTMapToGPUOptions mo;
  mo.fault = faultFor(opts, {Fault::ShortGrid});
  pm.addPass(ttt::createTTTMapToGPU(mo));
  // Every static buffer of a kernel: none may stay a heap allocation (a
  // device malloc per program); ttt-check-gpu-local-memory bounds what
  // one-thread programs hold.
  addStackBuffers(pm, std::numeric_limits<int64_t>::max());
  if (opts.gpuThreads > 1) {
    if (opts.schedule != Schedule::None) {
      ttt::TTTScheduleForBarriersOptions so;
      so.order = PipelineOptions::spelling(opts.schedule).str();
      pm.addPass(ttt::createTTTScheduleForBarriers(so));
    }
    ttt::TTTDistributeToThreadsOptions d;
    d.threads = opts.gpuThreads;
    d.sharedKB = opts.gpuSharedKB;
    d.tensorCores = opts.tensorCores;
    d.mmaChains = opts.mmaChains;
    d.mmaPrecision = PipelineOptions::spelling(opts.mmaPrecision).str();
    d.mmaNTiles = opts.mmaNTiles.getValue();
    d.staticRounds = opts.staticRounds;
    d.rowWarps = opts.rowWarps;
    d.warpRotate = opts.warpRotate;
    d.mmaKSplit = opts.mmaKSplit;
    d.occupancyKB = opts.packBuffers ? 0 : opts.gpuOccupancyKB;
    d.fault = faultFor(opts, {Fault::DropBarrier, Fault::BadFragment, Fault::DropFill,
                              Fault::DropWarpSync});
    pm.addPass(ttt::createTTTDistributeToThreads(d));
    pm.addPass(createCanonicalizerPass());
    // The thread-index arithmetic each distributed step repeats (lane and
    // warp of the thread id...) computed once per block.
    pm.addPass(createCSEPass());
    if (opts.prefetch > 0) {
      ttt::TTTPrefetchNextChunkOptions pf;
      pf.ahead = opts.prefetch;
      pf.fault = faultFor(opts, {Fault::StalePrefetch});
      pm.addPass(ttt::createTTTPrefetchNextChunk(pf));
      pm.addPass(createCanonicalizerPass());
    }
  }
  pm.addPass(ttt::createTTTContractFloatOps());
  pm.addPass(ttt::createTTTCheckGPULocalMemory());
}

void ttt::buildCUDAEmuPipeline(OpPassManager &pm, const PipelineOptions &opts) {
  buildGPUKernelPipeline(pm, opts);
  ttt::TTTEmulateGPUOptions e;
  e.checkRaces = opts.checkRaces;
  e.countOps = opts.countOps || opts.countPhases;
  e.countPhases = opts.countPhases;
  pm.addPass(ttt::createTTTEmulateGPU(e));
  addLoopsToLLVM(pm);
}

std::string ttt::findLibdevice() {
  const char *roots[] = {std::getenv("CUDA_HOME"), std::getenv("CUDA_PATH"), "/usr/local/cuda"};
  for (const char *root : roots) {
    if (!root)
      continue;
    std::string p = std::string(root) + "/nvvm/libdevice/libdevice.10.bc";
    if (std::ifstream(p))
      return p;
  }
  return "";
}

namespace {
/// Shared memory (KB) of an architecture: the most one block may have (opt
/// in) and one SM's (CUDA C Programming Guide, "Technical Specifications per
/// Compute Capability"; the occupancy calculator).
struct ArchSharedKB {
  int64_t perBlock, perSM;
};
ArchSharedKB archSharedKB(const std::string &arch) {
  if (arch.rfind("sm_90", 0) == 0 || arch.rfind("sm_10", 0) == 0)
    return {227, 228};
  if (arch == "sm_80" || arch == "sm_87")
    return {163, 164};
  if (arch == "sm_86" || arch == "sm_89" || arch.rfind("sm_12", 0) == 0)
    return {99, 100};
  return {48, 64};
}
} // namespace

int64_t ttt::sharedKBForArch(const std::string &arch) { return archSharedKB(arch).perBlock; }


void ttt::buildPTXPipeline(OpPassManager &pm, const PipelineOptions &opts) {
  const std::string &arch = opts.arch;
  PipelineOptions kernelOpts = opts;
  kernelOpts.gpuSharedKB = std::min(opts.gpuSharedKB, sharedKBForArch(arch));
  kernelOpts.gpuOccupancyKB =
      std::max<int64_t>(0, archSharedKB(arch).perSM / std::max<int64_t>(opts.minPrograms, 1) - 1);
  buildGPUKernelPipeline(pm, kernelOpts);
  pm.addPass(createConvertLinalgToLoopsPass());
  // Constants hoisted out of the launch by folding go back in: the kernel's
  // parameters are the layer's buffers alone.
  pm.addPass(createGpuLaunchSinkIndexComputationsPass());
  pm.addPass(createGpuKernelOutliningPass());
  ttt::TTTOccupancyHintOptions occ;
  occ.programs = opts.minPrograms;
  occ.sharedKBPerSM = archSharedKB(arch).perSM;
  pm.addPass(ttt::createTTTOccupancyHint(occ));
  if (opts.tidPerChunk)
    pm.addPass(ttt::createTTTThreadIdPerIteration());
  GpuNVVMAttachTargetOptions t;
  t.chip = arch;
  t.features = "+ptx80";
  t.optLevel = 3;
  if (!opts.libdevice.empty())
    t.linkLibs.push_back(opts.libdevice);
  pm.addPass(createGpuNVVMAttachTarget(t));
  OpPassManager &dev = pm.nest<gpu::GPUModuleOp>();
  dev.addPass(createSCFToControlFlowPass());
  dev.addPass(memref::createExpandStridedMetadataPass());
  dev.addPass(createLowerAffinePass());
  dev.addPass(createConvertNVGPUToNVVMPass());
  dev.addPass(createConvertVectorToLLVMPass());
  ConvertGpuOpsToNVVMOpsOptions nvvm;
  nvvm.indexBitwidth = 64;
  dev.addPass(createConvertGpuOpsToNVVMOps(nvvm));
  dev.addPass(createCanonicalizerPass());
  dev.addPass(createCSEPass());
  dev.addPass(createReconcileUnrealizedCastsPass());
  // After the nested device passes (the adaptor above runs them first).
  pm.addPass(ttt::createTTTExternDynamicSharedMemory());
  GpuModuleToBinaryPassOptions bin;
  bin.compilationTarget = "isa";
  pm.addPass(createGpuModuleToBinaryPass(bin));
}

void ttt::buildCPUPipeline(OpPassManager &pm, const PipelineOptions &opts) {
  buildLinalgPipeline(pm, opts);
  buildLinalgToLLVMPipeline(pm);
}

void ttt::registerTTTPassesAndPipelines() {
  registerTTTPasses();
  registerTTTGPUPasses();
  PassPipelineRegistration<>("ttt-to-autodiff",
                             "spec -> inlined, decomposed, differentiated",
                             [](OpPassManager &pm) { buildAutodiffPipeline(pm); });
  PassPipelineRegistration<PipelineOptions>(
      "ttt-to-chunked", "spec -> mini-batch dual form (ttt.chunk_step)",
      [](OpPassManager &pm, const PipelineOptions &o) {
        buildChunkedPipeline(pm, o);
      });
  PassPipelineRegistration<PipelineOptions>(
      "ttt-to-linalg", "spec -> func + scf loops + linalg on tensors",
      [](OpPassManager &pm, const PipelineOptions &o) {
        buildLinalgPipeline(pm, o);
      });
  PassPipelineRegistration<>("ttt-linalg-to-llvm",
                             "linalg on tensors -> LLVM dialect (CPU)",
                             [](OpPassManager &pm) { buildLinalgToLLVMPipeline(pm); });
  PassPipelineRegistration<PipelineOptions>(
      "ttt-cuda-emu-pipeline", "spec -> GPU-mapped kernel IR -> CPU emulation (LLVM dialect)",
      [](OpPassManager &pm, const PipelineOptions &o) {
        buildCUDAEmuPipeline(pm, o);
      });
  PassPipelineRegistration<PipelineOptions>(
      "ttt-ptx-pipeline", "spec -> host function + gpu.binary with the kernel's PTX",
      [](OpPassManager &pm, const PipelineOptions &o) {
        ttt::PipelineOptions p = o;
        p.libdevice = ttt::findLibdevice();
        buildPTXPipeline(pm, p);
      });
  PassPipelineRegistration<PipelineOptions>(
      "ttt-gpu-kernel", "spec -> bufferized layer with its (b, h) grid as a gpu.launch",
      [](OpPassManager &pm, const PipelineOptions &o) {
        buildGPUKernelPipeline(pm, o);
      });
  PassPipelineRegistration<PipelineOptions>(
      "ttt-cpu-pipeline", "spec -> LLVM dialect for the CPU",
      [](OpPassManager &pm, const PipelineOptions &o) {
        buildCPUPipeline(pm, o);
      });
}

void ttt::registerTTTDialects(DialectRegistry &registry) {
  registry.insert<ttt::TTTDialect>();
  registerAllDialects(registry);
  registerAllExtensions(registry);
  // LLVM IR translations of every dialect, the GPU and NVVM ones included
  // (kernels are translated when serialized to PTX).
  registerAllToLLVMIRTranslations(registry);
  registerPluginDialects(registry);
}
