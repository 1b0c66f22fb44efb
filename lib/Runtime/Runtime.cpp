//===- Runtime.cpp - compile a layer spec, JIT it, run it -----------------===//

#include "Runtime.h"
#include "EmuRuntime.h"
#include "tttc/tttc_cuda.h"

#include "dialect/Passes.h"
#include "dialect/Signature.h"
#include "dialect/TTTOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/ExecutionEngine/ExecutionEngine.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <map>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>

using namespace mlir;
using namespace mlir::ttt;

namespace tttc {

bool parseStage(const std::string &n, Stage &s) {
  static const std::pair<const char *, Stage> table[] = {
      {"spec", Stage::Spec},           {"after-autodiff", Stage::AfterAutodiff},
      {"chunked", Stage::Chunked},     {"linalg", Stage::Linalg},
      {"gpu-kernel", Stage::GPUKernel},     {"llvm-dialect", Stage::LLVMDialect},
      {"llvm-ir", Stage::LLVMIR},          {"ptx", Stage::PTX}};
  for (auto &[name, st] : table)
    if (n == name) {
      s = st;
      return true;
    }
  return false;
}

/// "cpu[:column-blocks=N]", "cuda[:OPTION,...]" or "cuda-emu[:OPTION,...]" with OPTION
/// one of column-blocks=N (programs per (b, h) over blocks of the state's
/// columns; an error where the layer does not allow it; cuda's default,
/// "auto", picks N per launch), threads=N
/// (threads per program; 1: one-thread programs), schedule=alap|asap|none
/// (the chunk step's order for barriers), check-races (report
/// shared-memory accesses of two threads between barriers), tensor-cores=0|1
/// (matmuls on tensor cores, default 1), mma-chains=1|2|3 (independent
/// accumulators per tensor-core tile, default 1), precision=tf32x3|tf32|
/// tf32-rz (tensor-core operands: f32 accuracy from three products, default;
/// one product of operands rounded to tf32; or of their top 19 bits as the
/// tensor cores read them), mma-n-tiles=R|auto (adjacent tensor-core tiles
/// a warp computes together, sharing A fragments; default auto: per matmul,
/// the most, up to 4, that leave every warp a task), warp-rotate=0|1
/// (tensor-core matmuls' tasks start after the previous matmul's warps,
/// default 0), k-split=0|1 (split-K over idle warps for tensor-core matmuls
/// with few tiles, default 0), prefetch=N (the next chunk's inputs loaded N
/// block barriers before the end of a chunk step, default 2; 0: each step
/// loads its own), row-warps=0|1 (row-wise
/// elementwise steps a row per warp, warp barriers between them, default
/// 1), rounds=static|strided (distributed loops, default static),
/// tid-per-chunk=0|1 (PTX: the thread id re-read in each chunk step, so
/// that LLVM does not hoist what depends on it, default 1), buffers=apart|
/// packed (shared buffers share no bytes where they fit apart within the
/// occupancy budget, default; or always pack them by live range),
/// min-programs=N (PTX: registers
/// budgeted for N blocks per SM where they fit, default 2; 1: no budget),
/// and, for tests only,
/// fault=short-grid|drop-barrier|bad-fragment|column-offset|drop-fill|
/// drop-warp-sync|stale-prefetch (a known mapping bug the emulation must
/// catch).
namespace {
/// An integer option `NAME=N` of target `t` with N in [lo, hi] into `out`:
/// false (and no error) when `opt` is another option, false with `error`
/// set when N is not such an integer.
bool intOption(const std::string &t, const std::string &opt, const std::string &name,
               int64_t lo, int64_t hi, int64_t &out, std::string &error) {
  if (opt.rfind(name + "=", 0) != 0)
    return false;
  const char *v = opt.c_str() + name.size() + 1;
  char *end = nullptr;
  long long n = std::strtoll(v, &end, 10);
  if (!*v || *end || n < lo || n > hi) {
    error = "target '" + t + "': " + name + " must be an integer in [" + std::to_string(lo) +
            ", " + std::to_string(hi) + "]";
    return false;
  }
  out = n;
  return true;
}
} // namespace

bool parseTarget(const std::string &t, PipelineOptions &o, std::string &error) {
  if (t == "cpu")
    return true;
  size_t colon = t.find(':');
  std::string kind = t.substr(0, colon);
  if (kind != "cuda" && kind != "cuda-emu" && kind != "cpu") {
    error = "unknown target '" + t + "' (expected cpu, cuda[:options] or cuda-emu[:options])";
    return false;
  }
  std::stringstream opts(colon == std::string::npos ? "" : t.substr(colon + 1));
  std::string opt;
  while (std::getline(opts, opt, ',')) {
    if (opt == "column-blocks=auto" && kind == "cuda")
      continue; // chosen per launch (CompiledLayer)
    if (opt == "mma-n-tiles=auto") {
      o.gpuMmaNTiles = 0; // chosen per matmul (ttt-distribute-to-threads)
      continue;
    }
    std::string bad; // an integer option's error
    if (intOption(t, opt, "column-blocks", 1, 1024, o.columnBlocks, bad))
      continue;
    if (!bad.empty()) {
      error = bad;
      return false;
    }
    if (kind == "cpu") {
      error = "target '" + t + "': unknown option '" + opt +
              "' (the cpu target takes column-blocks=N)";
      return false;
    }
    if (opt == "check-races" && kind == "cuda") {
      error = "target '" + t + "': check-races is an option of cuda-emu";
      return false;
    } else if (opt.rfind("fault=", 0) == 0 && kind == "cuda") {
      error = "target '" + t + "': faults are injected only into cuda-emu";
      return false;
    } else if (opt == "check-races") {
      o.emuCheckRaces = true;
    } else if (opt == "count-ops" && kind == "cuda-emu") {
      o.emuCountOps = true;
    } else if (opt == "count-ops=phases" && kind == "cuda-emu") {
      o.emuCountOps = o.emuCountPhases = true;
    } else if (opt == "schedule=alap" || opt == "schedule=asap" || opt == "schedule=none") {
      o.gpuSchedule = opt.substr(9);
    } else if (opt == "tensor-cores=0" || opt == "tensor-cores=1") {
      o.gpuTensorCores = opt.back() == '1';
    } else if (opt == "tid-per-chunk=0" || opt == "tid-per-chunk=1") {
      o.gpuTidPerIteration = opt.back() == '1';
    } else if (intOption(t, opt, "mma-n-tiles", 1, 8, o.gpuMmaNTiles, bad) ||
               intOption(t, opt, "prefetch", 0, 64, o.gpuPrefetch, bad) ||
               intOption(t, opt, "min-programs", 1, 32, o.gpuMinPrograms, bad) ||
               intOption(t, opt, "threads", 1, 1024, o.gpuThreads, bad)) {
      continue;
    } else if (!bad.empty()) {
      error = bad;
      return false;
    } else if (opt == "row-warps=0" || opt == "row-warps=1") {
      o.gpuRowWarps = opt.back() == '1';
    } else if (opt == "warp-rotate=0" || opt == "warp-rotate=1") {
      o.gpuWarpRotate = opt.back() == '1';
    } else if (opt == "k-split=0" || opt == "k-split=1") {
      o.gpuMmaKSplit = opt.back() == '1';
    } else if (opt == "buffers=apart" || opt == "buffers=packed") {
      o.gpuPackBuffers = opt == "buffers=packed";
    } else if (opt == "rounds=static" || opt == "rounds=strided") {
      o.gpuStaticRounds = opt == "rounds=static";
    } else if (opt.rfind("mma-chains=", 0) == 0) {
      if (opt != "mma-chains=1" && opt != "mma-chains=2" && opt != "mma-chains=3") {
        error = "target '" + t + "': mma-chains must be 1, 2 or 3";
        return false;
      }
      o.gpuMmaChains = opt.back() - '0';
    } else if (opt == "precision=tf32x3" || opt == "precision=tf32" ||
               opt == "precision=tf32-rz") {
      o.gpuMmaPrecision = opt.substr(10);
    } else if (opt == "fault=short-grid" || opt == "fault=drop-barrier" ||
               opt == "fault=bad-fragment" || opt == "fault=column-offset" ||
               opt == "fault=drop-fill" || opt == "fault=drop-warp-sync" ||
               opt == "fault=stale-prefetch") {
      o.gpuFault = opt.substr(6);
    } else {
      error = "target '" + t + "': unknown option '" + opt +
              "' (expected threads=N, column-blocks=N, schedule=alap|asap|none, check-races, count-ops[=phases], tensor-cores=0, mma-chains=1|2|3, precision=tf32x3|tf32|tf32-rz, mma-n-tiles=R|auto, warp-rotate=0|1, k-split=0|1, prefetch=N, row-warps=0|1, rounds=static|strided, tid-per-chunk=0|1, buffers=apart|packed, min-programs=N, fault=short-grid|drop-barrier|bad-fragment|column-offset|drop-fill|drop-warp-sync|stale-prefetch)";
      return false;
    }
  }
  if (o.gpuMmaPrecision != "tf32x3" && o.gpuMmaChains != 1) {
    error = "target '" + t + "': mma-chains applies to the three products of precision=tf32x3";
    return false;
  }
  return true;
}

std::string &compileNotes() {
  static thread_local std::string notes;
  return notes;
}

bool validTarget(const std::string &t) {
  PipelineOptions o;
  std::string e;
  return parseTarget(t, o, e);
}

namespace {
void initLLVMOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
  });
}

