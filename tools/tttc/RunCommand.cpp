//===- RunCommand.cpp - tttc run: a layer on inputs, checked and timed ----===//
//
// Runs a layer on .npy inputs (or seeded random ones), writes its outputs,
// compares them with the float64 per-token reference interpreter (--check)
// and times repeated runs (--repeat).
//
//===----------------------------------------------------------------------===//

#include "Driver.h"
#include "Npy.h"
#include "tttc/tttc_fp16.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <random>
#include <sys/stat.h>

namespace tttc::driver {
namespace {

/// A tolerance as written in the help: 0.01, 1e-5.
std::string tolStr(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  std::string s = buf;
  if (size_t e = s.find("e-0"); e != std::string::npos)
    s.erase(e + 2, 1);
  return s;
}


/// Random inputs in the ranges the layers expect: activations with unit
/// row norm on average, gates in (0.05, 0.95), parameters around 1 (vectors)
/// or 0 (scalars), initial matrices with 1/sqrt(rows) entries.
void fillRandom(std::mt19937_64 &rng, int kind, const std::vector<int64_t> &shape,
                std::vector<float> &data) {
  std::normal_distribution<double> normal(0.0, 1.0);
  std::uniform_real_distribution<double> uni(0.05, 0.95);
  int64_t inner = shape.empty() ? 1 : shape.back();
  for (float &x : data) {
    switch (kind) {
    case TTTC_TOKEN_VECTOR:
      x = float(normal(rng) / std::sqrt(double(inner)));
      break;
    case TTTC_TOKEN_SCALAR:
      x = float(uni(rng));
      break;
    case TTTC_PARAM_VECTOR:
      x = float(1.0 + 0.2 * normal(rng));
      break;
    case TTTC_PARAM_SCALAR:
      x = float(normal(rng));
      break;
    default: { // state init: [H, rows(, cols)]
      int64_t rows = shape.size() >= 3 ? shape[shape.size() - 2] : inner;
      x = float(normal(rng) / std::sqrt(double(rows)));
    }
    }
  }
}

/// "cuda-emu (gpu-threads=32 check-races)": the target and the options given
/// that shape its code (not those the line prints otherwise).
std::string targetDescription(const Invocation &a) {
  std::string knobs;
  size_t start = 0;
  const std::string &s = a.pipelineOptions;
  while (start < s.size()) {
    size_t end = s.find(' ', start);
    if (end == std::string::npos)
      end = s.size();
    std::string w = s.substr(start, end - start);
    start = end + 1;
    if (w.empty())
      continue;
    std::string key = w.substr(0, w.find('='));
    if (key == "target" || key == "head-dim" || key == "mini-batch" || key == "io-dtype")
      continue;
    knobs += (knobs.empty() ? "" : " ") + w;
  }
  return knobs.empty() ? a.target : a.target + " (" + knobs + ")";
}

/// The float64 reference of a packed batch: each sequence's own (its
/// per-token inputs sliced, its row of per-sequence initial states), placed
/// where the packed outputs hold it. Non-zero on error (tttc_last_error()).
int referenceVarlen(tttc_layer *layer, const std::vector<tttc_tensor> &ins,
                    const std::vector<int64_t> &cu, const std::vector<tttc_tensor> &outs,
                    std::vector<std::vector<double>> &ref) {
  int64_t N = int64_t(cu.size()) - 1;
  auto indexOf = [&](const char *name) {
    for (int i = 0; i < tttc_num_inputs(layer); ++i)
      if (std::strcmp(tttc_input_name(layer, i), name) == 0)
        return i;
    return -1;
  };
  auto elems = [](const int64_t *s, int from, int rank) {
    int64_t n = 1;
    for (int d = from; d < rank; ++d)
      n *= s[d];
    return n;
  };
  for (int64_t i = 0; i < N; ++i) {
    int64_t t0 = cu[i], len = cu[i + 1] - cu[i];
    std::vector<tttc_tensor> si = ins;
    std::vector<std::vector<int64_t>> shapes(ins.size() + outs.size());
    for (size_t j = 0; j < ins.size(); ++j) {
      int k = indexOf(ins[j].name), kind = k < 0 ? -1 : tttc_input_kind(layer, k);
      int64_t perHead[8];
      int headRank = k < 0 ? 0 : tttc_input_shape(layer, k, 1, 1, 1, perHead);
      shapes[j].assign(ins[j].shape, ins[j].shape + ins[j].rank);
      float *d = static_cast<float *>(ins[j].data);
      if ((kind == TTTC_TOKEN_VECTOR || kind == TTTC_TOKEN_SCALAR) && ins[j].rank >= 2) {
        si[j].data = d + t0 * elems(ins[j].shape, 2, ins[j].rank);
        shapes[j][1] = len;
      } else if (kind == TTTC_STATE_INIT && ins[j].rank == headRank + 1 &&
                 ins[j].shape[0] == N && N > 1) { // [N, H, ...]; [1, H, ...] is shared
        si[j].data = d + i * elems(ins[j].shape, 1, ins[j].rank);
        shapes[j][0] = 1;
      }
      si[j].shape = shapes[j].data();
    }
    std::vector<std::vector<double>> part(outs.size());
    std::vector<tttc_tensor_f64> refs;
    for (size_t j = 0; j < outs.size(); ++j) {
      bool readout = tttc_output_kind(layer, int(j)) == TTTC_READOUT;
      std::vector<int64_t> &sh = shapes[ins.size() + j];
      sh.assign(outs[j].shape, outs[j].shape + outs[j].rank);
      if (readout)
        sh[1] = len;
      else
        sh[0] = 1;
      part[j].resize(size_t(elems(sh.data(), 0, int(sh.size()))));
      refs.push_back({outs[j].name, part[j].data(), outs[j].rank, sh.data()});
    }
    if (int rc = tttc_run_reference(layer, si.data(), int(si.size()), refs.data(),
                                    int(refs.size())))
      return rc;
    for (size_t j = 0; j < outs.size(); ++j) {
      int64_t at = tttc_output_kind(layer, int(j)) == TTTC_READOUT
                       ? t0 * elems(outs[j].shape, 2, outs[j].rank)
                       : i * int64_t(part[j].size());
      std::copy(part[j].begin(), part[j].end(), ref[j].begin() + at);
    }
  }
  return 0;
}
} // namespace

void makeDirs(const std::string &path) {
  for (size_t i = 1; i <= path.size(); ++i)
    if (i == path.size() || path[i] == '/')
      mkdir(path.substr(0, i).c_str(), 0777);
}

double nowMs() {
  return std::chrono::duration<double, std::milli>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

int runCommand(const Invocation &a) {
  if (!a.emit.empty())
    return die("--emit is not an option of 'tttc run' (use 'tttc SPEC --emit=STAGE')");
  // Load input files.
  std::map<std::string, tttc::NpyArray> files;
  for (auto &[name, path] : a.inputs) {
    std::string err;
    if (files.count(name))
      return die("input '" + name + "' given twice");
    if (!tttc::readNpy(path, files[name], err))
      return die("input '" + name + "': " + err);
  }
  // A packed batch: N + 1 offsets from a file or a list.
  std::vector<int64_t> cu;
  if (!a.cuSeqlens.empty()) {
    const std::string &c = a.cuSeqlens;
    std::string err;
    if (c.size() > 4 && c.substr(c.size() - 4) == ".npy") {
      if (!tttc::readNpyOffsets(c, cu, err))
        return die("--cu-seqlens: " + err);
    } else {
      size_t start = 0;
      while (start <= c.size()) {
        size_t end = std::min(c.find(',', start), c.size());
        std::string item = c.substr(start, end - start);
        char *stop = nullptr;
        long long v = std::strtoll(item.c_str(), &stop, 10);
        if (item.empty() || *stop)
          return die("--cu-seqlens '" + c + "': expected FILE.npy or comma-separated offsets "
                     "(0,5,22,32)");
        cu.push_back(v);
        start = end + 1;
      }
    }
    if (cu.size() < 2)
      return die("--cu-seqlens: expected N + 1 >= 2 offsets");
  }
  int64_t N = cu.empty() ? 0 : int64_t(cu.size()) - 1;
  int64_t D = a.headDim;
  if (!D && files.empty())
    D = 64;
  if (!D) {
    // Infer D from the first per-token vector input: probe the signature.
    tttc_options probeOpts = a.capi(1);
    probeOpts.target = "cpu"; // the signature alone
    probeOpts.options = nullptr;
    tttc_layer *probe = tttc_compile_file(a.spec.c_str(), &probeOpts);
    if (!probe)
      return die(tttc_last_error());
    for (int i = 0; i < tttc_num_inputs(probe) && !D; ++i) {
      if (tttc_input_kind(probe, i) != TTTC_TOKEN_VECTOR)
        continue;
      auto it = files.find(tttc_input_name(probe, i));
      int64_t shape[8];
      tttc_input_shape(probe, i, 1, 1, 1, shape);
      if (it != files.end() && it->second.shape.size() == 4 && shape[3] > 0)
        D = it->second.shape[3] / shape[3];
    }
    tttc_destroy(probe);
    if (!D)
      return die("cannot infer the head dimension: give --head-dim or the per-token "
                 "vector inputs");
  }
  double t0 = nowMs();
  tttc_options opts = a.capi(D);
  tttc_layer *layer = tttc_compile_file(a.spec.c_str(), &opts);
  if (!layer)
    return die(tttc_last_error());
  printNotes();
  double compileMs = nowMs() - t0;

  // Inputs: the files, or random ones.
  int64_t B = N ? 1 : a.batch, T = N ? cu.back() : a.seqLen, H = a.heads;
  if (!files.empty()) {
    B = T = H = -1;
    for (int i = 0; i < tttc_num_inputs(layer); ++i)
      if (tttc_input_kind(layer, i) == TTTC_TOKEN_VECTOR) {
        auto it = files.find(tttc_input_name(layer, i));
        if (it != files.end() && it->second.shape.size() == 4) {
          B = it->second.shape[0], T = it->second.shape[1], H = it->second.shape[2];
          break;
        }
      }
  }
  std::mt19937_64 rng(a.seed);
  std::vector<tttc_tensor> ins;
  std::vector<std::vector<int64_t>> inShapes;
  std::vector<std::vector<float>> generated;
  inShapes.reserve(files.size() + 64);
  generated.reserve(64);
  for (auto &[name, arr] : files) {
    inShapes.push_back(arr.shape);
    ins.push_back({name.c_str(), arr.data.data(), int(arr.shape.size()), inShapes.back().data()});
  }
  if (files.empty()) {
    for (int i = 0; i < tttc_num_inputs(layer); ++i) {
      if (tttc_input_optional(layer, i))
        continue; // the spec's default
      int64_t shape[8];
      int rank = tttc_input_shape(layer, i, B, T, H, shape);
      inShapes.emplace_back(shape, shape + rank);
      int64_t n = 1;
      for (int d = 0; d < rank; ++d)
        n *= shape[d];
      generated.emplace_back(size_t(n));
      fillRandom(rng, tttc_input_kind(layer, i), inShapes.back(), generated.back());
      ins.push_back({tttc_input_name(layer, i), generated.back().data(), rank,
                     inShapes.back().data()});
    }
  }
  // Outputs: shapes from B, T, H (the run validates the inputs).
  if (B < 0)
    B = T = H = 0; // the run reports the missing input
  std::vector<tttc_tensor> outs;
  std::vector<std::vector<int64_t>> outShapes;
  std::vector<std::vector<float>> outData;
  outShapes.reserve(tttc_num_outputs(layer));
  outData.reserve(tttc_num_outputs(layer));
  for (int i = 0; i < tttc_num_outputs(layer); ++i) {
    int64_t shape[8];
    // A packed batch: final states one row per sequence, readouts [1, T, ...].
    int rank = tttc_output_shape(layer, i, N ? N : B, T, H, shape);
    if (N && tttc_output_kind(layer, i) == TTTC_READOUT)
      shape[0] = 1;
    outShapes.emplace_back(shape, shape + rank);
    int64_t n = 1;
    for (int d = 0; d < rank; ++d)
      n *= shape[d];
    outData.emplace_back(size_t(std::max<int64_t>(n, 1)));
    outs.push_back({tttc_output_name(layer, i), outData.back().data(), rank,
                    outShapes.back().data()});
  }
  // A 16-bit I/O type: the per-token inputs are rounded to it (the reference
  // and the saved inputs then see what the kernel sees) and passed as 16-bit
  // copies; the readouts come back through 16-bit buffers.
  bool io16 = a.ioDtype != "f32";
  bool bf16 = a.ioDtype == "bf16";
  auto isIO = [](int kind) {
    return kind == TTTC_TOKEN_VECTOR || kind == TTTC_TOKEN_SCALAR || kind == TTTC_READOUT;
  };
  auto inputKind = [&](const char *name) {
    for (int i = 0; i < tttc_num_inputs(layer); ++i)
      if (std::strcmp(tttc_input_name(layer, i), name) == 0)
        return tttc_input_kind(layer, i);
    return -1;
  };
  std::vector<tttc_tensor> kIns = ins, kOuts = outs;
  std::vector<std::vector<uint16_t>> half;
  half.reserve(ins.size() + outs.size());
  if (io16) {
    for (tttc_tensor &t : kIns) {
      if (!isIO(inputKind(t.name)))
        continue;
      size_t n = 1;
      for (int d = 0; d < t.rank; ++d)
        n *= size_t(t.shape[d]);
      float *f = static_cast<float *>(t.data);
      half.emplace_back(n);
      for (size_t k = 0; k < n; ++k) {
        half.back()[k] = bf16 ? tttc_f32_to_bf16(f[k]) : tttc_f32_to_f16(f[k]);
        f[k] = bf16 ? tttc_bf16_to_f32(half.back()[k]) : tttc_f16_to_f32(half.back()[k]);
      }
      t.data = half.back().data();
    }
    for (int i = 0; i < tttc_num_outputs(layer); ++i)
      if (isIO(tttc_output_kind(layer, i))) {
        half.emplace_back(outData[i].size());
        kOuts[i].data = half.back().data();
      }
  }
  auto widenOutputs = [&] {
    if (!io16)
      return;
    for (int i = 0; i < tttc_num_outputs(layer); ++i)
      if (isIO(tttc_output_kind(layer, i))) {
        const uint16_t *h = static_cast<const uint16_t *>(kOuts[i].data);
        for (size_t k = 0; k < outData[i].size(); ++k)
          outData[i][k] = bf16 ? tttc_bf16_to_f32(h[k]) : tttc_f16_to_f32(h[k]);
      }
  };
  double r0 = nowMs();
  if (N ? tttc_run_varlen(layer, kIns.data(), int(kIns.size()), kOuts.data(), int(kOuts.size()),
                          cu.data(), int(N))
        : tttc_run(layer, kIns.data(), int(kIns.size()), kOuts.data(), int(kOuts.size()))) {
    std::string e = tttc_last_error();
    tttc_destroy(layer);
    return die(e);
  }
  double runMs = nowMs() - r0;
  widenOutputs();
  std::printf("tttc run: layer %s, B=%lld T=%lld H=%lld D=%lld, mini-batch %lld, target %s%s%s\n",
              tttc_layer_name(layer), (long long)B, (long long)T, (long long)H, (long long)D,
              (long long)tttc_mini_batch(layer), targetDescription(a).c_str(),
              io16 ? (", I/O " + a.ioDtype).c_str() : "",
              files.empty() ? (", random inputs (seed " + std::to_string(a.seed) + ")").c_str()
                            : "");
  if (N) {
    std::string lens;
    for (int64_t i = 0; i < N && i < 8; ++i)
      lens += (i ? ", " : "") + std::to_string(cu[i + 1] - cu[i]);
    std::printf("  packed batch: %lld sequences (lengths %s%s), each from the initial state\n",
                (long long)N, lens.c_str(), N > 8 ? ", ..." : "");
  }
  std::printf("  compile %.1f ms, first run %.2f ms\n", compileMs, runMs);
  if (int64_t n = tttc_column_blocks(layer); n > 1)
    std::printf("  %lld programs per (batch, head): column blocks of the state\n",
                (long long)n);

  std::vector<std::vector<double>> ref;
  if (a.check) {
    std::vector<tttc_tensor_f64> refs;
    ref.resize(outs.size());
    for (size_t i = 0; i < outs.size(); ++i) {
      ref[i].resize(outData[i].size());
      refs.push_back({outs[i].name, ref[i].data(), outs[i].rank, outs[i].shape});
    }
    if (N ? referenceVarlen(layer, ins, cu, outs, ref)
          : tttc_run_reference(layer, ins.data(), int(ins.size()), refs.data(), int(refs.size()))) {
      std::string e = tttc_last_error();
      tttc_destroy(layer);
      return die("reference: " + e);
    }
  }
  double worst = 0;
  bool pass = true;
  // Tolerances: 1e-5, except where the tensor cores take tf32 operands
  // (every output) and for readouts in a 16-bit I/O type.
  std::string precision = tttc_matmul_precision(layer);
  double stateTol = precision == "tf32" ? 2e-2 : precision == "tf32-rz" ? 1e-1 : 1e-5;
  double ioTol =
      std::max(stateTol, a.ioDtype == "bf16" ? 1e-2 : a.ioDtype == "f16" ? 1e-3 : 1e-5);
  for (size_t i = 0; i < outs.size(); ++i) {
    std::printf("  %-10s %-22s", outs[i].name, shapeStr(outShapes[i]).c_str());
    if (a.check) {
      double maxDiff = 0, maxRef = 0;
      bool finite = true;
      for (size_t k = 0; k < ref[i].size(); ++k) {
        finite &= std::isfinite(outData[i][k]);
        maxDiff = std::max(maxDiff, std::fabs(double(outData[i][k]) - ref[i][k]));
        maxRef = std::max(maxRef, std::fabs(ref[i][k]));
      }
      double rel = finite ? maxDiff / std::max(maxRef, 1e-30) : INFINITY;
      worst = std::max(worst, rel);
      pass &= rel <= (isIO(tttc_output_kind(layer, int(i))) ? ioTol : stateTol);
      std::printf(" max rel err vs float64 reference: %.3e", rel);
    }
    std::printf("\n");
  }
  if (a.check && ioTol == 1e-5)
    std::printf("  max rel err (all outputs): %.3e %s\n", worst,
                worst <= 1e-5 ? "(ok, <= 1e-5)" : "(ABOVE 1e-5)");
  else if (a.check)
    std::printf("  max rel err (all outputs): %.3e %s (readouts to %s: %s I/O; states to %s%s)\n",
                worst, pass ? "(ok)" : "(ABOVE tolerance)", tolStr(ioTol).c_str(),
                a.ioDtype.c_str(), tolStr(stateTol).c_str(),
                stateTol > 1e-5 ? (": " + precision + " tensor-core operands").c_str() : "");
  if (!a.outputDir.empty()) {
    makeDirs(a.outputDir);
    for (size_t i = 0; i < outs.size(); ++i) {
      tttc::NpyArray arr{outShapes[i], outData[i]};
      arr.data.resize(size_t(std::max<int64_t>(0, [&] {
        int64_t n = 1;
        for (int64_t d : outShapes[i])
          n *= d;
        return n;
      }())));
      std::string err;
      if (!tttc::writeNpy(a.outputDir + "/" + outs[i].name + ".npy", arr, err)) {
        tttc_destroy(layer);
        return die(err);
      }
    }
    std::printf("  wrote %zu outputs to %s/\n", outs.size(), a.outputDir.c_str());
    if (a.saveInputs) {
      std::string dir = a.outputDir + "/inputs";
      makeDirs(dir);
      for (size_t i = 0; i < ins.size(); ++i) {
        tttc::NpyArray arr;
        arr.shape.assign(ins[i].shape, ins[i].shape + ins[i].rank);
        size_t n = 1;
        for (int64_t d : arr.shape)
          n *= size_t(d);
        const float *f = static_cast<const float *>(ins[i].data);
        arr.data.assign(f, f + n);
        std::string err;
        if (!tttc::writeNpy(dir + "/" + ins[i].name + ".npy", arr, err)) {
          tttc_destroy(layer);
          return die(err);
        }
      }
      std::printf("  wrote %zu inputs to %s/\n", ins.size(), dir.c_str());
    }
  }
  if (a.decode) {
    RunState st{layer, ins, kIns, kOuts, outShapes, io16, bf16, B, T, H, {}};
    if (int rc = runDecode(a, st, ioTol)) {
      tttc_destroy(layer);
      return rc;
    }
  }
  if (a.grad) {
    RunState st{layer, ins, kIns, kOuts, outShapes, io16, bf16, B, T, H, cu};
    int rc = runGrad(a, st, a.seed + 1);
    tttc_destroy(layer);
    return rc ? rc : a.check && !pass ? 2 : 0;
  }
  if (a.repeat > 0) {
    std::vector<double> times;
    for (int64_t r = 0; r < a.repeat; ++r) {
      double s = nowMs();
      tttc_run(layer, kIns.data(), int(kIns.size()), kOuts.data(), int(kOuts.size()));
      times.push_back(nowMs() - s);
    }
    std::sort(times.begin(), times.end());
    std::printf("median_ms=%.4f\n", times[times.size() / 2]);
  }
  tttc_destroy(layer);
  return a.check && !pass ? 2 : 0;
}

} // namespace tttc::driver
