//===- CudaLayer.cpp - the cuda target: kernels, column blocks, launches --===//
//
// A layer compiled for target cuda holds PTX kernels loaded through the
// driver (lib/CudaRuntime): one per column-block count, compiled on first
// use when the options leave the count to the launch (chosen from B * H and
// the device); with the backward, the training forward's and the backward's
// kernels too, whose shared gradients are summed on the device
// (tttc_cuda_sum_rows), and with decode the resume kernel the decoder
// steps through. Host buffers go through device copies; device
// buffers are launched on directly, on the caller's stream.
//
//===----------------------------------------------------------------------===//

#include "LayerImpl.h"

#include <algorithm>
#include <sstream>

using namespace mlir::ttt;

namespace tttc {

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
  return launchKernel(*k, B, H, descs, stream, error);
}

bool CompiledLayer::launchKernel(CudaKernel &k, int64_t B, int64_t H,
                                 std::vector<Descriptor> &descs, void *stream,
                                 std::string &error) {
  // descs: the entry point's argument order; the kernel's parameters: its
  // own.
  std::vector<void *> ptrs;
  std::vector<std::vector<int64_t>> shapes;
  for (int j : k.paramOrder) {
    Descriptor &d = descs[j];
    ptrs.push_back(reinterpret_cast<void *>(d.words[1]));
    shapes.push_back(extentsOf(d));
  }
  std::vector<const int64_t *> shapePtrs;
  for (auto &s : shapes)
    shapePtrs.push_back(s.data());
  if (tttc_cuda_launch(k.kernel, B, H, ptrs.data(), shapePtrs.data(), stream)) {
    error = tttc_cuda_last_error();
    return false;
  }
  return true;
}