std::unique_ptr<MLIRContext> makeContext() {
  DialectRegistry registry;
  registerTTTDialects(registry);
  auto ctx = std::make_unique<MLIRContext>(registry);
  ctx->loadAllAvailableDialects();
  // Diagnostics point at the spec; the IR they were raised on is noise.
  ctx->printOpOnDiagnostic(false);
  return ctx;
}

/// Parses, verifies and checks that there is exactly one layer; runs the
/// pipeline up to `stage` (Spec: none). Diagnostics go to `error`.
struct Frontend {
  std::unique_ptr<MLIRContext> ctx = makeContext();
  llvm::SourceMgr sm;
  std::string diag;
  llvm::raw_string_ostream os{diag};
  SourceMgrDiagnosticHandler handler{sm, ctx.get(), os};
  OwningOpRef<ModuleOp> module;
  LayerOp layer;

  bool parse(const std::string &source, const std::string &bufferName, std::string &error) {
    sm.AddNewSourceBuffer(llvm::MemoryBuffer::getMemBufferCopy(source, bufferName),
                          llvm::SMLoc());
    module = parseSourceFile<ModuleOp>(sm, ParserConfig(ctx.get()));
    if (!module)
      return fail(error, "");
    int n = 0;
    module->walk([&](LayerOp l) {
      layer = l;
      ++n;
    });
    if (n != 1)
      return fail(error, bufferName + ": expected exactly one ttt.layer, found " +
                             std::to_string(n));
    return true;
  }

