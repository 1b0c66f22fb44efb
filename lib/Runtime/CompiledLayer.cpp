//===- CompiledLayer.cpp - compile a layer, JIT it, run it on the CPU -----===//
//
// A layer compiled for the cpu or cuda-emu target is an ExecutionEngine over
// the lowered module (the emulated kernels call the emulation runtime,
// EmuRuntime.cpp); one for target cuda is PTX loaded through the driver
// (CudaLayer.cpp). Argument checks: Descriptors.cpp.
//
//===----------------------------------------------------------------------===//

#include "EmuRuntime.h"
#include "Frontend.h"
#include "LayerImpl.h"

#include "dialect/Signature.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/ExecutionEngine/ExecutionEngine.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/Support/ThreadPool.h"

#include <atomic>
#include <cstdlib>

using namespace mlir;
using namespace mlir::ttt;

namespace tttc {

CompiledLayer::Impl::Impl() = default;
CompiledLayer::Impl::~Impl() {
  for (auto &[n, k] : kernels)
    tttc_cuda_free(k.kernel);
  tttc_cuda_free(trainKernel.kernel);
  tttc_cuda_free(backwardKernel.kernel);
  tttc_cuda_free(resumeKernel.kernel);
}

const PipelineOptions &CompiledLayer::options() const { return impl->options; }

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

namespace {
/// `module` (LLVM dialect) translated, optimised as the JIT optimises, and
/// compiled by `tm` into an object file at `path`.
bool writeObject(ModuleOp module, llvm::TargetMachine &tm, const std::string &path,
                 std::string &error) {
  llvm::LLVMContext ctx;
  std::unique_ptr<llvm::Module> mod = translateModuleToLLVMIR(module, ctx);
  if (!mod) {
    error = "translation to LLVM IR failed";
    return false;
  }
  mod->setDataLayout(tm.createDataLayout());
  mod->setTargetTriple(tm.getTargetTriple());
  if (llvm::Error e = makeOptimizingTransformer(3, 0, &tm)(mod.get())) {
    error = "optimisation failed: " + llvm::toString(std::move(e));
    return false;
  }
  std::error_code ec;
  llvm::raw_fd_ostream os(path, ec, llvm::sys::fs::OF_None);
  if (ec) {
    error = "cannot write " + path + ": " + ec.message();
    return false;
  }
  llvm::legacy::PassManager pm;
  if (tm.addPassesToEmitFile(pm, os, nullptr, llvm::CodeGenFileType::ObjectFile)) {
    error = "the host target cannot emit object files";
    return false;
  }
  pm.run(*mod);
  os.flush();
  if (os.has_error()) {
    error = "cannot write " + path;
    return false;
  }
  return true;
}
} // namespace

std::unique_ptr<CompiledLayer> CompiledLayer::compile(const std::string &source,
                                                      const std::string &bufferName,
                                                      const PipelineOptions &options,
                                                      std::string &error,
                                                      const std::string *objectPath) {
  initLLVMOnce();
  watchProcessExit();
  if (!options.verify(error))
    return nullptr;
  Frontend fe;
  if (!fe.parse(source, bufferName, error))
    return nullptr;
  int64_t C = options.miniBatch > 0 ? options.miniBatch : fe.layer.getMiniBatch();
  std::unique_ptr<CompiledLayer> cl(new CompiledLayer());
  cl->sig = getLayerSignature(fe.layer, options.headDim, C);
  cl->ioTypeName = PipelineOptions::spelling(options.ioDType).str();
  // Matmuls leave f32 only on tensor cores (distributed GPU programs).
  cl->precisionName = options.matmulPrecision().str();
  cl->impl = std::make_unique<Impl>();
  Impl &im = *cl->impl;
  im.options = options;
  im.source = source;
  im.bufferName = bufferName;
  if (options.target == Target::CUDA) {
    // PTX for the device's architecture, loaded through the driver.
    if (!tttc_cuda_available()) {
      error = std::string("target cuda: ") + tttc_cuda_last_error();
      return nullptr;
    }
    im.autoColumnBlocks = !options.columnBlocks.hasValue() || options.columnBlocks.getValue().isAuto();
    if (!cl->cudaKernel(1, error) ||
        ((options.backward || options.decode) && !cl->loadEntryKernels(error)))
      return nullptr;
    im.cuda = true;
    return cl;
  }
  if (!fe.lower(Stage::LLVMDialect, options, error))
    return nullptr;
  auto fn = fe.module->lookupSymbol<LLVM::LLVMFuncOp>(cl->sig.name);
  if (!fn || !isa<LLVM::LLVMVoidType>(fn.getFunctionType().getReturnType())) {
    error = "internal error: the compiled entry point '" + cl->sig.name +
            "' does not write its outputs in place";
    return nullptr;
  }
  if (auto sizes = fe.module->getOperation()->getAttrOfType<DictionaryAttr>("ttt.chunk_sizes"))
    if (auto c = dyn_cast_or_null<IntegerAttr>(sizes.get(cl->sig.name)))
      cl->chunk = c.getInt();
  if (options.backward && cl->chunk < 1) {
    error = "internal error: the lowering recorded no chunk size for '" + cl->sig.name + "'";
    return nullptr;
  }
  // Only the C-interface wrapper is an entry point; every other definition
  // is internal (the engine then generates no packed wrappers for them).
  std::string entry = "_mlir_ciface_" + cl->sig.name;
  std::string backwardEntry = options.backward ? entry + "_backward" : "";
  std::string trainEntry = options.backward ? entry + "_forward_train" : "";
  std::string resumeEntry = options.decode ? entry + "_resume" : "";
  for (const std::string &e : {backwardEntry, trainEntry, resumeEntry})
    if (!e.empty() && !fe.module->lookupSymbol<LLVM::LLVMFuncOp>(e)) {
      error = "internal error: no entry point '" + e + "'";
      return nullptr;
    }
  fe.module->walk([&](LLVM::LLVMFuncOp f) {
    if (!f.isExternal() && f.getName() != entry && f.getName() != backwardEntry &&
        f.getName() != trainEntry && f.getName() != resumeEntry)
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
  if (objectPath) {
    // An object for the caller's link: position independent, small code
    // model (what a shared library or a PIE needs).
    tmBuilder->setRelocationModel(llvm::Reloc::PIC_);
    tmBuilder->setCodeModel(llvm::CodeModel::Small);
  }
  auto tm = tmBuilder->createTargetMachine();
  if (!tm) {
    error = "cannot create the host target machine: " + llvm::toString(tm.takeError());
    return nullptr;
  }
  if (objectPath) {
    if (!writeObject(*fe.module, **tm, *objectPath, error))
      return nullptr;
    im.ctx = std::move(fe.ctx);
    return cl;
  }
  ExecutionEngineOptions eo;
  auto transformer = makeOptimizingTransformer(3, 0, tm->get());
  eo.transformer = transformer;
  eo.jitCodeGenOptLevel = llvm::CodeGenOptLevel::Aggressive;
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
  for (const std::string &e : {backwardEntry, trainEntry, resumeEntry})
    if (!e.empty())
      if (auto fnPtr = (*engine)->lookup(e); !fnPtr) {
        error = "JIT compilation failed: " + llvm::toString(fnPtr.takeError());
        return nullptr;
      }
  im.engine = std::move(*engine);
  im.ctx = std::move(fe.ctx);
  im.entry = entry;
  im.backwardEntry = backwardEntry;
  im.trainEntry = trainEntry;
  im.resumeEntry = resumeEntry;
  return cl;
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

size_t CompiledLayer::elementBytes(const ArgInfo &a) const {
  bool io = a.kind == ArgKind::TokenVector || a.kind == ArgKind::TokenScalar ||
            a.kind == ArgKind::Readout;
  return io && ioTypeName != "f32" ? 2 : 4;
}

bool CompiledLayer::runReference(const std::vector<Tensor> &inputs,
                                 std::vector<std::vector<double>> &outputs,
                                 std::string &error) const {
  int64_t B, T, H;
  if (!validateInputs(inputs, B, T, H, nullptr, error))
    return false;
  return referenceRun(impl->source, impl->bufferName, sig, inputs, outputs, error);
}

namespace {
/// Whether a run splits argument `a` (of `rows` rows in its first
/// dimension) with the batch: per-token arrays, readouts, final states and
/// per-row initial states.
bool splitsWithBatch(const ArgInfo &a, int64_t rows, int64_t B) {
  return a.kind == ArgKind::TokenVector || a.kind == ArgKind::TokenScalar ||
         a.kind == ArgKind::Readout || a.kind == ArgKind::StateFinal ||
         (a.kind == ArgKind::StateInit && rows == B && B > 1);
}
} // namespace

bool CompiledLayer::invokeSplit(const std::string &entry, std::vector<Descriptor> &descs,
                                const std::vector<Split> &how,
                                const std::vector<size_t> &elemBytes, int64_t B,
                                std::string &error) {
  int64_t threads = impl->options.cpuThreads;
  if (threads == 0)
    threads = std::max<int64_t>(1, llvm::hardware_concurrency().compute_thread_count());
  threads = std::min(threads, B);
  auto call = [&](std::vector<Descriptor> &d) -> std::string {
    std::vector<void *> ptrs, args;
    for (Descriptor &x : d)
      ptrs.push_back(x.words.data());
    for (void *&p : ptrs)
      args.push_back(&p);
    if (llvm::Error e = impl->engine->invokePacked(entry, args))
      return "invocation failed: " + llvm::toString(std::move(e));
    return "";
  };
  if (threads <= 1) {
    error = call(descs);
    return error.empty();
  }
  // Thread t: batch rows [B t / n, B (t + 1) / n).
  std::vector<std::vector<Descriptor>> parts(threads, descs);
  std::vector<std::vector<std::vector<float>>> sums(threads);
  for (int64_t t = 0; t < threads; ++t) {
    int64_t b0 = B * t / threads, b1 = B * (t + 1) / threads;
    for (size_t i = 0; i < descs.size(); ++i) {
      std::vector<int64_t> &w = parts[t][i].words;
      size_t rank = (w.size() - 3) / 2;
      if (how[i] == Split::Rows) {
        int64_t offset = b0 * w[3 + rank] * int64_t(elemBytes[i]);
        w[0] += offset;
        w[1] += offset;
        w[3] = b1 - b0;
      } else if (how[i] == Split::Summed) {
        size_t n = 1;
        for (int64_t e : extentsOf(descs[i]))
          n *= size_t(e);
        sums[t].emplace_back(std::max<size_t>(n, 1), 0.0f);
        w[0] = w[1] = reinterpret_cast<int64_t>(sums[t].back().data());
      }
    }
  }
  if (!impl->pool)
    impl->pool = std::make_unique<llvm::StdThreadPool>(
        llvm::hardware_concurrency(unsigned(threads)));
  std::vector<std::string> errors(threads);
  for (int64_t t = 0; t < threads; ++t)
    impl->pool->async([&, t] { errors[t] = call(parts[t]); });
  impl->pool->wait();
  for (const std::string &e : errors)
    if (!e.empty()) {
      error = e;
      return false;
    }
  // The sums, in thread order.
  for (size_t i = 0, k = 0; i < descs.size(); ++i) {
    if (how[i] != Split::Summed)
      continue;
    float *dst = reinterpret_cast<float *>(descs[i].words[1]);
    size_t n = 1;
    for (int64_t e : extentsOf(descs[i]))
      n *= size_t(e);
    for (size_t j = 0; j < n; ++j) {
      float acc = 0;
      for (int64_t t = 0; t < threads; ++t)
        acc += sums[t][k][j];
      dst[j] = acc;
    }
    ++k;
  }
  return true;
}

std::vector<Tensor>
CompiledLayer::outputTensors(int64_t B, int64_t T, int64_t H,
                             const std::function<void *(size_t)> &alloc) const {
  std::vector<Tensor> outs;
  for (const ArgInfo &a : sig.outputs) {
    std::vector<int64_t> shape = shapeOf(a, B, T, H, sig.miniBatch);
    size_t n = elementBytes(a);
    for (int64_t d : shape)
      n *= size_t(d);
    outs.push_back({a.name, alloc(std::max<size_t>(n, 4)), shape});
  }
  return outs;
}

bool CompiledLayer::hasBackward() const { return !impl->backwardEntry.empty(); }

bool CompiledLayer::runForwardTrain(const std::vector<Tensor> &inputs,
                                    const std::vector<Tensor> &outputs, void *saved,
                                    size_t savedBytes, std::string &error) {
  if (!hasBackward()) {
    error = "the layer was compiled without its backward (pipeline option 'backward')";
    return false;
  }
  int64_t B, T, H;
  std::vector<Descriptor> descs;
  if (!validateTrain(inputs, outputs, saved, savedBytes, B, T, H, descs, error))
    return false;
  size_t first = sig.inputs.size() + sig.outputs.size();
  if (impl->cuda) {
    // Inputs in; outputs and saved states (float32) out.
    return withDeviceCopies(
        descs,
        [&](size_t i) {
          if (i < first)
            return bytesOf(descs[i], i);
          size_t n = 4;
          for (int64_t e : extentsOf(descs[i]))
            n *= size_t(e);
          return n;
        },
        [&](size_t i) { return i < sig.inputs.size(); },
        [&](size_t i) { return i >= sig.inputs.size(); },
        [&](std::vector<Descriptor> &dev) {
          return launchKernel(impl->trainKernel, B, H, dev, nullptr, error);
        },
        error);
  }
  std::vector<Split> how(descs.size(), Split::Rows);
  std::vector<size_t> elemBytes(descs.size(), 4);
  for (size_t i = 0; i < first; ++i) {
    const ArgInfo &a = argAt(i);
    elemBytes[i] = elementBytes(a);
    how[i] = splitsWithBatch(a, extentsOf(descs[i])[0], B) ? Split::Rows : Split::Shared;
  }
  return invoke(impl->trainEntry, descs, how, elemBytes, B, error);
}

bool CompiledLayer::runBackward(const std::vector<Tensor> &inputs, const void *saved,
                                size_t savedBytes, const std::vector<Tensor> &cotangents,
                                const std::vector<Tensor> &grads, std::string &error) {
  if (!hasBackward()) {
    error = "the layer was compiled without its backward (pipeline option 'backward')";
    return false;
  }
  // Without saved states: the training forward first, into scratch.
  std::vector<float> ownSaved;
  if (!saved) {
    int64_t B, T, H;
    if (!validateInputs(inputs, B, T, H, nullptr, error))
      return false;
    std::vector<std::vector<uint8_t>> outData;
    outData.reserve(sig.outputs.size());
    std::vector<Tensor> outs = outputTensors(
        B, T, H, [&](size_t n) -> void * { return outData.emplace_back(n).data(); });
    savedBytes = this->savedBytes(B, T, H);
    ownSaved.resize(std::max<size_t>(savedBytes / 4, 1));
    if (!runForwardTrain(inputs, outs, ownSaved.data(), savedBytes, error))
      return false;
    saved = ownSaved.data();
  }
  int64_t B, T, H;
  std::vector<Descriptor> descs;
  std::vector<std::vector<uint8_t>> scratch;
  scratch.reserve(sig.outputs.size() + sig.inputs.size());
  auto zeroed = [&](size_t bytes) -> void * { return scratch.emplace_back(bytes, 0).data(); };
  if (!validateBackward(inputs, saved, savedBytes, cotangents, grads, B, T, H, descs, zeroed,
                        error))
    return false;
  size_t nIn = sig.inputs.size(), nSaved = sig.states.size(), nOut = sig.outputs.size();
  if (impl->cuda) {
    // Inputs, saved states and cotangents in; gradients out.
    size_t first = nIn + nSaved + nOut;
    return withDeviceCopies(
        descs, [&](size_t i) { return backwardBytesOf(descs, i); },
        [&](size_t i) { return i < first; }, [&](size_t i) { return i >= first; },
        [&](std::vector<Descriptor> &dev) {
          return backwardOnDevice(dev, B, H, nullptr, error);
        },
        error);
  }
  if (impl->options.gpu())
    return runBackwardPartials(descs, B, H, error);
  // Batch rows split over threads: per-token arrays, per-row states and
  // the saved states; the gradients of what every row shares (parameters,
  // position inputs, shared initial states) summed over the threads.
  std::vector<Split> how(descs.size(), Split::Rows);
  std::vector<size_t> bytes(descs.size(), 4);
  for (size_t i = 0; i < descs.size(); ++i) {
    if (i >= nIn && i < nIn + nSaved)
      continue; // saved states: float32, batch rows first
    size_t j = i < nIn ? i : i - nSaved;
    const ArgInfo &a = j < nIn ? sig.inputs[j] : j < nIn + nOut ? sig.outputs[j - nIn]
                                                                : sig.inputs[j - nIn - nOut];
    bytes[i] = elementBytes(a);
    int64_t rows = extentsOf(descs[i])[0];
    bool grad = j >= nIn + nOut;
    how[i] = splitsWithBatch(a, rows, B)  ? Split::Rows
             : grad && rows != 0         ? Split::Summed
                                         : Split::Shared;
  }
  return invoke(impl->backwardEntry, descs, how, bytes, B, error);
}

bool CompiledLayer::invoke(const std::string &entry, std::vector<Descriptor> &descs,
                           const std::vector<Split> &how, const std::vector<size_t> &elemBytes,
                           int64_t B, std::string &error) {
  if (impl->options.target == Target::CPU)
    return invokeSplit(entry, descs, how, elemBytes, B, error);
  std::vector<void *> ptrs, args;
  for (Descriptor &d : descs)
    ptrs.push_back(d.words.data());
  for (void *&p : ptrs)
    args.push_back(&p);
  emu::clearError();
  if (llvm::Error e = impl->engine->invokePacked(entry, args)) {
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

std::vector<CompiledLayer::PartialGrad>
CompiledLayer::partialGrads(const std::vector<Descriptor> &descs, int64_t B, int64_t H) const {
  // The kernels' programs write what they share per (b, h) (option
  // partial-sums of ttt-lower-layer-to-func): a parameter's [H, ...] gradient
  // as [B, H, ...], a position input's [C] as [B, H, C], a shared initial
  // state's [1, H, ...] as [B, H, ...].
  size_t nIn = sig.inputs.size(), first = nIn + sig.states.size() + sig.outputs.size();
  std::vector<PartialGrad> partials;
  for (size_t i = 0; i < nIn; ++i) {
    const ArgInfo &a = sig.inputs[i];
    std::vector<int64_t> ext = extentsOf(descs[first + i]);
    bool param = a.kind == ArgKind::ParamVector || a.kind == ArgKind::ParamScalar;
    bool position = a.kind == ArgKind::PositionScalar;
    bool sharedInit = a.kind == ArgKind::StateInit && !ext.empty() && ext[0] == 1 && B > 1;
    if (position && ext[0] == 0) { // omitted: no gradient, a [0, H, C] partial
      partials.push_back({first + i, {0, H, sig.miniBatch}, 0, 0});
      continue;
    }
    if (!param && !position && !sharedInit)
      continue;
    std::vector<int64_t> shape{B};
    if (position)
      shape.push_back(H);
    shape.insert(shape.end(), ext.begin() + (sharedInit ? 1 : 0), ext.end());
    size_t n = 1;
    for (int64_t d : ext)
      n *= size_t(d);
    partials.push_back({first + i, shape, n, size_t(position ? B * H : B)});
  }
  return partials;
}

bool CompiledLayer::runBackwardPartials(std::vector<Descriptor> &descs, int64_t B, int64_t H,
                                        std::string &error) {
  // Summed here in (b, h) order, the same order every run (and the cuda
  // target's on the device), into the caller's gradient.
  std::vector<PartialGrad> partials = partialGrads(descs, B, H);
  std::vector<std::vector<float>> data;
  std::vector<float *> dst;
  data.reserve(partials.size());
  for (const PartialGrad &p : partials) {
    Descriptor &g = descs[p.desc];
    dst.push_back(reinterpret_cast<float *>(g.words[1]));
    data.emplace_back(std::max<size_t>(p.n * p.terms, 1), 0.0f);
    g = Descriptor(p.terms ? data.back().data() : dst.back(), p.shape);
  }
  std::vector<Split> how(descs.size(), Split::Shared);
  std::vector<size_t> bytes(descs.size(), 4);
  if (!invoke(impl->backwardEntry, descs, how, bytes, B, error))
    return false;
  for (size_t k = 0; k < partials.size(); ++k)
    for (size_t j = 0; j < partials[k].n; ++j) {
      float acc = 0;
      for (size_t r = 0; r < partials[k].terms; ++r)
        acc += data[k][r * partials[k].n + j];
      dst[k][j] = acc;
    }
  return true;
}

bool CompiledLayer::run(const std::vector<Tensor> &inputs,
                        const std::vector<Tensor> &outputs, std::string &error) {
  int64_t B, T, H;
  std::vector<Descriptor> descs;
  if (!validate(inputs, outputs, B, T, H, descs, error))
    return false;
  if (impl->cuda) {
    size_t nIn = sig.inputs.size();
    return withDeviceCopies(
        descs, [&](size_t i) { return bytesOf(descs[i], i); },
        [&](size_t i) { return i < nIn; }, [&](size_t i) { return i >= nIn; },
        [&](std::vector<Descriptor> &dev) {
          return T == 0 || launch(B, H, dev, nullptr, error);
        },
        error);
  }
  std::vector<Split> how(descs.size(), Split::Shared);
  std::vector<size_t> bytes(descs.size());
  for (size_t i = 0; i < descs.size(); ++i) {
    const ArgInfo &a = argAt(i);
    bytes[i] = elementBytes(a);
    if (splitsWithBatch(a, extentsOf(descs[i])[0], B))
      how[i] = Split::Rows;
  }
  return invoke(impl->entry, descs, how, bytes, B, error);
}

bool CompiledLayer::hasResume() const { return !impl->resumeEntry.empty(); }

bool CompiledLayer::runResume(std::vector<Descriptor> &descs, int64_t B, std::string &error) {
  if (!hasResume()) {
    error = "the layer was compiled without its decode step (pipeline option 'decode')";
    return false;
  }
  std::vector<EntryArg> args = entryArguments(sig, EntryPoint::Resume);
  if (args.size() != descs.size()) {
    error = "internal error: " + std::to_string(descs.size()) + " arguments for " +
            impl->resumeEntry + ", expected " + std::to_string(args.size());
    return false;
  }
  std::vector<Split> how(descs.size(), Split::Shared);
  std::vector<size_t> bytes(descs.size());
  for (size_t i = 0; i < descs.size(); ++i) {
    bytes[i] = args[i].role == EntryArg::State ? 4 : elementBytes(*args[i].arg);
    if (splitsWithBatch(*args[i].arg, extentsOf(descs[i])[0], B))
      how[i] = Split::Rows;
  }
  if (impl->cuda) {
    // Host buffers through copies: the inputs and states in, the readouts
    // and final states (the arguments after them) out.
    size_t nIn = sig.states.size();
    for (const ArgInfo &a : sig.inputs)
      nIn += a.kind != ArgKind::StateInit;
    auto out = [&](size_t i) { return i >= nIn; };
    return withDeviceCopies(
        descs,
        [&](size_t i) {
          size_t n = bytes[i];
          for (int64_t e : extentsOf(descs[i]))
            n *= size_t(e);
          return n;
        },
        [&](size_t i) { return !out(i); }, out,
        [&](std::vector<Descriptor> &dev) {
          return launchKernel(impl->resumeKernel, B, extentsOf(descs.back())[1], dev, nullptr,
                              error);
        },
        error);
  }
  return invoke(impl->resumeEntry, descs, how, bytes, B, error);
}

} // namespace tttc
