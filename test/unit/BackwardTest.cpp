//===- BackwardTest.cpp - the generated outer-loop backward ---------------===//
//
// For every example spec at awkward shapes: the compiled backward's
// gradients of every input (per-token streams and gates, parameters,
// position inputs, initial states, shared and per batch row) against
// directional derivatives of the float64 per-token reference interpreter
// (central differences along seeded random directions,
// tttc_check_gradients: no code shared with the generated backward), with
// random cotangents for every output, final states included.
//
//===----------------------------------------------------------------------===//

#include "Problem.h"
#include "tttc/tttc_cuda.h"

#include <cstring>

using namespace testutil;

namespace {

/// The backward's gradient of every given input, NaN-poisoned first (every
/// element must be written).
Problem runBackward(tttc_layer *l, Problem &in, Problem &cot) {
  Problem g;
  for (size_t i = 0; i < in.names.size(); ++i) {
    g.add(in.names[i], in.shapes[i]);
    std::fill(g.data.back().begin(), g.data.back().end(), std::nanf(""));
  }
  std::vector<tttc_tensor> ti = in.tensors(), tc = cot.tensors(), tg = g.tensors();
  EXPECT_EQ(tttc_run_backward(l, ti.data(), int(ti.size()), tc.data(), int(tc.size()), tg.data(),
                              int(tg.size())),
            0)
      << tttc_last_error();
  return g;
}

std::vector<double> check(tttc_layer *l, Problem &in, Problem &cot, Problem &g, int directions,
                          uint64_t seed) {
  std::vector<tttc_tensor> ti = in.tensors(), tc = cot.tensors(), tg = g.tensors();
  std::vector<double> rel(tg.size(), INFINITY);
  EXPECT_EQ(tttc_check_gradients(l, ti.data(), int(ti.size()), tc.data(), int(tc.size()),
                                 tg.data(), int(tg.size()), directions, seed, rel.data()),
            0)
      << tttc_last_error();
  return rel;
}

/// spec, B, H, D, T, C, and the target with its options.
using Params = std::tuple<std::string, int64_t, int64_t, int64_t, int64_t, int64_t, std::string>;
class Backward : public ::testing::TestWithParam<Params> {};

TEST_P(Backward, MatchesFloat64ReferenceDirectionalDerivatives) {
  auto [spec, B, H, D, T, C, target] = GetParam();
  if (target.rfind("cuda:", 0) == 0 && !tttc_cuda_available())
    GTEST_SKIP() << "target cuda needs a GPU: " << tttc_cuda_last_error();
  tttc_layer *l = compiled(spec, D, C, target);
  ASSERT_NE(l, nullptr);
  ASSERT_TRUE(tttc_has_backward(l));
  uint64_t seed = 7 * B + 13 * H + 17 * D + 19 * T + 23 * C;
  bool full = B == 3; // position inputs and per-batch-row initial states
  Problem in = makeInputs(l, spec, B, T, H, full, seed);
  Problem cot = makeCotangents(l, B, T, H, seed + 1);
  Problem g = runBackward(l, in, cot);
  std::vector<double> rel = check(l, in, cot, g, D > 16 ? 2 : 3, seed + 2);
  for (size_t i = 0; i < g.names.size(); ++i) {
    bool finite = std::all_of(g.data[i].begin(), g.data[i].end(),
                              [](float x) { return std::isfinite(x); });
    EXPECT_TRUE(finite) << "grad_" << g.names[i];
    EXPECT_LE(rel[i], 1e-4) << spec << " grad_" << g.names[i] << " B=" << B << " H=" << H
                            << " D=" << D << " T=" << T << " C=" << C;
  }
}

std::string paramName(const ::testing::TestParamInfo<Params> &info) {
  auto [spec, B, H, D, T, C, target] = info.param;
  return spec + "_B" + std::to_string(B) + "_H" + std::to_string(H) + "_D" + std::to_string(D) +
         "_T" + std::to_string(T) + "_C" + std::to_string(C) +
         (target.rfind("cuda-emu", 0) == 0 ? "_emu"
          : target.rfind("cuda:", 0) == 0  ? "_cuda"
                                           : "");
}

/// (B, H, D, T): one token; T not a multiple of the chunk with several
/// heads and batch rows; long; exactly one chunk; D = 64.
std::vector<Params> grid(std::vector<std::string> specs, std::vector<int64_t> chunks) {
  std::vector<Params> ps;
  for (const std::string &s : specs)
    for (auto [B, H, D, T] : {std::make_tuple(1, 1, 16, 1), std::make_tuple(3, 4, 16, 17),
                              std::make_tuple(1, 4, 16, 100), std::make_tuple(3, 1, 16, 15),
                              std::make_tuple(1, 1, 16, 16), std::make_tuple(1, 1, 64, 17)})
      for (int64_t C : chunks)
        ps.emplace_back(s, B, H, D, T, C, "cpu:backward");
  return ps;
}

/// The GPU kernels through the emulation, 32 threads per block under the
/// race checker (gradients shared by the (b, h) programs are per-program
/// partials summed by the runtime), or on a GPU (target cuda: skipped
/// without one): several heads and batch rows, T not a multiple of the
/// chunk, one token, D = 64.
std::vector<Params> gpuGrid(std::vector<std::string> specs, int64_t C,
                            const std::string &target = "cuda-emu:backward,gpu-threads=32,"
                                                        "check-races") {
  std::vector<Params> ps;
  for (const std::string &s : specs)
    for (auto [B, H, D, T] : {std::make_tuple(3, 2, 16, 17), std::make_tuple(1, 1, 16, 1),
                              std::make_tuple(1, 1, 64, 20)})
      ps.emplace_back(s, B, H, D, T, C, target);
  return ps;
}

// Mini-batch (segment) sizes 1, 8, 16, except for the exact per-token rules.
INSTANTIATE_TEST_SUITE_P(DualForm, Backward,
                         ::testing::ValuesIn(grid({"ttt_linear", "ttt_mlp", "titans_linear",
                                                   "titans_mlp", "linear_attention",
                                                   "infini_attention", "infini_attention_delta"},
                                                  {1, 8, 16})),
                         paramName);
INSTANTIATE_TEST_SUITE_P(PerToken, Backward,
                         ::testing::ValuesIn(grid({"delta", "gated_delta"}, {1})), paramName);
INSTANTIATE_TEST_SUITE_P(GPUDualForm, Backward,
                         ::testing::ValuesIn(gpuGrid({"ttt_linear", "ttt_mlp", "titans_linear",
                                                      "titans_mlp", "linear_attention",
                                                      "infini_attention",
                                                      "infini_attention_delta"},
                                                     8)),
                         paramName);
INSTANTIATE_TEST_SUITE_P(GPUPerToken, Backward,
                         ::testing::ValuesIn(gpuGrid({"delta", "gated_delta"}, 1)), paramName);
INSTANTIATE_TEST_SUITE_P(CUDADualForm, Backward,
                         ::testing::ValuesIn(gpuGrid({"ttt_linear", "ttt_mlp", "titans_linear",
                                                      "titans_mlp", "linear_attention",
                                                      "infini_attention",
                                                      "infini_attention_delta"},
                                                     8, "cuda:backward")),
                         paramName);
INSTANTIATE_TEST_SUITE_P(CUDAPerToken, Backward,
                         ::testing::ValuesIn(gpuGrid({"delta", "gated_delta"}, 1,
                                                     "cuda:backward")),
                         paramName);

/// The check can fail: a gradient off by 1% in one input is reported.
TEST(BackwardCheck, FlagsAWrongGradient) {
  tttc_layer *l = compiled("ttt_linear", 16, 16, "cpu:backward");
  ASSERT_NE(l, nullptr);
  Problem in = makeInputs(l, "ttt_linear", 2, 21, 2, false, 5);
  Problem cot = makeCotangents(l, 2, 21, 2, 6);
  Problem g = runBackward(l, in, cot);
  std::vector<double> ok = check(l, in, cot, g, 2, 7);
  for (size_t i = 0; i < g.names.size(); ++i)
    EXPECT_LE(ok[i], 1e-4) << g.names[i];
  for (size_t i = 0; i < g.names.size(); ++i) {
    Problem bad = g;
    for (float &x : bad.data[i])
      x *= 1.01f;
    std::vector<double> rel = check(l, in, cot, bad, 2, 7);
    EXPECT_GT(rel[i], 1e-3) << "a 1% error in grad_" << g.names[i] << " went unnoticed";
  }
}

/// Wrong shapes, names and a layer compiled without its backward are
/// errors with messages, never a crash.
TEST(BackwardApi, ErrorsAreReported) {
  tttc_layer *plain = compiled("ttt_linear", 16, 16, "cpu");
  ASSERT_NE(plain, nullptr);
  EXPECT_FALSE(tttc_has_backward(plain));
  Problem in = makeInputs(plain, "ttt_linear", 1, 5, 1, false, 1);
  Problem cot = makeCotangents(plain, 1, 5, 1, 2);
  std::vector<tttc_tensor> ti = in.tensors(), tc = cot.tensors();
  EXPECT_NE(tttc_run_backward(plain, ti.data(), int(ti.size()), tc.data(), int(tc.size()),
                              nullptr, 0),
            0);
  EXPECT_NE(std::string(tttc_last_error()).find("without its backward"), std::string::npos)
      << tttc_last_error();

  tttc_layer *l = compiled("ttt_linear", 16, 16, "cpu:backward");
  ASSERT_NE(l, nullptr);
  Problem g = runBackward(l, in, cot);
  Problem wrong = g;
  wrong.shapes[0].back() = 8;
  std::vector<tttc_tensor> tw = wrong.tensors();
  EXPECT_NE(tttc_run_backward(l, ti.data(), int(ti.size()), tc.data(), int(tc.size()), tw.data(),
                              int(tw.size())),
            0);
  EXPECT_NE(std::string(tttc_last_error()).find("gradient 'q' has shape"), std::string::npos)
      << tttc_last_error();
  Problem badCot = cot;
  badCot.names[0] = "nope";
  std::vector<tttc_tensor> tb = badCot.tensors();
  EXPECT_NE(tttc_run_backward(l, ti.data(), int(ti.size()), tb.data(), int(tb.size()), nullptr, 0),
            0);
  EXPECT_NE(std::string(tttc_last_error()).find("unknown cotangent 'nope'"), std::string::npos)
      << tttc_last_error();
  // A gradient written over an input.
  std::vector<tttc_tensor> alias = g.tensors();
  alias[0].data = ti[0].data;
  EXPECT_NE(tttc_run_backward(l, ti.data(), int(ti.size()), tc.data(), int(tc.size()),
                              alias.data(), int(alias.size())),
            0);
  EXPECT_NE(std::string(tttc_last_error()).find("overlaps"), std::string::npos)
      << tttc_last_error();
}

} // namespace

