//===- Frontend.cpp - parse a spec, run the pipeline up to a stage --------===//

#include "Frontend.h"

#include "dialect/Passes.h"

#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/TargetSelect.h"

#include <mutex>

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

std::string &compileNotes() {
  static thread_local std::string notes;
  return notes;
}

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

std::string shapeStr(const std::vector<int64_t> &s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i)
    r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

bool Frontend::parse(const std::string &source, const std::string &bufferName,
                     std::string &error) {
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

bool Frontend::lower(Stage stage, const PipelineOptions &options, std::string &error) {
  if (std::string why; !options.verify(why))
    return fail(error, why);
  PassManager pm(ctx.get());
  switch (stage) {
  case Stage::Spec:
    return true;
  case Stage::AfterAutodiff:
    buildAutodiffPipeline(pm);
    break;
  case Stage::Chunked:
    buildChunkedPipeline(pm, options);
    break;
  case Stage::Linalg:
    buildLinalgPipeline(pm, options);
    break;
  case Stage::GPUKernel:
    buildGPUKernelPipeline(pm, options);
    break;
  case Stage::LLVMDialect:
  case Stage::LLVMIR:
    if (options.gpu())
      buildCUDAEmuPipeline(pm, options);
    else
      buildCPUPipeline(pm, options);
    break;
  case Stage::PTX: {
    PipelineOptions o = options;
    o.libdevice = findLibdevice();
    buildPTXPipeline(pm, o);
    break;
  }
  }
  if (failed(pm.run(*module)))
    return fail(error, "");
  // Remarks of a successful compilation (e.g. a GPU kernel that falls back
  // to a slower strategy) are kept for the caller.
  os.flush();
  compileNotes() = diag;
  return true;
}

bool Frontend::fail(std::string &error, const std::string &msg) {
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

} // namespace tttc