  bool lower(Stage stage, int64_t headDim, int64_t miniBatch, std::string &error,
             int64_t exactChunk = kDefaultExactChunk, const std::string &target = "cpu",
             const std::string &arch = "sm_80", const std::string &ioType = "f32") {
    if (ioType != "f32" && ioType != "bf16" && ioType != "f16")
      return fail(error, "unknown I/O type '" + ioType + "' (expected f32, bf16 or f16)");
    if (headDim <= 0)
      return fail(error, "head dimension must be positive, got " + std::to_string(headDim));
    if (miniBatch < 0)
      return fail(error, "mini-batch size must be positive, got " + std::to_string(miniBatch));
    PassManager pm(ctx.get());
    if (exactChunk <= 0)
      return fail(error, "exact chunk size must be positive, got " + std::to_string(exactChunk));
    PipelineOptions o;
    o.headDim = headDim;
    o.miniBatch = miniBatch;
    o.exactChunk = exactChunk;
    o.ioType = ioType;
    if (!parseTarget(target, o, error))
      return false;
    switch (stage) {
    case Stage::Spec:
      return true;
    case Stage::AfterAutodiff:
      buildAutodiffPipeline(pm);
      break;
    case Stage::Chunked:
      buildChunkedPipeline(pm, o);
      break;
    case Stage::Linalg:
      buildLinalgPipeline(pm, o);
      break;
    case Stage::GPUKernel:
      buildGPUKernelPipeline(pm, o);
      break;
    case Stage::LLVMDialect:
    case Stage::LLVMIR:
      if (target.rfind("cuda", 0) == 0)
        buildCUDAEmuPipeline(pm, o);
      else
        buildCPUPipeline(pm, o);
      break;
    case Stage::PTX:
      o.libdevice = ttt::findLibdevice();
      buildPTXPipeline(pm, o, arch);
      break;
    }
    if (failed(pm.run(*module)))
      return fail(error, "");
    // Remarks of a successful compilation (e.g. a GPU kernel that falls back
    // to a slower strategy) are kept for the caller.
    os.flush();
    compileNotes() = diag;
    return true;
  }

  bool fail(std::string &error, const std::string &msg) {
    os.flush();
    error = diag;
    if (!msg.empty())
      error += msg;
    if (error.empty())
      error = "compilation failed";
    while (!error.empty() && error.back() == '\n')
      error.pop_back();
    return false;
  }
};

std::string shapeStr(const std::vector<int64_t> &s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i)
    r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}
} // namespace

struct CompiledLayer::CudaKernel {
  tttc_cuda_kernel *kernel = nullptr;
  std::vector<int> paramOrder; // kernel parameter i: signature buffer paramOrder[i]
};

struct CompiledLayer::Impl {
  std::unique_ptr<MLIRContext> ctx;
  std::unique_ptr<ExecutionEngine> engine;
  /// The cuda target: a kernel per column-block count (1: as compiled; more
  /// compiled on demand when the target leaves the count to the launch).
  std::map<int64_t, CudaKernel> kernels;
  bool cuda = false;                  // compiled for target cuda (kernels[1] loaded)
  bool autoColumnBlocks = false;
  bool splitRefused = false;          // the layer's state cannot be split
  int64_t fitBlocks = -1;             // fewest column blocks without scratch (-1: unprobed)
  std::mutex mu;
  int64_t headDim = 0, miniBatch = 0, exactChunk = 0;
  ~Impl() {
    for (auto &[n, k] : kernels)
      tttc_cuda_free(k.kernel);
  }
  std::string entry;
  std::string source, bufferName;
};

namespace {
/// Set by an exit handler registered at the first compilation, i.e. after
/// LLVM's own static state: it runs before that state is destroyed. Layers
/// destroyed after it (static objects of the caller) must not tear their
/// engines down: that runs the JIT's deinitializers, which use LLVM state
/// being destroyed at exit (a crash). The process is exiting; the memory goes
/// with it.
std::atomic<bool> processExiting{false};
void watchProcessExit() {
  static std::once_flag once;
  std::call_once(once, [] { std::atexit([] { processExiting = true; }); });
}
} // namespace

CompiledLayer::~CompiledLayer() {
  if (processExiting && impl) {
    (void)impl->engine.release();
    (void)impl->ctx.release();
  }
}

