//===- NumericsTest.cpp - compiled layers vs float64 per-token references -===//
//
// For TTT-Linear and TTT-MLP, the CPU output of the compiled spec (dual
// form, chunked) must match the hand-written float64 per-token references in
// Reference.h to 1e-5 (max |out - ref| / max |ref|, per output, final states
// included) on random inputs over the grid B x H x D x T x mini-batch, for
// the CPU code and for the GPU kernel IR emulated on the CPU (cuda-emu).
//
//===----------------------------------------------------------------------===//

#include "TestUtil.h"

using namespace testutil;

namespace {

ref::Case makeCase(const std::string &layer, int64_t B, int64_t T, int64_t H, int64_t D,
                   int64_t C, uint64_t seed) {
  std::mt19937_64 rng(seed);
  ref::Case c{B, T, H, D, C, {}, {}};
  double s = 1.0 / std::sqrt(double(D));
  ref::add(c, "q", {B, T, H, D}, rng, 0.0, 1.0);
  ref::add(c, "k", {B, T, H, D}, rng, 0.0, 1.0);
  ref::add(c, "v", {B, T, H, D}, rng, 0.0, 1.0);
  ref::add(c, "lr", {B, T, H}, rng, 0, 0, /*uniform01=*/true);
  ref::add(c, "ln_w", {H, D}, rng, 1.0, 0.2);
  ref::add(c, "ln_b", {H, D}, rng, 0.0, 0.2);
  // The layers normalise k/q scale through LN; keep W's output O(1).
  for (auto &n : {"q", "k"})
    for (float &x : c.in[n])
      x = float(x * s);
  if (layer == "ttt_linear") {
    ref::add(c, "w_init", {H, D, D}, rng, 0.0, 1.0);
    ref::add(c, "b_init", {H, D}, rng, 0.0, 0.1);
  } else {
    ref::add(c, "w1_init", {H, D, 4 * D}, rng, 0.0, 1.0);
    ref::add(c, "b1_init", {H, 4 * D}, rng, 0.0, 0.1);
    ref::add(c, "w2_init", {H, 4 * D, D}, rng, 0.0, 1.0 / std::sqrt(4.0 * D) / s);
    ref::add(c, "b2_init", {H, D}, rng, 0.0, 0.1);
  }
  return c;
}

using Params =
    std::tuple<std::string, std::string, int64_t, int64_t, int64_t, int64_t, int64_t>;

class LayerNumerics : public ::testing::TestWithParam<Params> {};

TEST_P(LayerNumerics, MatchesFloat64PerTokenReference) {
  auto [target, layer, B, H, D, T, C] = GetParam();
  tttc_layer *l = compiled(layer, D, C, target);
  ASSERT_NE(l, nullptr);
  ref::Case c = makeCase(layer, B, T, H, D, C, 1000 * B + 100 * H + 10 * T + C + D);
  auto got = run(l, c);
  std::vector<ref::Vec> want = layer == "ttt_linear" ? ref::tttLinear(c) : ref::tttMLP(c);
  std::vector<std::string> names =
      layer == "ttt_linear"
          ? std::vector<std::string>{"out", "w_final", "b_final"}
          : std::vector<std::string>{"out", "w1_final", "b1_final", "w2_final", "b2_final"};
  ASSERT_EQ(want.size(), names.size());
  for (size_t i = 0; i < names.size(); ++i) {
    ASSERT_TRUE(got.count(names[i])) << names[i];
    double err = relError(got[names[i]], want[i]);
    EXPECT_LE(err, 1e-5) << names[i] << " B=" << B << " H=" << H << " D=" << D
                         << " T=" << T << " C=" << C;
  }
}

std::string paramName(const ::testing::TestParamInfo<Params> &info) {
  auto [target, layer, B, H, D, T, C] = info.param;
  return targetTag(target) + "_" + layer + "_B" + std::to_string(B) + "_H" + std::to_string(H) + "_D" +
         std::to_string(D) + "_T" + std::to_string(T) + "_C" + std::to_string(C);
}

INSTANTIATE_TEST_SUITE_P(
    Grid, LayerNumerics,
    ::testing::Combine(::testing::Values("cpu", "cuda-emu"),
                       ::testing::Values("ttt_linear", "ttt_mlp"), ::testing::Values(1, 3),
                       ::testing::Values(1, 4), ::testing::Values(16, 64),
                       ::testing::Values(1, 15, 16, 17, 100, 1000),
                       ::testing::Values(1, 8, 16)),
    paramName);

} // namespace
