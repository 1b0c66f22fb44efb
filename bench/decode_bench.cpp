//===- decode_bench.cpp - decode tokens/s per example (issue 15) ----------===//
//
//   tttc-decode-bench [--quick] [--examples DIR] [--steps N]
//
// For every example spec: a decoder (tttc_decode_*, one token per step) at
// B=1 and B=64, H=4, D=64, against the chunked forward over the same tokens
// in one call, in the same process: decode tokens/s (B rows x steps / time),
// microseconds per step, the forward's tokens/s and their ratio; the max
// relative difference of the decoded readouts from the forward's is printed
// beside (a sanity check; the tests are the checks). Not a test.
//
//===----------------------------------------------------------------------===//

#include "tttc/tttc.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#ifndef TTTC_EXAMPLES_DIR
#define TTTC_EXAMPLES_DIR "examples"
#endif

namespace {

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

size_t numel(const std::vector<int64_t> &s) {
  size_t n = 1;
  for (int64_t d : s)
    n *= size_t(d);
  return n;
}

struct Arrays {
  std::vector<std::string> names;
  std::vector<std::vector<int64_t>> shapes;
  std::vector<std::vector<float>> data;
  std::vector<int> kinds;
  std::vector<tttc_tensor> tensors() {
    std::vector<tttc_tensor> t;
    for (size_t i = 0; i < names.size(); ++i)
      t.push_back({names[i].c_str(), data[i].data(), int(shapes[i].size()), shapes[i].data()});
    return t;
  }
};

/// Random inputs in the layers' natural ranges (as tttc run makes them).
Arrays inputs(tttc_layer *l, int64_t B, int64_t T, int64_t H, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::uniform_real_distribution<double> uni(0.05, 0.95);
  Arrays a;
  for (int i = 0; i < tttc_num_inputs(l); ++i) {
    if (tttc_input_optional(l, i))
      continue;
    int64_t s[8];
    int r = tttc_input_shape(l, i, B, T, H, s);
    int kind = tttc_input_kind(l, i);
    a.names.push_back(tttc_input_name(l, i));
    a.shapes.emplace_back(s, s + r);
    a.kinds.push_back(kind);
    std::vector<float> v(numel(a.shapes.back()));
    int64_t inner = s[r - 1];
    for (float &x : v)
      x = kind == TTTC_TOKEN_VECTOR   ? float(normal(rng) / std::sqrt(double(inner)))
          : kind == TTTC_TOKEN_SCALAR ? float(uni(rng) * 0.1)
          : kind == TTTC_PARAM_VECTOR ? float(1.0 + 0.2 * normal(rng))
          : kind == TTTC_PARAM_SCALAR ? float(normal(rng))
                                      : float(normal(rng) / std::sqrt(double(s[r - 1])));
    a.data.push_back(std::move(v));
  }
  return a;
}

Arrays outputs(tttc_layer *l, int64_t B, int64_t T, int64_t H) {
  Arrays a;
  for (int i = 0; i < tttc_num_outputs(l); ++i) {
    int64_t s[8];
    int r = tttc_output_shape(l, i, B, T, H, s);
    a.names.push_back(tttc_output_name(l, i));
    a.shapes.emplace_back(s, s + r);
    a.kinds.push_back(tttc_output_kind(l, i));
    a.data.emplace_back(std::max<size_t>(numel(a.shapes.back()), 1));
  }
  return a;
}

} // namespace