std::unique_ptr<CompiledLayer> CompiledLayer::compile(const std::string &source,
                                                      const std::string &bufferName,
                                                      int64_t headDim, int64_t miniBatch,
                                                      std::string &error, int64_t exactChunk,
                                                      const std::string &target,
                                                      const std::string &ioType) {
  initLLVMOnce();
  watchProcessExit();
  Frontend fe;
  if (!fe.parse(source, bufferName, error))
    return nullptr;
  int64_t C = miniBatch > 0 ? miniBatch : fe.layer.getMiniBatch();
  std::unique_ptr<CompiledLayer> cl(new CompiledLayer());
  cl->sig = getLayerSignature(fe.layer, headDim, C);
  cl->targetName = target;
  cl->ioTypeName = ioType;
  {
    PipelineOptions o;
    if (!parseTarget(target, o, error))
      return nullptr;
    // Matmuls leave f32 only on tensor cores (distributed GPU programs).
    bool gpu = target.rfind("cuda", 0) == 0;
    cl->precisionName =
        gpu && o.gpuTensorCores && o.gpuThreads > 1 ? o.gpuMmaPrecision : "f32";
  }
  if (target == "cuda" || target.rfind("cuda:", 0) == 0) {
    // PTX for the device's architecture, loaded through the driver.
    if (!tttc_cuda_available()) {
      error = std::string("target cuda: ") + tttc_cuda_last_error();
      return nullptr;
    }
    cl->impl = std::make_unique<Impl>();
    Impl &im = *cl->impl;
    im.source = source;
    im.bufferName = bufferName;
    im.headDim = headDim;
    im.miniBatch = miniBatch;
    im.exactChunk = exactChunk;
    im.autoColumnBlocks = target.find("column-blocks=") == std::string::npos ||
                          target.find("column-blocks=auto") != std::string::npos;
    if (!cl->cudaKernel(1, error))
      return nullptr;
    im.cuda = true;
    cl->impl->source = source;
    cl->impl->bufferName = bufferName;
    return cl;
  }
  if (!fe.lower(Stage::LLVMDialect, headDim, miniBatch, error, exactChunk, target, "sm_80",
                ioType))
    return nullptr;
  auto fn = fe.module->lookupSymbol<LLVM::LLVMFuncOp>(cl->sig.name);
  if (!fn || !isa<LLVM::LLVMVoidType>(fn.getFunctionType().getReturnType())) {
    error = "internal error: the compiled entry point '" + cl->sig.name +
            "' does not write its outputs in place";
    return nullptr;
  }
  // Only the C-interface wrapper is an entry point; every other definition
  // is internal (the engine then generates no packed wrappers for them).
  std::string entry = "_mlir_ciface_" + cl->sig.name;
  fe.module->walk([&](LLVM::LLVMFuncOp f) {
    if (!f.isExternal() && f.getName() != entry)
      f.setLinkage(LLVM::Linkage::Internal);
  });
  // Optimise and generate code for this machine (its vector units): the
  // optimiser needs the target machine for its cost model.
  auto tmBuilder = llvm::orc::JITTargetMachineBuilder::detectHost();
  if (!tmBuilder) {
    error = "cannot detect the host target: " + llvm::toString(tmBuilder.takeError());
    return nullptr;
  }
  tmBuilder->setCodeGenOptLevel(llvm::CodeGenOptLevel::Aggressive);
  // Fuse multiply-adds (one rounding instead of two).
  tmBuilder->getOptions().AllowFPOpFusion = llvm::FPOpFusion::Fast;
  auto tm = tmBuilder->createTargetMachine();
  if (!tm) {
    error = "cannot create the host target machine: " + llvm::toString(tm.takeError());
    return nullptr;
  }
  ExecutionEngineOptions eo;
  auto transformer = makeOptimizingTransformer(3, 0, tm->get());
  eo.transformer = transformer;
  eo.jitCodeGenOptLevel = llvm::CodeGenOptLevel::Aggressive;
  eo.enableObjectDump = true;
  auto engine = ExecutionEngine::create(*fe.module, eo, std::move(*tm));
  if (!engine) {
    error = "JIT compilation failed: " + llvm::toString(engine.takeError());
    return nullptr;
  }
  // Generate the code now (the engine is lazy): errors surface at compile
  // time and the first run is not slower.
  // The emulated GPU kernels call the emulation runtime.
  (*engine)->registerSymbols([](llvm::orc::MangleAndInterner interner) {
    llvm::orc::SymbolMap map;
    for (auto [name, addr] : emu::symbols())
      map[interner(name)] = {llvm::orc::ExecutorAddr::fromPtr(addr),
                             llvm::JITSymbolFlags::Exported};
    return map;
  });
  if (auto fnPtr = (*engine)->lookup("_mlir_ciface_" + cl->sig.name); !fnPtr) {
    error = "JIT compilation failed: " + llvm::toString(fnPtr.takeError());
    return nullptr;
  }
  cl->impl = std::make_unique<Impl>();
  cl->impl->engine = std::move(*engine);
  cl->impl->ctx = std::move(fe.ctx);
  cl->impl->entry = "_mlir_ciface_" + cl->sig.name;
  cl->impl->source = source;
  cl->impl->bufferName = bufferName;
  return cl;
}

void CompiledLayer::writeObjectFile(const std::string &path) {
  impl->engine->dumpToObjectFile(path);
}

std::vector<int64_t> CompiledLayer::shapeOf(const ArgInfo &a, int64_t B, int64_t T,
                                            int64_t H, int64_t C) {
  std::vector<int64_t> s;
  switch (a.kind) {
  case ArgKind::TokenVector:
  case ArgKind::TokenScalar:
  case ArgKind::Readout:
    s = {B, T, H};
    break;
  case ArgKind::PositionScalar:
    s = {C};
    break;
  case ArgKind::ParamVector:
  case ArgKind::ParamScalar:
  case ArgKind::StateInit:
    s = {H};
    break;
  case ArgKind::StateFinal:
    s = {B, H};
    break;
  }
  s.insert(s.end(), a.inner.begin(), a.inner.end());
  return s;
}

/// A ranked memref descriptor as the C interface expects it.
struct Descriptor {
  std::vector<int64_t> words;
  Descriptor(void *data, const std::vector<int64_t> &shape) {
    words.push_back(reinterpret_cast<int64_t>(data));
    words.push_back(reinterpret_cast<int64_t>(data));
    words.push_back(0);
    for (int64_t d : shape)
      words.push_back(d);
    std::vector<int64_t> strides(shape.size(), 1);
    for (int i = int(shape.size()) - 2; i >= 0; --i)
      strides[i] = strides[i + 1] * shape[i + 1];
    words.insert(words.end(), strides.begin(), strides.end());
  }
};

