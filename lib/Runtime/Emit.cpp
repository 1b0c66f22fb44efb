//===- Emit.cpp - the IR after a stage, PTX, and object files with headers ===//

#include "Frontend.h"

#include "dialect/Signature.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"

#include <fstream>
#include <set>
#include <sstream>

using namespace mlir;
using namespace mlir::ttt;

namespace tttc {

std::string emit(const std::string &source, const std::string &bufferName, Stage stage,
                 const PipelineOptions &options, std::string &error) {
  if (options.columnBlocks.getValue().isAuto()) {
    error = "column-blocks=auto is chosen per launch by a layer compiled for target cuda; a "
            "kernel emitted ahead of time needs a count (column-blocks=N)";
    return "";
  }
  // The GPU stages are GPU code whatever the target says.
  PipelineOptions o = options;
  if ((stage == Stage::GPUKernel || stage == Stage::PTX) && !o.gpu())
    o.target = Target::CUDA;
  Frontend fe;
  if (!fe.parse(source, bufferName, error))
    return "";
  int64_t C = o.miniBatch > 0 ? o.miniBatch : fe.layer.getMiniBatch();
  LayerSignature sig = getLayerSignature(fe.layer, o.headDim, C);
  if (!fe.lower(stage, o, error))
    return "";
  std::string out;
  llvm::raw_string_ostream os(out);
  if (stage == Stage::PTX) {
    // The calling convention of each kernel, as PTX comments: a grid of
    // (B, H, column blocks) blocks of threads; its parameters are the layer's buffers
    // (as memref descriptors) in this order, by name and rank.
    // (The parameters of the entry point that launches it: the forward's,
    // the training forward's, the backward's or resume's.)
    fe.module->walk([&](gpu::LaunchFuncOp launch) {
      auto f = launch->getParentOfType<func::FuncOp>();
      std::string fn = f.getSymName().str();
      EntryPoint e = fn == sig.name + "_forward_train" ? EntryPoint::Train
                     : fn == sig.name + "_backward"    ? EntryPoint::Backward
                     : fn == sig.name + "_resume"      ? EntryPoint::Resume
                                                       : EntryPoint::Forward;
      std::vector<EntryArg> args = entryArguments(sig, e);
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
         << scratch;
      // Tokens per chunk step (the saved states' slots of a training
      // forward): ttt-lower-layer-to-func's record.
      if (auto sizes =
              fe.module->getOperation()->getAttrOfType<DictionaryAttr>("ttt.chunk_sizes"))
        if (auto c = dyn_cast_or_null<IntegerAttr>(sizes.get(sig.name)))
          os << " chunk " << c.getInt();
      os << "\n"
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
        auto mt = cast<MemRefType>(v.getType());
        os << " " << args[arg.getArgNumber()].name << ":" << mt.getRank();
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
                     const PipelineOptions &options, const std::string &objectPath,
                     const std::string &headerPath, std::string &error) {
  if (options.gpu()) {
    error = "an object file holds CPU code: target '" +
            PipelineOptions::spelling(options.target).str() + "' has none (PTX: emit stage ptx)";
    return false;
  }
  auto cl = CompiledLayer::compile(source, bufferName, options, error, &objectPath);
  if (!cl)
    return false;
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
  auto savedRank = [](const ArgInfo &s) { return 3 + s.inner.size(); };
  if (options.backward)
    for (const ArgInfo &s : sig.states)
      ranks.insert(savedRank(s));
  if (options.decode)
    for (const ArgInfo &s : sig.states)
      ranks.insert(2 + s.inner.size());
  for (size_t r : ranks)
    h << cTypeOfDescriptor(r) << " {\n  float *allocated;\n  float *aligned;\n"
      << "  int64_t offset;\n  int64_t sizes[" << r << "];\n  int64_t strides[" << r
      << "];\n};\n";
  /// The parameters of entry point `e` (with their shapes as comments for
  /// the forward's).
  auto params = [&](EntryPoint e, const char *suffix) {
    h << "void _mlir_ciface_" << sig.name << suffix << "(";
    bool first = true;
    for (const EntryArg &x : entryArguments(sig, e)) {
      size_t rank = x.role == EntryArg::Saved   ? savedRank(*x.arg)
                    : x.role == EntryArg::State ? 2 + x.arg->inner.size()
                                                : rankOf(*x.arg);
      h << (first ? "\n    " : ",\n    ") << cTypeOfDescriptor(rank) << " *" << x.name;
      if (e == EntryPoint::Forward)
        h << " /* " << describeShape(*x.arg, sig.miniBatch) << " */";
      else if (e == EntryPoint::Train && x.role == EntryArg::Saved) {
        h << " /* [B, H, S";
        for (int64_t d : x.arg->inner)
          h << ", " << d;
        h << "] */";
      }
      first = false;
    }
    h << ");\n";
  };
  h << "\n/* Inputs (initial states as [1 or B, H, ...]; an omitted optional input "
       "has size 0 in its first dimension), then outputs. */\n";
  params(EntryPoint::Forward, "");
  if (options.backward) {
    h << "\n/* The training forward: the forward's arguments, then what the backward\n"
         " * needs, written: per state its values at the start of every "
      << (options.backwardCheckpoint == 1
              ? std::string("chunk")
              : std::to_string(options.backwardCheckpoint) + "-th chunk")
      << "\n * of " << cl->chunkSize() << " tokens ([B, H, S, ...], S = ceil(ceil(T / "
      << cl->chunkSize() << ") / " << options.backwardCheckpoint << ")). */\n";
    params(EntryPoint::Train, "_forward_train");
    h << "\n/* The outer-loop backward: the inputs as above, the states the training\n"
         " * forward saved on them, a cotangent of every output (zeros where there is\n"
         " * none), then the gradient of every input (the input's shape; written, none\n"
         " * for an omitted optional input). */\n";
    params(EntryPoint::Backward, "_backward");
  }
  if (options.decode) {
    h << "\n/* The forward resumed from given states (what tttc_decode_step runs from a\n"
         " * chunk boundary): the inputs other than initial states, every state's value\n"
         " * [B, H, ...], then the readouts and every state's final value. */\n";
    params(EntryPoint::Resume, "_resume");
  }
  h << "\n#endif\n";
  std::ofstream f(headerPath);
  if (!f) {
    error = "cannot write " + headerPath;
    return false;
  }
  f << h.str();
  return bool(f);
}

} // namespace tttc
