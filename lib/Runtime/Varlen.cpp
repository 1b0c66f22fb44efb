//===- Varlen.cpp - packed variable-length batches -------------------------===//

#include "Varlen.h"
#include "Frontend.h"
#include "tttc/tttc_cuda.h"

#include "llvm/Support/ThreadPool.h"

#include <cstring>
#include <functional>

using namespace mlir::ttt;

namespace tttc {
namespace {

const ArgInfo *find(const std::vector<ArgInfo> &args, const std::string &name) {
  for (const ArgInfo &a : args)
    if (a.name == name)
      return &a;
  return nullptr;
}

bool perToken(const ArgInfo &a) {
  return a.kind == ArgKind::TokenVector || a.kind == ArgKind::TokenScalar ||
         a.kind == ArgKind::Readout;
}

int64_t elements(const std::vector<int64_t> &shape, size_t from = 0) {
  int64_t n = 1;
  for (size_t i = from; i < shape.size(); ++i)
    n *= shape[i];
  return n;
}

/// Whether `t` of state argument `a` is in the per-row [rows, H, ...] form.
bool perRow(const ArgInfo &a, const Tensor &t) {
  return t.shape.size() == a.inner.size() + 2;
}

} // namespace

Part partOf(const ArgInfo *a, const Tensor &t, bool grad) {
  if (!a)
    return Part::Whole; // unknown: the per-sequence call reports it
  if (perToken(*a))
    return Part::Tokens;
  if (a->kind == ArgKind::StateFinal)
    return Part::Row;
  // [N, H, ...]: one row per sequence; [1, H, ...] and [H, ...]: shared.
  if (a->kind == ArgKind::StateInit && perRow(*a, t) && t.shape[0] != 1)
    return Part::Row;
  return grad ? Part::Summed : Part::Whole;
}

Tensor view(const Tensor &t, Part p, const std::vector<int64_t> &cu, size_t i, size_t elemBytes) {
  Tensor v = t;
  if (p == Part::Tokens) {
    v.shape[1] = cu[i + 1] - cu[i];
    v.data = static_cast<char *>(t.data) + cu[i] * elements(t.shape, 2) * int64_t(elemBytes);
  } else if (p == Part::Row) {
    v.shape[0] = 1;
    v.data = static_cast<char *>(t.data) + int64_t(i) * elements(t.shape, 1) * int64_t(elemBytes);
  }
  return v;
}

namespace {

struct Packed {
  std::vector<Part> parts;
  std::vector<size_t> bytes;
};

/// The parts of `ts` (arguments named in `args`), checking their packed
/// shapes: per-token [1, T_total, ...]; per-sequence rows N.
bool classify(const CompiledLayer &l, const std::vector<ArgInfo> &args,
              const std::vector<Tensor> &ts, const std::vector<int64_t> &cu, bool grad,
              const char *what, Packed &p, std::string &error) {
  int64_t N = int64_t(cu.size()) - 1;
  for (const Tensor &t : ts) {
    const ArgInfo *a = find(args, t.name);
    Part part = partOf(a, t, grad);
    if (part == Part::Tokens && (t.shape.size() < 3 || t.shape[0] != 1 || t.shape[1] != cu.back())) {
      error = std::string(what) + " '" + t.name + "' has shape " + shapeStr(t.shape) +
              "; a packed batch is [1, T_total, H, ...] with T_total = cu_seqlens[" +
              std::to_string(N) + "] = " + std::to_string(cu.back());
      return false;
    }
    if (part == Part::Row && (t.shape.empty() || t.shape[0] != N)) {
      error = std::string(what) + " '" + t.name + "' has shape " + shapeStr(t.shape) + ": " +
              (a->kind == ArgKind::StateFinal
                   ? "one row per sequence, [N, H, ...] with N = "
                   : "the per-head [H, ...] form or one row per sequence, [N, H, ...] with "
                     "N = ") +
              std::to_string(N);
      return false;
    }
    p.parts.push_back(part);
    p.bytes.push_back(a ? l.elementBytes(*a) : 4);
  }
  return true;
}

std::vector<Tensor> views(const std::vector<Tensor> &ts, const Packed &p,
                          const std::vector<int64_t> &cu, size_t i) {
  std::vector<Tensor> r;
  for (size_t j = 0; j < ts.size(); ++j)
    r.push_back(view(ts[j], p.parts[j], cu, i, p.bytes[j]));
  return r;
}

std::string where(const std::vector<int64_t> &cu, size_t i) {
  return "sequence " + std::to_string(i) + " (tokens " + std::to_string(cu[i]) + ".." +
         std::to_string(cu[i + 1]) + "): ";
}

int64_t headsOf(const CompiledLayer &l, const std::vector<Tensor> &inputs) {
  for (const Tensor &t : inputs)
    if (const ArgInfo *a = find(l.signature().inputs, t.name))
      if (a->kind == ArgKind::TokenVector && t.shape.size() == 4)
        return t.shape[2];
  return 0;
}
/// Runs `body(i)` (an error message, "" on success) for every sequence i:
/// on the cpu target over the layer's threads (cpu-threads; each call has
/// one batch row, so it runs on one), elsewhere one after another. The first
/// failing sequence's error, in sequence order.
bool forEachSequence(const CompiledLayer &l, size_t N,
                     const std::function<std::string(size_t)> &body, std::string &error) {
  int64_t threads = l.options().cpuThreads;
  if (threads == 0)
    threads = std::max<int64_t>(1, llvm::hardware_concurrency().compute_thread_count());
  threads = std::min<int64_t>(threads, int64_t(N));
  std::vector<std::string> errors(N);
  if (l.options().target != mlir::ttt::Target::CPU || threads <= 1) {
    for (size_t i = 0; i < N; ++i)
      if (!(errors[i] = body(i)).empty())
        break;
  } else {
    llvm::StdThreadPool pool(llvm::hardware_concurrency(unsigned(threads)));
    for (size_t i = 0; i < N; ++i)
      pool.async([&, i] { errors[i] = body(i); });
    pool.wait();
  }
  for (const std::string &e : errors)
    if (!e.empty()) {
      error = e;
      return false;
    }
  return true;
}

bool checkSaved(const CompiledLayer &l, const std::vector<int64_t> &cu, int64_t H, size_t bytes,
                std::string &error) {
  size_t want = savedBytesVarlen(l, cu, H);
  if (bytes == want)
    return true;
  error = "saved has " + std::to_string(bytes) + " bytes, expected " + std::to_string(want) +
          " (tttc_saved_bytes_varlen)";
  return false;
}
} // namespace

bool checkSeqlens(const CompiledLayer &l, const std::vector<Tensor> &inputs,
                  const std::vector<int64_t> &cu, std::string &error) {
  if (cu.size() < 2) {
    error = "cu_seqlens needs N + 1 >= 2 offsets (got " + std::to_string(cu.size()) + ")";
    return false;
  }
  if (cu[0] != 0) {
    error = "cu_seqlens[0] is " + std::to_string(cu[0]) + ", expected 0";
    return false;
  }
  for (size_t i = 0; i + 1 < cu.size(); ++i)
    if (cu[i + 1] <= cu[i]) {
      error = "cu_seqlens must increase strictly: cu_seqlens[" + std::to_string(i + 1) +
              "] = " + std::to_string(cu[i + 1]) + " after cu_seqlens[" + std::to_string(i) +
              "] = " + std::to_string(cu[i]) + (cu[i + 1] == cu[i] ? " (an empty sequence)" : "");
      return false;
    }
  for (const Tensor &t : inputs)
    if (const ArgInfo *a = find(l.signature().inputs, t.name))
      if (perToken(*a) && t.shape.size() >= 2 && t.shape[1] != cu.back()) {
        error = "cu_seqlens ends at " + std::to_string(cu.back()) + " but input '" + t.name +
                "' has T_total = " + std::to_string(t.shape[1]) + " tokens";
        return false;
      }
  return true;
}

size_t savedBytesVarlen(const CompiledLayer &l, const std::vector<int64_t> &cu, int64_t H) {
  size_t n = 0;
  for (size_t i = 0; i + 1 < cu.size(); ++i)
    n += l.savedBytes(1, cu[i + 1] - cu[i], H);
  return n;
}

bool runForwardTrainVarlen(CompiledLayer &l, const std::vector<Tensor> &inputs,
                           const std::vector<Tensor> &outputs, const std::vector<int64_t> &cu,
                           void *saved, size_t savedBytes, std::string &error, Placement at) {
  if (!checkSeqlens(l, inputs, cu, error))
    return false;
  Packed pi, po;
  if (!classify(l, l.signature().inputs, inputs, cu, false, "input", pi, error) ||
      !classify(l, l.signature().outputs, outputs, cu, false, "output", po, error))
    return false;
  int64_t H = headsOf(l, inputs);
  if (saved && !checkSaved(l, cu, H, savedBytes, error))
    return false;
  // Sequence i's saved states start after those of the sequences before it.
  std::vector<size_t> offset(cu.size(), 0);
  for (size_t i = 0; i + 1 < cu.size(); ++i)
    offset[i + 1] = offset[i] + l.savedBytes(1, cu[i + 1] - cu[i], H);
  return forEachSequence(l, cu.size() - 1, [&](size_t i) -> std::string {
    std::vector<Tensor> in = views(inputs, pi, cu, i), out = views(outputs, po, cu, i);
    std::string err;
    void *s = saved ? static_cast<char *>(saved) + offset[i] : nullptr;
    size_t bytes = offset[i + 1] - offset[i];
    bool ok = at.device ? (saved ? l.runForwardTrainOnDevice(in, out, s, bytes, at.stream, err)
                                 : l.runOnDevice(in, out, at.stream, err))
              : saved   ? l.runForwardTrain(in, out, s, bytes, err)
                        : l.run(in, out, err);
    return ok ? "" : where(cu, i) + err;
  }, error);
}

bool runVarlen(CompiledLayer &l, const std::vector<Tensor> &inputs,
               const std::vector<Tensor> &outputs, const std::vector<int64_t> &cu,
               std::string &error, Placement at) {
  return runForwardTrainVarlen(l, inputs, outputs, cu, nullptr, 0, error, at);
}

bool runBackwardVarlen(CompiledLayer &l, const std::vector<Tensor> &inputs,
                       const std::vector<int64_t> &cu, const void *saved, size_t savedBytes,
                       const std::vector<Tensor> &cotangents, const std::vector<Tensor> &grads,
                       std::string &error, Placement at) {
  if (!checkSeqlens(l, inputs, cu, error))
    return false;
  const LayerSignature &sig = l.signature();
  Packed pi, pc, pg;
  if (!classify(l, sig.inputs, inputs, cu, false, "input", pi, error) ||
      !classify(l, sig.outputs, cotangents, cu, false, "cotangent", pc, error))
    return false;
  // A gradient takes its input's form: what the input is, given.
  std::vector<Tensor> gradForm;
  for (const Tensor &g : grads) {
    Tensor t = g;
    for (const Tensor &in : inputs)
      if (in.name == g.name)
        t.shape = in.shape;
    if (t.shape != g.shape) {
      error = "gradient '" + g.name + "' has shape " + shapeStr(g.shape) + ", expected " +
              shapeStr(t.shape) + " (the shape input '" + g.name + "' was given with)";
      return false;
    }
    gradForm.push_back(t);
  }
  if (!classify(l, sig.inputs, gradForm, cu, true, "gradient", pg, error))
    return false;
  int64_t H = headsOf(l, inputs);
  if (saved && !checkSaved(l, cu, H, savedBytes, error))
    return false;
  // Summed gradients: a float32 buffer per gradient with a row per
  // sequence, added in sequence order afterwards (the same sums whatever
  // the threads): host memory, or device memory on the stream.
  size_t N = cu.size() - 1;
  std::vector<float *> part(grads.size(), nullptr);
  std::vector<std::vector<float>> hostPart(grads.size());
  struct DeviceParts {
    std::vector<float *> ptrs;
    void *stream;
    ~DeviceParts() {
      for (float *p : ptrs)
        tttc_cuda_free_async(p, stream);
    }
  } deviceParts{{}, at.stream};
  for (size_t j = 0; j < grads.size(); ++j)
    if (pg.parts[j] == Part::Summed) {
      if (!grads[j].data) {
        error = "gradient '" + grads[j].name + "': data is NULL";
        return false;
      }
      size_t n = N * size_t(elements(grads[j].shape));
      if (!at.device) {
        hostPart[j].resize(n);
        part[j] = hostPart[j].data();
        continue;
      }
      if (!tttc_cuda_is_device_memory(grads[j].data)) {
        error = "gradient '" + grads[j].name +
                "' is not device memory (allocate it with cuMemAlloc or on the GPU)";
        return false;
      }
      void *p = tttc_cuda_alloc_async(4 * n, at.stream);
      if (!p || tttc_cuda_zero_async(p, 4 * n, at.stream)) {
        error = tttc_cuda_last_error();
        tttc_cuda_free_async(p, at.stream);
        return false;
      }
      deviceParts.ptrs.push_back(part[j] = static_cast<float *>(p));
    }
  std::vector<size_t> offset(cu.size(), 0);
  for (size_t i = 0; i < N; ++i)
    offset[i + 1] = offset[i] + l.savedBytes(1, cu[i + 1] - cu[i], H);
  if (!forEachSequence(l, N, [&](size_t i) -> std::string {
        std::vector<Tensor> in = views(inputs, pi, cu, i), cot = views(cotangents, pc, cu, i),
                            g = views(grads, pg, cu, i);
        for (size_t j = 0; j < grads.size(); ++j)
          if (pg.parts[j] == Part::Summed)
            g[j].data = part[j] + i * size_t(elements(grads[j].shape));
        const void *s = saved ? static_cast<const char *>(saved) + offset[i] : nullptr;
        size_t bytes = saved ? offset[i + 1] - offset[i] : 0;
        std::string err;
        if (!(at.device ? l.runBackwardOnDevice(in, s, bytes, cot, g, at.stream, err)
                        : l.runBackward(in, s, bytes, cot, g, err)))
          return where(cu, i) + err;
        return "";
      }, error))
    return false;
  for (size_t j = 0; j < grads.size(); ++j) {
    if (pg.parts[j] != Part::Summed)
      continue;
    auto *acc = static_cast<float *>(grads[j].data);
    size_t n = size_t(elements(grads[j].shape));
    if (at.device) {
      if (tttc_cuda_sum_rows(acc, part[j], int64_t(N), int64_t(n), at.stream)) {
        error = tttc_cuda_last_error();
        return false;
      }
      continue;
    }
    std::memset(acc, 0, n * sizeof(float));
    for (size_t i = 0; i < N; ++i)
      for (size_t e = 0; e < n; ++e)
        acc[e] += part[j][i * n + e];
  }
  return true;
}

} // namespace tttc