namespace {

const Tensor *findByName(const std::vector<Tensor> &ts, const std::string &n) {
  for (const Tensor &t : ts)
    if (t.name == n)
      return &t;
  return nullptr;
}

bool checkNames(const std::vector<Tensor> &given, const std::vector<ArgInfo> &expected,
                const char *what, std::string &error) {
  std::set<std::string> seen;
  for (const Tensor &t : given) {
    if (!seen.insert(t.name).second) {
      error = std::string(what) + " '" + t.name + "' is given twice";
      return false;
    }
    bool known = false;
    for (const ArgInfo &a : expected)
      known |= a.name == t.name;
    if (!known) {
      error = std::string("unknown ") + what + " '" + t.name + "'; the layer's " + what +
              "s are:";
      for (const ArgInfo &a : expected)
        error += " " + a.name;
      return false;
    }
    if (!t.data) {
      error = std::string(what) + " '" + t.name + "' has no data";
      return false;
    }
  }
  return true;
}
} // namespace

namespace {
/// The extents of a descriptor built by `Descriptor`.
std::vector<int64_t> extentsOf(const Descriptor &d) {
  size_t rank = (d.words.size() - 3) / 2;
  return std::vector<int64_t>(d.words.begin() + 3, d.words.begin() + 3 + rank);
}
} // namespace

bool CompiledLayer::validateInputs(const std::vector<Tensor> &inputs, int64_t &B,
                                   int64_t &T, int64_t &H, std::vector<Descriptor> *descs,
                                   std::string &error) const {
  if (!checkNames(inputs, sig.inputs, "input", error))
    return false;
  // B, T, H from the first per-token vector input.
  B = -1, T = -1, H = -1;
  for (const ArgInfo &a : sig.inputs) {
    if (a.kind != ArgKind::TokenVector)
      continue;
    const Tensor *t = findByName(inputs, a.name);
    if (!t) {
      error = "missing input '" + a.name + "' (expected shape " +
              describeShape(a, sig.miniBatch) + ")";
      return false;
    }
    if (t->shape.size() != 4) {
      error = "input '" + a.name + "' has shape " + shapeStr(t->shape) + ", expected " +
              describeShape(a, sig.miniBatch);
      return false;
    }
    B = t->shape[0];
    T = t->shape[1];
    H = t->shape[2];
    break;
  }
  if (B < 0) {
    error = "the layer has no per-token vector input to take B, T, H from";
    return false;
  }
  if (B < 1 || H < 1 || T < 0) {
    error = "B and H must be at least 1 and T at least 0, got B=" + std::to_string(B) +
            " T=" + std::to_string(T) + " H=" + std::to_string(H);
    return false;
  }
  int64_t C = sig.miniBatch;
  static float dummy[1];
  for (const ArgInfo &a : sig.inputs) {
    const Tensor *t = findByName(inputs, a.name);
    std::vector<int64_t> want = shapeOf(a, B, T, H, C);
    if (!t) {
      if (!a.optional) {
        error = "missing input '" + a.name + "' (expected shape " +
                describeShape(a, C) + " = " + shapeStr(want) + ")";
        return false;
      }
      std::vector<int64_t> empty = want;
      if (a.kind == ArgKind::StateInit)
        empty.insert(empty.begin(), 0);
      else
        empty[0] = 0;
      if (descs)
        descs->emplace_back(dummy, empty);
      continue;
    }
    std::vector<int64_t> got = t->shape;
    if (a.kind == ArgKind::StateInit) {
      std::vector<int64_t> batched = shapeOf({a.name, ArgKind::StateFinal, a.inner}, B, T, H, C);
      if (got == want)
        got.insert(got.begin(), 1);
      else if (got == batched)
        ;
      else {
        error = "input '" + a.name + "' has shape " + shapeStr(t->shape) + ", expected " +
                shapeStr(want) + " or " + shapeStr(batched) + " (" + describeShape(a, C) + ")";
        return false;
      }
      if (descs)
        descs->emplace_back(t->data, got);
      continue;
    }
    if (got != want) {
      error = "input '" + a.name + "' has shape " + shapeStr(t->shape) + ", expected " +
              shapeStr(want) + " (" + describeShape(a, C) + ")";
      return false;
    }
    if (descs)
      descs->emplace_back(t->data, got);
  }
  return true;
}

bool CompiledLayer::runReference(const std::vector<Tensor> &inputs,
                                 std::vector<std::vector<double>> &outputs,
                                 std::string &error) const {
  int64_t B, T, H;
  if (!validateInputs(inputs, B, T, H, nullptr, error))
    return false;
  return referenceRun(impl->source, impl->bufferName, sig, inputs, outputs, error);
}

bool CompiledLayer::validate(const std::vector<Tensor> &inputs,
                             const std::vector<Tensor> &outputs, int64_t &B, int64_t &T,
                             int64_t &H, std::vector<Descriptor> &descs,
                             std::string &error) const {
  int64_t C = sig.miniBatch;
  if (!validateInputs(inputs, B, T, H, &descs, error) ||
      !checkNames(outputs, sig.outputs, "output", error))
    return false;
  for (const ArgInfo &a : sig.outputs) {
    const Tensor *t = findByName(outputs, a.name);
    std::vector<int64_t> want = shapeOf(a, B, T, H, C);
    if (!t) {
      error = "missing output '" + a.name + "' (expected shape " + shapeStr(want) + ")";
      return false;
    }
    if (t->shape != want) {
      error = "output '" + a.name + "' has shape " + shapeStr(t->shape) + ", expected " +
              shapeStr(want) + " (" + describeShape(a, C) + ")";
      return false;
    }
    descs.emplace_back(t->data, want);
  }
  // Outputs are written while inputs are read (in another order than the
  // per-token one): an output may share no byte with an input or another
  // output, on the host or the device.
  size_t nIn = sig.inputs.size();
  auto range = [&](size_t i) {
    auto begin = uintptr_t(descs[i].words[1]);
    return std::make_pair(begin, begin + bytesOf(descs[i], i));
  };
  for (size_t o = nIn; o < descs.size(); ++o) {
    auto [ob, oe] = range(o);
    for (size_t i = 0; i < o && ob != oe; ++i) {
      auto [ib, ie] = range(i);
      if (ib == ie || ie <= ob || oe <= ib)
        continue;
      error = "output '" + argAt(o).name + "' overlaps " + (i < nIn ? "input" : "output") +
              " '" + argAt(i).name + "': outputs must not share memory with inputs or " +
              "other outputs (no in-place updates)";
      return false;
    }
  }
  return true;
}