namespace {
/// The training path in two calls: tttc_run_train writes the forward's
/// outputs (bit for bit those of tttc_run) and the chunk-start states at the
/// checkpoints (tttc_saved_bytes of them, per state [B, H, S, ...]);
/// tttc_run_backward_saved from them gives bit for bit what
/// tttc_run_backward (which runs the training forward itself) gives. B = 3
/// rows split over the CPU threads.
class BackwardSaved : public ::testing::TestWithParam<
                          std::tuple<std::string, int64_t, int64_t, int64_t, std::string>> {};

TEST_P(BackwardSaved, TrainingForwardThenBackwardFromSavedStates) {
  // C: the mini-batch size; chunk: tokens per chunk step (C, or the
  // exact-chunk of an exact per-token rule); K: backward-checkpoint.
  // target: "cpu" or "cuda-emu:<options>".
  auto [spec, C, chunk, K, target] = GetParam();
  const int64_t B = 3, T = 37, H = 2, D = 16;
  std::string sep = target.find(':') == std::string::npos ? ":" : ",";
  tttc_layer *l =
      compiled(spec, D, C, target + sep + "backward,backward-checkpoint=" + std::to_string(K));
  ASSERT_NE(l, nullptr);
  Problem in = makeInputs(l, spec, B, T, H, true, 21);
  Problem cot = makeCotangents(l, B, T, H, 22);
  Problem outPlain = makeCotangents(l, B, T, H, 23), outTrain = makeCotangents(l, B, T, H, 24);
  std::vector<tttc_tensor> ti = in.tensors(), tc = cot.tensors(), tp = outPlain.tensors(),
                           tt = outTrain.tensors();
  ASSERT_EQ(tttc_run(l, ti.data(), int(ti.size()), tp.data(), int(tp.size())), 0)
      << tttc_last_error();
  int64_t bytes = tttc_saved_bytes(l, B, T, H);
  int64_t S = ((T + chunk - 1) / chunk + K - 1) / K;
  ASSERT_GT(bytes, 0);
  EXPECT_EQ(bytes % (4 * B * H * S), 0) << "per state [B, H, S, ...] float32";
  std::vector<float> saved(bytes / 4, std::nanf(""));
  ASSERT_EQ(tttc_run_train(l, ti.data(), int(ti.size()), tt.data(), int(tt.size()), saved.data(),
                           bytes),
            0)
      << tttc_last_error();
  for (size_t i = 0; i < outPlain.names.size(); ++i)
    EXPECT_EQ(std::memcmp(outPlain.data[i].data(), outTrain.data[i].data(),
                          outPlain.data[i].size() * 4),
              0)
        << outPlain.names[i];
  for (float x : saved)
    ASSERT_FALSE(std::isnan(x)) << "every saved element written";

  Problem g;
  for (size_t i = 0; i < in.names.size(); ++i) {
    g.add(in.names[i], in.shapes[i]);
    std::fill(g.data.back().begin(), g.data.back().end(), std::nanf(""));
  }
  std::vector<tttc_tensor> tg = g.tensors();
  ASSERT_EQ(tttc_run_backward_saved(l, ti.data(), int(ti.size()), saved.data(), bytes, tc.data(),
                                    int(tc.size()), tg.data(), int(tg.size())),
            0)
      << tttc_last_error();
  Problem ref = runBackward(l, in, cot);
  for (size_t i = 0; i < g.names.size(); ++i)
    EXPECT_EQ(std::memcmp(g.data[i].data(), ref.data[i].data(), g.data[i].size() * 4), 0)
        << "grad_" << g.names[i];
  // And the gradients are right (not merely equal to themselves).
  std::vector<double> rel = check(l, in, cot, g, 2, 25);
  for (size_t i = 0; i < rel.size(); ++i)
    EXPECT_LE(rel[i], 1e-4) << "grad_" << g.names[i];
}

INSTANTIATE_TEST_SUITE_P(
    Paths, BackwardSaved,
    ::testing::Values(
        std::make_tuple("ttt_linear", 8, 8, 1, "cpu"), std::make_tuple("ttt_linear", 8, 8, 3, "cpu"),
        std::make_tuple("ttt_mlp", 16, 16, 2, "cpu"),
        std::make_tuple("gated_delta", 1, TTTC_DEFAULT_EXACT_CHUNK, 1, "cpu"),
        std::make_tuple("infini_attention", 8, 8, 2, "cpu"),
        // The GPU kernels, checkpointed: the recomputing forward in the
        // backward's kernel.
        std::make_tuple("ttt_linear", 8, 8, 3, "cuda-emu:gpu-threads=32,check-races"),
        std::make_tuple("gated_delta", 1, TTTC_DEFAULT_EXACT_CHUNK, 2,
                        "cuda-emu:gpu-threads=32,check-races")),
    [](const auto &info) {
      return std::get<0>(info.param) + "_C" + std::to_string(std::get<1>(info.param)) + "_K" +
             std::to_string(std::get<3>(info.param)) +
             (std::get<4>(info.param) == "cpu" ? "" : "_emu");
    });

/// The saved states' size, pointer and memory are checked.
TEST(BackwardSavedApi, ErrorsAreReported) {
  const int64_t B = 1, T = 20, H = 2;
  tttc_layer *plain = compiled("ttt_linear", 16, 8, "cpu");
  ASSERT_NE(plain, nullptr);
  EXPECT_EQ(tttc_saved_bytes(plain, B, T, H), 0);
  tttc_layer *l = compiled("ttt_linear", 16, 8, "cpu:backward");
  ASSERT_NE(l, nullptr);
  // W [16, 16] and b [16] at the start of each of 3 chunks, per (b, h).
  int64_t bytes = tttc_saved_bytes(l, B, T, H);
  EXPECT_EQ(bytes, 4 * B * H * 3 * (16 * 16 + 16));
  Problem in = makeInputs(l, "ttt_linear", B, T, H, false, 31);
  Problem cot = makeCotangents(l, B, T, H, 32), out = makeCotangents(l, B, T, H, 33);
  std::vector<tttc_tensor> ti = in.tensors(), tc = cot.tensors(), to = out.tensors();
  std::vector<float> saved(bytes / 4);
  EXPECT_NE(tttc_run_train(plain, ti.data(), int(ti.size()), to.data(), int(to.size()),
                           saved.data(), bytes),
            0);
  EXPECT_NE(std::string(tttc_last_error()).find("without its backward"), std::string::npos);
  EXPECT_NE(tttc_run_train(l, ti.data(), int(ti.size()), to.data(), int(to.size()), saved.data(),
                           bytes - 4),
            0);
  EXPECT_NE(std::string(tttc_last_error()).find("the saved states have"), std::string::npos)
      << tttc_last_error();
  // Saved states written over an output.
  EXPECT_NE(tttc_run_train(l, ti.data(), int(ti.size()), to.data(), int(to.size()), to[0].data,
                           bytes),
            0);
  EXPECT_NE(std::string(tttc_last_error()).find("overlaps"), std::string::npos)
      << tttc_last_error();
  ASSERT_EQ(tttc_run_train(l, ti.data(), int(ti.size()), to.data(), int(to.size()), saved.data(),
                           bytes),
            0)
      << tttc_last_error();
  EXPECT_NE(tttc_run_backward_saved(l, ti.data(), int(ti.size()), nullptr, bytes, tc.data(),
                                    int(tc.size()), nullptr, 0),
            0);
  EXPECT_NE(std::string(tttc_last_error()).find("saved is NULL"), std::string::npos);
  // Saved states of another length.
  EXPECT_NE(tttc_run_backward_saved(l, ti.data(), int(ti.size()), saved.data(),
                                    tttc_saved_bytes(l, B, 8, H), tc.data(), int(tc.size()),
                                    nullptr, 0),
            0);
  EXPECT_NE(std::string(tttc_last_error()).find("expected " + std::to_string(bytes)),
            std::string::npos)
      << tttc_last_error();
  // A gradient written over the saved states.
  Problem g = runBackward(l, in, cot);
  std::vector<tttc_tensor> tg = g.tensors();
  tg[0].data = saved.data();
  EXPECT_NE(tttc_run_backward_saved(l, ti.data(), int(ti.size()), saved.data(), bytes, tc.data(),
                                    int(tc.size()), tg.data(), int(tg.size())),
            0);
  EXPECT_NE(std::string(tttc_last_error()).find("overlaps the saved state 'w'"),
            std::string::npos)
      << tttc_last_error();
}
} // namespace

