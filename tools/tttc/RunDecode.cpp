//===- RunDecode.cpp - tttc run --decode: token by token vs the forward ---===//
//
// After the forward of `tttc run`: a decoder (tttc_decode_*) started from
// the same initial states runs the same sequence --decode-block tokens at a
// time; its readouts and final states are compared with the chunked
// forward's, and the steps are timed (tokens per second over B rows).
//
//===----------------------------------------------------------------------===//

#include "Driver.h"
#include "tttc/tttc_fp16.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

namespace tttc::driver {
namespace {
bool isIO(int kind) {
  return kind == TTTC_TOKEN_VECTOR || kind == TTTC_TOKEN_SCALAR || kind == TTTC_READOUT;
}
size_t numel(const std::vector<int64_t> &s, size_t from = 0) {
  size_t n = 1;
  for (size_t d = from; d < s.size(); ++d)
    n *= size_t(s[d]);
  return n;
}
} // namespace

int runDecode(const Invocation &a, RunState &s, double tolerance) {
  tttc_layer *layer = s.layer;
  int64_t B = s.B, T = s.T, H = s.H, block = a.decodeBlock;
  if (T < 1)
    return die("--decode needs at least one token");
  auto inputKind = [&](const char *name) {
    for (int i = 0; i < tttc_num_inputs(layer); ++i)
      if (std::strcmp(tttc_input_name(layer, i), name) == 0)
        return tttc_input_kind(layer, i);
    return -1;
  };
  size_t ioBytes = s.io16 ? 2 : 4;
  std::vector<uint64_t> state(size_t(tttc_decode_state_bytes(layer, B, H) + 7) / 8);
  int64_t stateBytes = tttc_decode_state_bytes(layer, B, H);
  std::vector<tttc_tensor> inits, steps;
  for (const tttc_tensor &t : s.kIns)
    (inputKind(t.name) == TTTC_STATE_INIT ? inits : steps).push_back(t);
  if (tttc_decode_init(layer, inits.data(), int(inits.size()), B, H, state.data(), stateBytes))
    return die(std::string("decode: ") + tttc_last_error());

  // Per step: the per-token inputs' rows [t, t + n) gathered, the readouts'
  // rows scattered into full-length buffers; the final states of the last.
  int nOut = tttc_num_outputs(layer);
  std::vector<std::vector<uint8_t>> full(nOut), stepOut(nOut), stepIn(steps.size());
  std::vector<std::vector<int64_t>> stepInShape(steps.size()), stepOutShape(nOut);
  for (int i = 0; i < nOut; ++i)
    full[i].resize(numel(s.outShapes[i]) *
                   (isIO(tttc_output_kind(layer, i)) ? ioBytes : 4));
  double total = 0;
  int64_t calls = 0;
  for (int64_t t = 0; t < T; t += block) {
    int64_t n = std::min(block, T - t);
    std::vector<tttc_tensor> in = steps, out;
    for (size_t j = 0; j < steps.size(); ++j) {
      int kind = inputKind(steps[j].name);
      if (kind != TTTC_TOKEN_VECTOR && kind != TTTC_TOKEN_SCALAR)
        continue;
      std::vector<int64_t> shape(steps[j].shape, steps[j].shape + steps[j].rank);
      size_t row = numel(shape, 2) * ioBytes;
      shape[1] = n;
      stepInShape[j] = shape;
      stepIn[j].resize(numel(shape) * ioBytes);
      for (int64_t b = 0; b < B; ++b)
        std::memcpy(stepIn[j].data() + b * n * row,
                    static_cast<const uint8_t *>(steps[j].data) + (b * T + t) * row, n * row);
      in[j].data = stepIn[j].data();
      in[j].shape = stepInShape[j].data();
    }
    for (int i = 0; i < nOut; ++i) {
      stepOutShape[i] = s.outShapes[i];
      bool readout = tttc_output_kind(layer, i) == TTTC_READOUT;
      if (readout)
        stepOutShape[i][1] = n;
      stepOut[i].resize(numel(stepOutShape[i]) * (readout ? ioBytes : 4));
      out.push_back({tttc_output_name(layer, i), stepOut[i].data(), int(stepOutShape[i].size()),
                     stepOutShape[i].data()});
    }
    double t0 = nowMs();
    if (tttc_decode_step(layer, in.data(), int(in.size()), state.data(), stateBytes, out.data(),
                         int(out.size())))
      return die(std::string("decode step at token ") + std::to_string(t) + ": " +
                 tttc_last_error());
    total += nowMs() - t0;
    ++calls;
    for (int i = 0; i < nOut; ++i) {
      if (tttc_output_kind(layer, i) != TTTC_READOUT) {
        std::memcpy(full[i].data(), stepOut[i].data(), stepOut[i].size());
        continue;
      }
      size_t row = numel(s.outShapes[i], 2) * ioBytes;
      for (int64_t b = 0; b < B; ++b)
        std::memcpy(full[i].data() + (b * T + t) * row, stepOut[i].data() + b * n * row,
                    n * row);
    }
  }
  if (tttc_decode_position(state.data(), stateBytes) != T)
    return die("decode: the state has seen " +
               std::to_string(tttc_decode_position(state.data(), stateBytes)) +
               " tokens, expected " + std::to_string(T));

  auto value = [&](const std::vector<uint8_t> &d, bool io, size_t k) -> double {
    if (io && s.io16) {
      uint16_t h;
      std::memcpy(&h, d.data() + 2 * k, 2);
      return s.bf16 ? tttc_bf16_to_f32(h) : tttc_f16_to_f32(h);
    }
    float f;
    std::memcpy(&f, d.data() + 4 * k, 4);
    return f;
  };
  std::printf("  decode: %lld steps of %lld token%s (B=%lld): %.2f ms, %.0f tokens/s, "
              "%.1f us per step\n",
              (long long)calls, (long long)block, block == 1 ? "" : "s", (long long)B, total,
              double(B * T) / (total / 1e3), 1e3 * total / double(calls));
  double worst = 0;
  for (int i = 0; i < nOut; ++i) {
    bool io = isIO(tttc_output_kind(layer, i));
    std::vector<uint8_t> fwd(full[i].size());
    std::memcpy(fwd.data(), s.kOuts[i].data, fwd.size());
    double maxDiff = 0, maxRef = 0;
    bool finite = true;
    for (size_t k = 0; k < numel(s.outShapes[i]); ++k) {
      double x = value(full[i], io, k), r = value(fwd, io, k);
      finite &= std::isfinite(x);
      maxDiff = std::max(maxDiff, std::fabs(x - r));
      maxRef = std::max(maxRef, std::fabs(r));
    }
    double rel = finite ? maxDiff / std::max(maxRef, 1e-30) : INFINITY;
    worst = std::max(worst, rel);
    std::printf("  %-10s decoded vs the chunked forward: max rel err %.3e\n",
                tttc_output_name(layer, i), rel);
  }
  bool ok = worst <= tolerance;
  std::printf("  decode max rel err (all outputs): %.3e %s\n", worst,
              ok ? "(ok)" : "(ABOVE tolerance)");
  return ok ? 0 : 2;
}

} // namespace tttc::driver