bool CompiledLayer::loadKernel(const std::string &ptx, EntryPoint e, CudaKernel &k,
                               std::string &error) {
  tttc_cuda_kernel *kernel = tttc_cuda_load_ptx(ptx.c_str());
  if (!kernel) {
    error = std::string("target cuda: ") + tttc_cuda_last_error();
    return false;
  }
  // The kernel takes the entry point's buffers in its own order (first use
  // in the kernel), named in its header: where each sits in the entry
  // point's arguments. (A buffer the kernel does not touch is no parameter.)
  std::vector<EntryArg> args = entryArguments(sig, e);
  k.kernel = kernel;
  k.paramOrder.clear();
  int n = tttc_cuda_num_params(kernel);
  for (int i = 0; i < n; ++i) {
    auto it = std::find_if(args.begin(), args.end(), [&](const EntryArg &a) {
      return a.name == tttc_cuda_param_name(kernel, i);
    });
    if (it == args.end())
      break;
    k.paramOrder.push_back(int(it - args.begin()));
  }
  if (int(k.paramOrder.size()) != n || (e == EntryPoint::Forward && n != int(args.size()))) {
    tttc_cuda_free(kernel);
    k.kernel = nullptr;
    error = "internal error: the kernel's parameters are not the layer's buffers";
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
  PipelineOptions o = im.options;
  o.columnBlocks = blocks;
  o.arch = tttc_cuda_device_arch();
  // The forward alone (the other entry points' kernels: loadEntryKernels).
  o.backward = false;
  o.backwardCheckpoint = 1;
  o.decode = false;
  std::string ptx = emit(im.source, im.bufferName, Stage::PTX, o, error);
  CudaKernel k;
  if (ptx.empty() || !loadKernel(ptx, EntryPoint::Forward, k, error))
    return nullptr;
  return &(im.kernels[blocks] = std::move(k));
}

bool CompiledLayer::loadEntryKernels(std::string &error) {
  Impl &im = *impl;
  PipelineOptions o = im.options;
  o.columnBlocks = 1;
  o.arch = tttc_cuda_device_arch();
  std::string listing = emit(im.source, im.bufferName, Stage::PTX, o, error);
  if (listing.empty())
    return false;
  std::vector<KernelPTX> ks = splitKernels(listing, error);
  if (ks.empty())
    return false;
  auto load = [&](const std::string &entry, EntryPoint e, CudaKernel &k) {
    for (const KernelPTX &p : ks)
      if (p.name == entry + "_kernel") {
        // The tokens per chunk step (the saved states' slots, the decoder's
        // chunk): "chunk C" on the kernel's header line.
        std::istringstream header(p.text.substr(0, p.text.find('\n')));
        for (std::string w; header >> w;)
          if (w == "chunk")
            header >> chunk;
        return loadKernel(p.text, e, k, error);
      }
    error = "internal error: no kernel for " + entry;
    return false;
  };
  if (o.backward && (!load(sig.name + "_forward_train", EntryPoint::Train, im.trainKernel) ||
                     !load(sig.name + "_backward", EntryPoint::Backward, im.backwardKernel)))
    return false;
  if (o.decode && !load(sig.name + "_resume", EntryPoint::Resume, im.resumeKernel))
    return false;
  if (chunk < 1) {
    error = "internal error: the kernels record no chunk size";
    return false;
  }
  if (o.backward) {
    im.trainEntry = sig.name + "_forward_train";
    im.backwardEntry = sig.name + "_backward";
  }
  if (o.decode)
    im.resumeEntry = sig.name + "_resume";
  return true;
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
  auto splits = [&](int64_t n) { return sig.headDim % n == 0 && sig.headDim / n >= 16; };
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

bool CompiledLayer::runOnDevice(const std::vector<Tensor> &inputs,
                                const std::vector<Tensor> &outputs, void *stream,
                                std::string &error) {
  if (!impl->cuda) {
    error = "the layer was compiled for target '" +
            PipelineOptions::spelling(impl->options.target).str() +
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

bool CompiledLayer::withDeviceCopies(std::vector<Descriptor> &descs,
                                     const std::function<size_t(size_t)> &bytes,
                                     const std::function<bool(size_t)> &in,
                                     const std::function<bool(size_t)> &out,
                                     const std::function<bool(std::vector<Descriptor> &)> &run,
                                     std::string &error) {
  std::vector<void *> dev(descs.size(), nullptr);
  auto release = [&] {
    for (void *p : dev)
      tttc_cuda_free_device(p);
  };
  for (size_t i = 0; i < descs.size(); ++i) {
    size_t n = bytes(i);
    if (n == 0)
      continue;
    dev[i] = tttc_cuda_alloc_device(n);
    if (!dev[i] ||
        (in(i) && tttc_cuda_copy_to_device(dev[i], reinterpret_cast<void *>(descs[i].words[1]), n))) {
      error = tttc_cuda_last_error();
      release();
      return false;
    }
  }
  std::vector<Descriptor> devDescs = descs;
  for (size_t i = 0; i < descs.size(); ++i)
    devDescs[i].words[0] = devDescs[i].words[1] = reinterpret_cast<int64_t>(dev[i]);
  bool ok = run(devDescs);
  for (size_t i = 0; ok && i < descs.size(); ++i) {
    size_t n = bytes(i);
    if (n && out(i) &&
        tttc_cuda_copy_to_host(reinterpret_cast<void *>(descs[i].words[1]), dev[i], n)) {
      error = tttc_cuda_last_error();
      ok = false;
    }
  }
  release();
  return ok;
}

namespace {
/// Device memory of one call, stream-ordered: allocated and zeroed on the
/// stream, freed on it once the call's launches are queued.
struct DeviceScratch {
  void *stream;
  std::vector<void *> ptrs;
  std::string error;
  explicit DeviceScratch(void *stream) : stream(stream) {}
  DeviceScratch(const DeviceScratch &) = delete;
  ~DeviceScratch() {
    for (void *p : ptrs)
      tttc_cuda_free_async(p, stream);
  }
  void *zeroed(size_t bytes) {
    void *p = tttc_cuda_alloc_async(bytes, stream);
    if (!p || tttc_cuda_zero_async(p, bytes, stream)) {
      error = tttc_cuda_last_error();
      tttc_cuda_free_async(p, stream);
      return nullptr;
    }
    ptrs.push_back(p);
    return p;
  }
};
} // namespace

bool CompiledLayer::backwardOnDevice(std::vector<Descriptor> &descs, int64_t B, int64_t H,
                                     void *stream, std::string &error) {
  // What the programs share, written per (b, h) into scratch and summed on
  // the device in (b, h) order: bit for bit cuda-emu's host sum.
  DeviceScratch scratch(stream);
  std::vector<PartialGrad> partials = partialGrads(descs, B, H);
  std::vector<std::pair<float *, float *>> sums; // (the caller's gradient, its partials)
  size_t first = descs.size() - sig.inputs.size();
  for (const PartialGrad &p : partials) {
    Descriptor &g = descs[p.desc];
    auto *dst = reinterpret_cast<float *>(g.words[1]);
    if (p.terms && !tttc_cuda_is_device_memory(dst)) {
      error = "gradient '" + sig.inputs[p.desc - first].name +
              "' is not device memory (allocate it with cuMemAlloc or on the GPU)";
      return false;
    }
    void *data = dst;
    if (p.terms && !(data = scratch.zeroed(4 * p.n * p.terms))) {
      error = scratch.error;
      return false;
    }
    sums.push_back({dst, static_cast<float *>(data)});
    g = Descriptor(data, p.shape);
  }
  if (!launchKernel(impl->backwardKernel, B, H, descs, stream, error))
    return false;
  for (size_t k = 0; k < partials.size(); ++k)
    if (partials[k].terms &&
        tttc_cuda_sum_rows(sums[k].first, sums[k].second, int64_t(partials[k].terms),
                           int64_t(partials[k].n), stream)) {
      error = tttc_cuda_last_error();
      return false;
    }
  return true;
}

bool CompiledLayer::trainsOnDevice(std::string &error) const {
  if (!impl->cuda)
    error = "the layer was compiled for target '" +
            PipelineOptions::spelling(impl->options.target).str() +
            "': device buffers need target cuda";
  else if (!hasBackward())
    error = "the layer was compiled without its backward (pipeline option 'backward')";
  return impl->cuda && hasBackward();
}

bool CompiledLayer::runForwardTrainOnDevice(const std::vector<Tensor> &inputs,
                                            const std::vector<Tensor> &outputs, void *saved,
                                            size_t savedBytes, void *stream,
                                            std::string &error) {
  if (!trainsOnDevice(error))
    return false;
  int64_t B, T, H;
  std::vector<Descriptor> descs;
  if (!validateTrain(inputs, outputs, saved, savedBytes, B, T, H, descs, error))
    return false;
  return launchKernel(impl->trainKernel, B, H, descs, stream, error);
}

bool CompiledLayer::runBackwardOnDevice(const std::vector<Tensor> &inputs, const void *saved,
                                        size_t savedBytes, const std::vector<Tensor> &cotangents,
                                        const std::vector<Tensor> &grads, void *stream,
                                        std::string &error) {
  if (!trainsOnDevice(error))
    return false;
  DeviceScratch scratch(stream);
  if (!saved) {
    // The training forward first, into scratch on the stream.
    int64_t B, T, H;
    if (!validateInputs(inputs, B, T, H, nullptr, error))
      return false;
    std::vector<Tensor> outs =
        outputTensors(B, T, H, [&](size_t n) { return scratch.zeroed(n); });
    if (!scratch.error.empty()) {
      error = scratch.error;
      return false;
    }
    savedBytes = this->savedBytes(B, T, H);
    void *own = scratch.zeroed(std::max<size_t>(savedBytes, 4));
    if (!own) {
      error = scratch.error;
      return false;
    }
    if (!runForwardTrainOnDevice(inputs, outs, own, savedBytes, stream, error))
      return false;
    saved = own;
  }
  int64_t B, T, H;
  std::vector<Descriptor> descs;
  if (!validateBackward(
          inputs, saved, savedBytes, cotangents, grads, B, T, H, descs,
          [&](size_t bytes) { return scratch.zeroed(bytes); }, error)) {
    if (!scratch.error.empty())
      error = scratch.error;
    return false;
  }
  return backwardOnDevice(descs, B, H, stream, error);
}

} // namespace tttc