int main(int argc, char **argv) {
  bool quick = false;
  std::string examples = TTTC_EXAMPLES_DIR;
  int64_t steps = 64;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--quick"))
      quick = true;
    else if (!std::strcmp(argv[i], "--examples") && i + 1 < argc)
      examples = argv[++i];
    else if (!std::strcmp(argv[i], "--steps") && i + 1 < argc)
      steps = std::atoll(argv[++i]);
    else {
      std::fprintf(stderr, "usage: tttc-decode-bench [--quick] [--examples DIR] [--steps N]\n");
      return 1;
    }
  }
  if (quick)
    steps = 16;
  const int64_t D = 64, H = 4;
  const char *specs[] = {"ttt_linear",       "ttt_mlp",  "titans_linear",
                         "titans_mlp",       "delta",    "gated_delta",
                         "linear_attention", "infini_attention", "infini_attention_delta"};
  std::printf("decode: one token per step from a fresh decoder, D=%lld H=%lld, %lld steps "
              "(B=64: %lld); forward: the same tokens in one call\n",
              (long long)D, (long long)H, (long long)steps, (long long)std::max<int64_t>(steps / 4, 4));
  std::printf("%-24s %4s %3s %12s %11s %13s %14s %12s\n", "layer", "B", "C", "decode tok/s",
              "us/step", "forward tok/s", "decode/forward", "max rel diff");
  for (const char *spec : specs) {
    std::string path = examples + "/" + spec + ".mlir";
    tttc_options o = tttc_default_options(D);
    o.options = "decode";
    tttc_layer *l = tttc_compile_file(path.c_str(), &o);
    if (!l) {
      std::fprintf(stderr, "%s: %s\n", spec, tttc_last_error());
      return 1;
    }
    for (int64_t B : {int64_t(1), int64_t(64)}) {
      int64_t T = B == 1 ? steps : std::max<int64_t>(steps / 4, 4);
      Arrays in = inputs(l, B, T, H, 7);
      Arrays fwd = outputs(l, B, T, H);
      std::vector<tttc_tensor> ti = in.tensors(), tf = fwd.tensors();
      // The forward: best of 3.
      double fwdS = 1e30;
      for (int r = 0; r < 3; ++r) {
        double t0 = now();
        if (tttc_run(l, ti.data(), int(ti.size()), tf.data(), int(tf.size()))) {
          std::fprintf(stderr, "%s: %s\n", spec, tttc_last_error());
          return 1;
        }
        fwdS = std::min(fwdS, now() - t0);
      }
      // The decoder: the inits at the start, one token per step.
      std::vector<tttc_tensor> inits, rest;
      for (size_t j = 0; j < ti.size(); ++j)
        (in.kinds[j] == TTTC_STATE_INIT ? inits : rest).push_back(ti[j]);
      int64_t bytes = tttc_decode_state_bytes(l, B, H);
      std::vector<uint64_t> state((bytes + 7) / 8);
      if (tttc_decode_init(l, inits.data(), int(inits.size()), B, H, state.data(), bytes)) {
        std::fprintf(stderr, "%s: %s\n", spec, tttc_last_error());
        return 1;
      }
      Arrays step = outputs(l, B, 1, H);
      std::vector<tttc_tensor> ts = step.tensors();
      std::vector<std::vector<float>> tok(rest.size());
      std::vector<std::vector<int64_t>> tokShape(rest.size());
      std::vector<float> decoded;
      size_t readout = 0; // the first output, a readout
      size_t row = numel(step.shapes[readout]) / size_t(B);
      decoded.resize(numel(fwd.shapes[readout]));
      double decS = 0;
      for (int64_t t = 0; t < T; ++t) {
        std::vector<tttc_tensor> si = rest;
        for (size_t j = 0; j < rest.size(); ++j) {
          int kind = 0;
          for (size_t k = 0; k < in.names.size(); ++k)
            if (in.names[k] == rest[j].name)
              kind = in.kinds[k];
          if (kind != TTTC_TOKEN_VECTOR && kind != TTTC_TOKEN_SCALAR)
            continue;
          tokShape[j].assign(rest[j].shape, rest[j].shape + rest[j].rank);
          size_t per = numel(tokShape[j]) / size_t(B * T);
          tokShape[j][1] = 1;
          tok[j].resize(size_t(B) * per);
          const float *src = static_cast<const float *>(rest[j].data);
          for (int64_t b = 0; b < B; ++b)
            std::memcpy(tok[j].data() + b * per, src + (b * T + t) * per, per * 4);
          si[j].data = tok[j].data();
          si[j].shape = tokShape[j].data();
        }
        double t0 = now();
        if (tttc_decode_step(l, si.data(), int(si.size()), state.data(), bytes, ts.data(),
                             int(ts.size()))) {
          std::fprintf(stderr, "%s: %s\n", spec, tttc_last_error());
          return 1;
        }
        decS += now() - t0;
        for (int64_t b = 0; b < B; ++b)
          std::memcpy(decoded.data() + (b * T + t) * row, step.data[readout].data() + b * row,
                      row * 4);
      }
      double md = 0, mr = 0;
      for (size_t k = 0; k < decoded.size(); ++k) {
        md = std::max(md, double(std::fabs(decoded[k] - fwd.data[readout][k])));
        mr = std::max(mr, double(std::fabs(fwd.data[readout][k])));
      }
      double decTps = double(B * T) / decS, fwdTps = double(B * T) / fwdS;
      std::printf("%-24s %4lld %3lld %12.0f %11.1f %13.0f %13.3fx %12.2e\n", spec, (long long)B,
                  (long long)tttc_mini_batch(l), decTps, 1e6 * decS / double(T), fwdTps,
                  decTps / fwdTps, md / std::max(mr, 1e-30));
    }
    tttc_destroy(l);
  }
  return 0;
}