const ArgInfo &CompiledLayer::argAt(size_t i) const {
  return i < sig.inputs.size() ? sig.inputs[i] : sig.outputs[i - sig.inputs.size()];
}

size_t CompiledLayer::bytesOf(const Descriptor &d, size_t i) const {
  size_t bytes = elementBytes(argAt(i));
  for (int64_t e : extentsOf(d))
    bytes *= size_t(e);
  return bytes;
}

bool CompiledLayer::launch(int64_t B, int64_t H, std::vector<Descriptor> &descs, void *stream,
                           std::string &error) {
  // At small B * H, column blocks where the layer allows them (the count
  // divides D, so a refusal is the layer's structure: remembered, and the
  // layer runs whole from then on).
  CudaKernel *k = nullptr;
  if (int64_t n = columnBlocksFor(B, H); n > 1) {
    std::string why;
    k = cudaKernel(n, why);
    if (!k) {
      std::lock_guard<std::mutex> lock(impl->mu);
      impl->splitRefused = true;
    }
  }
  if (!k && !(k = cudaKernel(1, error)))
    return false;
  lastBlocks = tttc_cuda_column_blocks(k->kernel);
  // descs: the signature's order; the kernel's parameters: its own.
  std::vector<void *> ptrs;
  std::vector<std::vector<int64_t>> shapes;
  for (int j : k->paramOrder) {
    Descriptor &d = descs[j];
    ptrs.push_back(reinterpret_cast<void *>(d.words[1]));
    shapes.push_back(extentsOf(d));
  }
  std::vector<const int64_t *> shapePtrs;
  for (auto &s : shapes)
    shapePtrs.push_back(s.data());
  if (tttc_cuda_launch(k->kernel, B, H, ptrs.data(), shapePtrs.data(), stream)) {
    error = tttc_cuda_last_error();
    return false;
  }
  return true;
}

/// The cuda target's kernel with `blocks` column blocks per (b, h), compiled
/// and loaded on first use; null with `error` set when it cannot be.
CompiledLayer::CudaKernel *CompiledLayer::cudaKernel(int64_t blocks, std::string &error) {
  Impl &im = *impl;
  std::lock_guard<std::mutex> lock(im.mu);
  if (auto it = im.kernels.find(blocks); it != im.kernels.end())
    return &it->second;
  std::string target = targetName;
  if (blocks > 1) {
    // Only ever reached for the automatic count: the target names none.
    size_t a = target.find("column-blocks=auto");
    if (a != std::string::npos)
      target.replace(a, 18, "column-blocks=" + std::to_string(blocks));
    else
      target += (target.find(':') == std::string::npos ? ":" : ",") +
                std::string("column-blocks=") + std::to_string(blocks);
  }
  std::string ptx = emit(im.source, im.bufferName, Stage::PTX, im.headDim, im.miniBatch, error,
                         tttc_cuda_device_arch(), im.exactChunk, target, ioTypeName);
  if (ptx.empty())
    return nullptr;
  tttc_cuda_kernel *kernel = tttc_cuda_load_ptx(ptx.c_str());
  if (!kernel) {
    error = std::string("target cuda: ") + tttc_cuda_last_error();
    return nullptr;
  }
  // The kernel takes the layer's buffers in its own order (first use in
  // the kernel), named in its header: where each sits in the signature.
  CudaKernel k;
  k.kernel = kernel;
  std::vector<std::string> names;
  for (const ArgInfo &a : sig.inputs)
    names.push_back(a.name);
  for (const ArgInfo &a : sig.outputs)
    names.push_back(a.name);
  int n = tttc_cuda_num_params(kernel);
  for (int i = 0; i < n; ++i) {
    auto it = std::find(names.begin(), names.end(),
                        std::string(tttc_cuda_param_name(kernel, i)));
    if (it == names.end())
      break;
    k.paramOrder.push_back(int(it - names.begin()));
  }
  if (n != int(names.size()) || int(k.paramOrder.size()) != n) {
    tttc_cuda_free(kernel);
    error = "internal error: the kernel's parameters are not the layer's buffers";
    return nullptr;
  }
  return &(im.kernels[blocks] = std::move(k));
}

