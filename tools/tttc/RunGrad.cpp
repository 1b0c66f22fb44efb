//===- RunGrad.cpp - tttc run --grad: the backward, checked and timed -----===//
//
// After the forward of `tttc run`: cotangents for the outputs (--grad-output
// files, else seeded random ones), the generated backward into one gradient
// per given input, written as DIR/grad_NAME.npy; --check compares each
// gradient with directional derivatives of the float64 reference
// (tttc_check_gradients); --repeat times forward + backward. A packed batch
// (--cu-seqlens) goes through the _varlen entry points.
//
//===----------------------------------------------------------------------===//

#include "Driver.h"
#include "Npy.h"
#include "tttc/tttc_fp16.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <random>

namespace tttc::driver {
namespace {
size_t numel(const int64_t *shape, int rank) {
  size_t n = 1;
  for (int d = 0; d < rank; ++d)
    n *= size_t(shape[d]);
  return n;
}
bool isIO(int kind) {
  return kind == TTTC_TOKEN_VECTOR || kind == TTTC_TOKEN_SCALAR || kind == TTTC_READOUT;
}
} // namespace

int runGrad(const Invocation &a, RunState &s, uint64_t seed) {
  tttc_layer *layer = s.layer;
  int nOut = tttc_num_outputs(layer);
  auto inputKind = [&](const char *name) {
    for (int i = 0; i < tttc_num_inputs(layer); ++i)
      if (std::strcmp(tttc_input_name(layer, i), name) == 0)
        return tttc_input_kind(layer, i);
    return -1;
  };
  auto toHalf = [&](const float *f, size_t n, std::vector<uint16_t> &h) {
    h.resize(n);
    for (size_t k = 0; k < n; ++k)
      h[k] = s.bf16 ? tttc_f32_to_bf16(f[k]) : tttc_f32_to_f16(f[k]);
  };

  // Cotangents: the files, or (none given) seeded random ones for every output.
  std::map<std::string, NpyArray> files;
  for (auto &[name, path] : a.gradOutputs) {
    std::string err;
    if (files.count(name))
      return die("--grad-output '" + name + "' given twice");
    if (!readNpy(path, files[name], err))
      return die("--grad-output '" + name + "': " + err);
  }
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::vector<std::vector<float>> cotData;
  std::vector<std::vector<int64_t>> cotShapes;
  std::vector<std::vector<uint16_t>> half;
  cotData.reserve(nOut);
  cotShapes.reserve(nOut);
  half.reserve(nOut + s.ins.size());
  std::vector<tttc_tensor> cots, kCots;
  for (auto &[name, arr] : files) {
    bool known = false;
    for (int i = 0; i < nOut; ++i)
      known |= name == tttc_output_name(layer, i);
    if (!known)
      return die("--grad-output '" + name + "': the layer has no output of that name");
  }
  for (int i = 0; i < nOut; ++i) {
    const char *name = tttc_output_name(layer, i);
    auto it = files.find(name);
    if (!files.empty() && it == files.end())
      continue; // zero
    cotShapes.push_back(it != files.end() ? it->second.shape : s.outShapes[i]);
    if (it != files.end()) {
      cotData.push_back(it->second.data);
    } else {
      cotData.emplace_back(numel(s.outShapes[i].data(), int(s.outShapes[i].size())));
      for (float &x : cotData.back())
        x = float(normal(rng));
    }
    tttc_tensor t{name, cotData.back().data(), int(cotShapes.back().size()),
                  cotShapes.back().data()};
    cots.push_back(t);
    if (s.io16 && isIO(tttc_output_kind(layer, i))) {
      // The kernel reads 16-bit cotangents: the check sees the rounded ones.
      half.emplace_back();
      toHalf(cotData.back().data(), cotData.back().size(), half.back());
      for (size_t k = 0; k < cotData.back().size(); ++k)
        cotData.back()[k] = s.bf16 ? tttc_bf16_to_f32(half.back()[k]) : tttc_f16_to_f32(half.back()[k]);
      t.data = half.back().data();
    }
    kCots.push_back(t);
  }

  // A gradient per given input, of its shape (16-bit for 16-bit inputs).
  std::vector<std::vector<float>> gradData;
  gradData.reserve(s.ins.size());
  std::vector<tttc_tensor> grads, kGrads;
  for (const tttc_tensor &in : s.ins) {
    gradData.emplace_back(std::max<size_t>(numel(in.shape, in.rank), 1));
    tttc_tensor t{in.name, gradData.back().data(), in.rank, in.shape};
    grads.push_back(t);
    if (s.io16 && isIO(inputKind(in.name))) {
      half.emplace_back(gradData.back().size());
      t.data = half.back().data();
    }
    kGrads.push_back(t);
  }
  // The training forward saves what the backward reads (a packed batch:
  // each sequence's, one after another).
  int N = s.cu.empty() ? 0 : int(s.cu.size()) - 1;
  const int64_t *cu = s.cu.data();
  int64_t savedBytes = N ? tttc_saved_bytes_varlen(layer, cu, N, s.H)
                         : tttc_saved_bytes(layer, s.B, s.T, s.H);
  std::vector<float> saved(std::max<int64_t>(savedBytes / 4, 1));
  int nIn = int(s.kIns.size()), nOuts = int(s.kOuts.size());
  auto train = [&] {
    return N ? tttc_run_train_varlen(layer, s.kIns.data(), nIn, s.kOuts.data(), nOuts, cu, N,
                                     saved.data(), savedBytes)
             : tttc_run_train(layer, s.kIns.data(), nIn, s.kOuts.data(), nOuts, saved.data(),
                              savedBytes);
  };
  auto backward = [&] {
    return N ? tttc_run_backward_varlen(layer, s.kIns.data(), nIn, cu, N, saved.data(),
                                        savedBytes, kCots.data(), int(kCots.size()),
                                        kGrads.data(), int(kGrads.size()))
             : tttc_run_backward_saved(layer, s.kIns.data(), nIn, saved.data(), savedBytes,
                                       kCots.data(), int(kCots.size()), kGrads.data(),
                                       int(kGrads.size()));
  };
  double b0 = nowMs();
  if (train())
    return die(tttc_last_error());
  double b1 = nowMs();
  if (backward())
    return die(tttc_last_error());
  double bwdMs = nowMs() - b1, trainMs = b1 - b0;
  for (size_t i = 0; i < grads.size(); ++i)
    if (kGrads[i].data != grads[i].data) {
      const uint16_t *h = static_cast<const uint16_t *>(kGrads[i].data);
      for (size_t k = 0; k < gradData[i].size(); ++k)
        gradData[i][k] = s.bf16 ? tttc_bf16_to_f32(h[k]) : tttc_f16_to_f32(h[k]);
    }
  std::printf("  training forward: first run %.2f ms, saved %.1f KiB for the backward\n", trainMs,
              double(savedBytes) / 1024);
  std::printf("  backward: first run %.2f ms, cotangents %s\n", bwdMs,
              files.empty() ? ("random (seed " + std::to_string(seed) + ")").c_str()
                            : "from --grad-output (others zero)");

  std::vector<double> rel(grads.size(), 0.0);
  bool pass = true;
  const int directions = 3;
  if (a.check &&
      (N ? tttc_check_gradients_varlen(layer, s.ins.data(), int(s.ins.size()), cu, N,
                                       cots.data(), int(cots.size()), grads.data(),
                                       int(grads.size()), directions, seed + 1, rel.data())
         : tttc_check_gradients(layer, s.ins.data(), int(s.ins.size()), cots.data(),
                                int(cots.size()), grads.data(), int(grads.size()), directions,
                                seed + 1, rel.data())))
    return die("gradient check: " + std::string(tttc_last_error()));
  // 16-bit gradients of 16-bit inputs: their rounding (2^-9, 2^-11 relative).
  double tol = a.ioDtype == "bf16" ? 1e-2 : a.ioDtype == "f16" ? 2e-3 : 1e-4;
  char tolText[32];
  std::snprintf(tolText, sizeof tolText, "%g", tol);
  double worst = 0;
  for (size_t i = 0; i < grads.size(); ++i) {
    std::printf("  grad_%-9s %-22s", grads[i].name,
                shapeStr(std::vector<int64_t>(grads[i].shape, grads[i].shape + grads[i].rank))
                    .c_str());
    if (a.check) {
      std::printf(" max rel err vs float64 reference (%d directions): %.3e", directions, rel[i]);
      worst = std::max(worst, rel[i]);
      pass &= rel[i] <= tol;
    }
    std::printf("\n");
  }
  if (a.check)
    std::printf("  max rel err (all gradients): %.3e %s\n", worst,
                pass ? ("(ok, <= " + std::string(tolText) + ")").c_str()
                     : "(ABOVE tolerance)");
  if (!a.outputDir.empty()) {
    makeDirs(a.outputDir);
    for (size_t i = 0; i < grads.size(); ++i) {
      NpyArray arr;
      arr.shape.assign(grads[i].shape, grads[i].shape + grads[i].rank);
      arr.data.assign(gradData[i].begin(),
                      gradData[i].begin() + numel(grads[i].shape, grads[i].rank));
      std::string err;
      if (!writeNpy(a.outputDir + "/grad_" + grads[i].name + ".npy", arr, err))
        return die(err);
    }
    std::printf("  wrote %zu gradients to %s/\n", grads.size(), a.outputDir.c_str());
    if (a.saveInputs) {
      makeDirs(a.outputDir + "/inputs");
      for (size_t i = 0; i < cots.size(); ++i) {
        NpyArray arr{cotShapes[i], cotData[i]};
        std::string err;
        if (!writeNpy(a.outputDir + "/inputs/cotangent_" + cots[i].name + ".npy", arr, err))
          return die(err);
      }
      std::printf("  wrote %zu cotangents to %s/inputs/\n", cots.size(), a.outputDir.c_str());
    }
  }
  if (a.repeat > 0) {
    std::vector<double> fwd, both;
    for (int64_t r = 0; r < a.repeat; ++r) {
      double t0 = nowMs();
      if (N)
        tttc_run_varlen(layer, s.kIns.data(), nIn, s.kOuts.data(), nOuts, cu, N);
      else
        tttc_run(layer, s.kIns.data(), nIn, s.kOuts.data(), nOuts);
      double t1 = nowMs();
      if (train() || backward())
        return die(tttc_last_error());
      double t2 = nowMs();
      fwd.push_back(t1 - t0);
      both.push_back(t2 - t1);
    }
    std::sort(fwd.begin(), fwd.end());
    std::sort(both.begin(), both.end());
    std::printf("fwd_median_ms=%.4f\nmedian_ms=%.4f\n", fwd[fwd.size() / 2], both[both.size() / 2]);
  }
  return a.check && !pass ? 2 : 0;
}

} // namespace tttc::driver
