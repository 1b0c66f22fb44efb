//===- CudaLayer.cpp - the cuda target: kernels, column blocks, launches --===//
//
// A layer compiled for target cuda holds PTX kernels loaded through the
// driver (lib/CudaRuntime): one per column-block count, compiled on first
// use when the options leave the count to the launch (chosen from B * H and
// the device). Host buffers go through device copies; device buffers are
// launched on directly, on the caller's stream.
//
//===----------------------------------------------------------------------===//

#include "LayerImpl.h"

#include <algorithm>

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
  PipelineOptions o = im.options;
  o.columnBlocks = blocks;
  o.arch = tttc_cuda_device_arch();
  std::string ptx = emit(im.source, im.bufferName, Stage::PTX, o, error);
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

bool CompiledLayer::runCudaOnHost(int64_t B, int64_t T, int64_t H,
                                  std::vector<Descriptor> &descs, std::string &error) {
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

} // namespace tttc