/// Column blocks for a launch of B x H programs: with the automatic count,
/// enough to give each multiprocessor a program (doubling while B * H * N
/// fits the device's multiprocessors, each block keeping at least 16
/// columns), and at least the fewest blocks whose programs fit in shared
/// memory when one program per (b, h) spills to global scratch (probed once:
/// a kernel per count, compiled on first use); 1 where the layer does not
/// split.
int64_t CompiledLayer::columnBlocksFor(int64_t B, int64_t H) {
  Impl &im = *impl;
  if (!im.autoColumnBlocks)
    return 1;
  auto splits = [&](int64_t n) { return im.headDim % n == 0 && im.headDim / n >= 16; };
  int64_t sms = tttc_cuda_device_sm_count(), n = 1;
  while (B * H * n * 2 <= sms && splits(n * 2))
    n *= 2;
  int64_t fitBlocks;
  {
    std::lock_guard<std::mutex> lock(im.mu);
    if (im.splitRefused)
      return 1;
    fitBlocks = im.fitBlocks;
  }
  if (fitBlocks < 0) {
    int64_t fit = 1;
    std::string why;
    CudaKernel *one = cudaKernel(1, why);
    if (one && tttc_cuda_scratch_bytes(one->kernel) > 0) {
      for (int64_t m = 2; splits(m); m *= 2) {
        CudaKernel *k = cudaKernel(m, why);
        if (!k) {
          std::lock_guard<std::mutex> lock(im.mu);
          im.splitRefused = true;
          return 1;
        }
        fit = m;
        if (tttc_cuda_scratch_bytes(k->kernel) == 0)
          break;
      }
    }
    fitBlocks = fit;
    std::lock_guard<std::mutex> lock(im.mu);
    im.fitBlocks = fit;
  }
  return std::max(n, fitBlocks);
}

size_t CompiledLayer::elementBytes(const ArgInfo &a) const {
  bool io = a.kind == ArgKind::TokenVector || a.kind == ArgKind::TokenScalar ||
            a.kind == ArgKind::Readout;
  return io && ioTypeName != "f32" ? 2 : 4;
}

bool CompiledLayer::runOnDevice(const std::vector<Tensor> &inputs,
                                const std::vector<Tensor> &outputs, void *stream,
                                std::string &error) {
  if (!impl->cuda) {
    error = "the layer was compiled for target '" + targetName +
            "': device buffers need target cuda";
    return false;
  }
  int64_t B, T, H;
  std::vector<Descriptor> descs;
  if (!validate(inputs, outputs, B, T, H, descs, error))
    return false;
  if (T == 0)
    return true;
  return launch(B, H, descs, stream, error);
}

bool CompiledLayer::run(const std::vector<Tensor> &inputs,
                        const std::vector<Tensor> &outputs, std::string &error) {
  int64_t B, T, H;
  std::vector<Descriptor> descs;
  if (!validate(inputs, outputs, B, T, H, descs, error))
    return false;
  if (impl->cuda) {
    // Host buffers: through device copies.
    std::vector<void *> dev(descs.size(), nullptr);
    auto release = [&] {
      for (void *p : dev)
        tttc_cuda_free_device(p);
    };
    size_t nIn = sig.inputs.size();
    for (size_t i = 0; i < descs.size(); ++i) {
      size_t bytes = bytesOf(descs[i], i);
      if (bytes == 0)
        continue;
      dev[i] = tttc_cuda_alloc_device(bytes);
      if (!dev[i] || (i < nIn && tttc_cuda_copy_to_device(
                                     dev[i], reinterpret_cast<void *>(descs[i].words[1]), bytes))) {
        error = tttc_cuda_last_error();
        release();
        return false;
      }
    }
    std::vector<Descriptor> devDescs = descs;
    for (size_t i = 0; i < descs.size(); ++i)
      devDescs[i].words[0] = devDescs[i].words[1] = reinterpret_cast<int64_t>(dev[i]);
    bool ok = T == 0 || launch(B, H, devDescs, nullptr, error);
    for (size_t i = nIn; ok && i < descs.size(); ++i) {
      size_t bytes = bytesOf(descs[i], i);
      if (bytes && tttc_cuda_copy_to_host(reinterpret_cast<void *>(descs[i].words[1]), dev[i],
                                          bytes)) {
        error = tttc_cuda_last_error();
        ok = false;
      }
    }
    release();
    return ok;
  }
  std::vector<void *> ptrs, args;
  for (Descriptor &d : descs)
    ptrs.push_back(d.words.data());
  for (void *&p : ptrs)
    args.push_back(&p);
  emu::clearError();
  if (llvm::Error e = impl->engine->invokePacked(impl->entry, args)) {
    error = "invocation failed: " + llvm::toString(std::move(e));
    return false;
  }
  // Races and barrier divergence found by the GPU emulation.
  if (std::string e = emu::error(); !e.empty()) {
    error = e;
    emu::clearError();
    return false;
  }
  return true;
}