namespace {
/// The memory strategies compute the same gradients: chunk-start states
/// stored every K chunks (others recomputed from the last checkpoint) gives
/// bit for bit what storing every chunk's gives (the same ops run), for K
/// dividing the chunk count or not, K above it, and one chunk.
class BackwardCheckpoint
    : public ::testing::TestWithParam<std::tuple<std::string, int64_t, int64_t>> {};

TEST_P(BackwardCheckpoint, SameGradientsAsStoringEveryChunk) {
  auto [spec, C, K] = GetParam();
  const int64_t B = 2, T = 100, H = 2, D = 16;
  tttc_layer *all = compiled(spec, D, C, "cpu:backward");
  tttc_layer *ck =
      compiled(spec, D, C, "cpu:backward,backward-checkpoint=" + std::to_string(K));
  ASSERT_NE(all, nullptr);
  ASSERT_NE(ck, nullptr);
  for (int64_t t : {T, int64_t(1)}) {
    Problem in = makeInputs(all, spec, B, t, H, true, 11);
    Problem cot = makeCotangents(all, B, t, H, 12);
    Problem ga = runBackward(all, in, cot), gk = runBackward(ck, in, cot);
    for (size_t i = 0; i < ga.names.size(); ++i)
      EXPECT_EQ(std::memcmp(ga.data[i].data(), gk.data[i].data(), ga.data[i].size() * 4), 0)
          << spec << " grad_" << ga.names[i] << " K=" << K << " T=" << t;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Strategies, BackwardCheckpoint,
    ::testing::Values(std::make_tuple("ttt_linear", 8, 2), std::make_tuple("ttt_mlp", 16, 3),
                      std::make_tuple("titans_linear", 8, 3), std::make_tuple("gated_delta", 1, 7),
                      std::make_tuple("delta", 1, 4), std::make_tuple("infini_attention", 8, 64)),
    [](const auto &info) {
      return std::get<0>(info.param) + "_C" + std::to_string(std::get<1>(info.param)) + "_K" +
             std::to_string(std::get<2>(info.param));
    });
} // namespace

namespace {
/// A training sanity check: TTT-Linear's outer-loop parameters (ln_w, ln_b)
/// and initial states fitted by plain gradient descent to a fixed synthetic
/// target (the same layer's outputs with other parameters), using only the
/// generated backward; the loss mean 1/2 (out - target)^2 must fall by >= 10x.
TEST(BackwardTraining, GradientDescentFitsTTTLinear) {
  const int64_t B = 2, T = 24, H = 2, D = 16, C = 8;
  tttc_layer *l = compiled("ttt_linear", D, C, "cpu:backward");
  ASSERT_NE(l, nullptr);
  Problem teacher = makeInputs(l, "ttt_linear", B, T, H, false, 21);
  auto forward = [&](Problem &in, std::vector<float> &out) {
    Problem o = makeCotangents(l, B, T, H, 0); // output-shaped buffers
    std::vector<tttc_tensor> ti = in.tensors(), to = o.tensors();
    EXPECT_EQ(tttc_run(l, ti.data(), int(ti.size()), to.data(), int(to.size())), 0)
        << tttc_last_error();
    out = o.data[0]; // "out"
  };
  std::vector<float> target;
  forward(teacher, target);
  // The student: the same per-token inputs; parameters and initial states
  // drawn anew (another seed).
  Problem student = teacher, other = makeInputs(l, "ttt_linear", B, T, H, false, 22);
  auto find = [&](Problem &p, const std::string &n) -> std::vector<float> & {
    for (size_t i = 0; i < p.names.size(); ++i)
      if (p.names[i] == n)
        return p.data[i];
    ADD_FAILURE() << "no " << n;
    return p.data[0];
  };
  const std::vector<std::string> learned = {"ln_w", "ln_b", "w_init", "b_init"};
  for (const std::string &n : learned)
    find(student, n) = find(other, n);
  double first = -1, last = -1;
  const float step = 4.0f; // on the mean loss; 300 steps: 0.64 -> 0.015 when written
  for (int it = 0; it < 300; ++it) {
    std::vector<float> out;
    forward(student, out);
    Problem cot = makeCotangents(l, B, T, H, 0);
    double loss = 0;
    for (size_t i = 0; i < out.size(); ++i) {
      float r = out[i] - target[i];
      cot.data[0][i] = r / float(out.size());
      loss += 0.5 * double(r) * r / double(out.size());
    }
    for (size_t o = 1; o < cot.data.size(); ++o) // final states: no loss
      std::fill(cot.data[o].begin(), cot.data[o].end(), 0.0f);
    if (first < 0)
      first = loss;
    last = loss;
    Problem g = runBackward(l, student, cot);
    for (const std::string &n : learned) {
      std::vector<float> &x = find(student, n), &dx = find(g, n);
      for (size_t i = 0; i < x.size(); ++i)
        x[i] -= step * dx[i];
    }
  }
  EXPECT_LE(last, first / 10) << "loss " << first << " -> " << last;
  std::printf("TTT-Linear fit by gradient descent on the generated backward: loss %.4g -> %.4g\n",
              first, last);
}
} // namespace