std::string emit(const std::string &source, const std::string &bufferName, Stage stage,
                 int64_t headDim, int64_t miniBatch, std::string &error,
                 const std::string &arch, int64_t exactChunk, const std::string &target,
                 const std::string &ioType) {
  if (target.find("column-blocks=auto") != std::string::npos) {
    error = "target '" + target + "': column-blocks=auto is chosen per launch by a layer "
            "compiled for target cuda; a kernel emitted ahead of time needs a count "
            "(column-blocks=N)";
    return "";
  }
  Frontend fe;
  if (!fe.parse(source, bufferName, error))
    return "";
  int64_t C = miniBatch > 0 ? miniBatch : fe.layer.getMiniBatch();
  LayerSignature sig = getLayerSignature(fe.layer, headDim, C);
  if (!fe.lower(stage, headDim, miniBatch, error, exactChunk, target, arch, ioType))
    return "";
  std::string out;
  llvm::raw_string_ostream os(out);
  if (stage == Stage::PTX) {
    // The calling convention of each kernel, as PTX comments: a grid of
    // (B, H, column blocks) blocks of threads; its parameters are the layer's buffers
    // (as memref descriptors) in this order, by name and rank.
    std::vector<const ArgInfo *> args;
    for (const ArgInfo &a : sig.inputs)
      args.push_back(&a);
    for (const ArgInfo &a : sig.outputs)
      args.push_back(&a);
    fe.module->walk([&](gpu::LaunchFuncOp launch) {
      auto f = launch->getParentOfType<func::FuncOp>();
      auto constant = [](Value v) -> int64_t {
        std::optional<int64_t> c = v ? getConstantIntValue(v) : std::nullopt;
        return c ? *c : -1;
      };
      gpu::KernelDim3 bs = launch.getBlockSizeOperandValues();
      // The grid's z: the column blocks of each (b, h) (ttt-column-blocks).
      int64_t gz = constant(launch.getGridSizeOperandValues().z);
      // Global scratch memory per program (ttt-distribute-to-threads), which
      // the launch runtime allocates.
      int64_t scratch = 0;
      for (Value v : launch.getKernelOperands())
        if (Operation *def = v.getDefiningOp())
          if (auto a = def->getAttrOfType<IntegerAttr>("ttt.scratch"))
            scratch = a.getInt();
      os << "// tttc-kernel " << launch.getKernelName().getValue() << " grid B H " << gz << " block "
         << constant(bs.x) << " " << constant(bs.y) << " " << constant(bs.z) << " smem "
         << std::max<int64_t>(0, constant(launch.getDynamicSharedMemorySize())) << " scratch "
         << scratch << "\n"
         << "// tttc-kernel-params";
      for (Value v : launch.getKernelOperands()) {
        if (Operation *def = v.getDefiningOp(); def && def->hasAttr("ttt.scratch")) {
          os << " __scratch:1";
          continue;
        }
        auto arg = dyn_cast<BlockArgument>(v);
        if (!arg || arg.getOwner() != &f.front() || arg.getArgNumber() >= args.size()) {
          os << " ?";
          continue;
        }
        const ArgInfo *a = args[arg.getArgNumber()];
        auto mt = cast<MemRefType>(v.getType());
        os << " " << a->name << ":" << mt.getRank();
        // 16-bit per-token inputs and readouts carry their type.
        if (mt.getElementType().isBF16())
          os << ":bf16";
        else if (mt.getElementType().isF16())
          os << ":f16";
      }
      os << "\n";
    });
    // The assembly of every kernel object.
    fe.module->walk([&](gpu::BinaryOp bin) {
      for (Attribute a : bin.getObjects())
        if (auto obj = dyn_cast<gpu::ObjectAttr>(a))
          os << obj.getObject().getValue();
    });
    if (out.empty())
      fe.fail(error, "no GPU kernel was produced");
    return out;
  }
  if (stage == Stage::LLVMIR) {
    llvm::LLVMContext llctx;
    auto mod = translateModuleToLLVMIR(*fe.module, llctx);
    if (!mod) {
      fe.fail(error, "translation to LLVM IR failed");
      return "";
    }
    mod->print(os, nullptr);
  } else {
    fe.module->print(os);
  }
  return out;
}

namespace {
std::string cTypeOfDescriptor(size_t rank) {
  return "struct tttc_memref_" + std::to_string(rank) + "d";
}
} // namespace

bool compileToObject(const std::string &source, const std::string &bufferName,
                     int64_t headDim, int64_t miniBatch, const std::string &objectPath,
                     const std::string &headerPath, std::string &error) {
  auto cl = CompiledLayer::compile(source, bufferName, headDim, miniBatch, error);
  if (!cl)
    return false;
  cl->writeObjectFile(objectPath);
  if (headerPath.empty())
    return true;
  const LayerSignature &sig = cl->signature();
  std::ostringstream h;
  std::string guard = "TTTC_LAYER_" + sig.name + "_H";
  for (char &c : guard)
    c = char(toupper(c));
  h << "/* Generated by tttc compile: layer '" << sig.name << "', head dim "
    << sig.headDim << ", mini-batch " << sig.miniBatch << ". */\n"
    << "#ifndef " << guard << "\n#define " << guard << "\n#include <stdint.h>\n\n";
  std::set<size_t> ranks;
  auto rankOf = [](const ArgInfo &a) {
    return CompiledLayer::shapeOf(a, 1, 1, 1, 1).size() + (a.kind == ArgKind::StateInit);
  };
  for (const ArgInfo &a : sig.inputs)
    ranks.insert(rankOf(a));
  for (const ArgInfo &a : sig.outputs)
    ranks.insert(rankOf(a));
  for (size_t r : ranks)
    h << cTypeOfDescriptor(r) << " {\n  float *allocated;\n  float *aligned;\n"
      << "  int64_t offset;\n  int64_t sizes[" << r << "];\n  int64_t strides[" << r
      << "];\n};\n";
  h << "\n/* Inputs (initial states as [1 or B, H, ...]; an omitted optional input "
       "has size 0 in its first dimension), then outputs. */\n"
    << "void _mlir_ciface_" << sig.name << "(";
  bool first = true;
  for (const ArgInfo &a : sig.inputs) {
    h << (first ? "\n    " : ",\n    ") << cTypeOfDescriptor(rankOf(a)) << " *" << a.name
      << " /* " << describeShape(a, sig.miniBatch) << " */";
    first = false;
  }
  for (const ArgInfo &a : sig.outputs)
    h << ",\n    " << cTypeOfDescriptor(rankOf(a)) << " *" << a.name << " /* "
      << describeShape(a, sig.miniBatch) << " */";
  h << ");\n\n#endif\n";
  std::ofstream f(headerPath);
  if (!f) {
    error = "cannot write " + headerPath;
    return false;
  }
  f << h.str();
  return bool(f);
}

} // namespace tttc
