//===- DecodeTest.cpp - the decode step (tttc_decode_*) -------------------===//
//
// For every example: a decoder started from the forward's initial states
// and fed the sequence in steps of 1, 3, C and irregular sizes (a prefill,
// then single tokens) gives the chunked forward's readouts and final states
// to 1e-5 (tttc_run, itself checked against the float64 references by the
// other suites) and the float64 per-token reference's to 1e-4; on cpu and
// on cuda-emu under the race checker. Then the API's errors.
//
//===----------------------------------------------------------------------===//

#include "Problem.h"
#include "tttc/tttc_cuda.h"

#include <cstring>

using namespace testutil;

namespace {

int inputKind(tttc_layer *l, const std::string &name) {
  for (int i = 0; i < tttc_num_inputs(l); ++i)
    if (tttc_input_name(l, i) == name)
      return tttc_input_kind(l, i);
  return -1;
}

bool perToken(int kind) { return kind == TTTC_TOKEN_VECTOR || kind == TTTC_TOKEN_SCALAR; }

/// A decoder over `in` (B rows, T tokens): started from its initial
/// states, then fed the tokens in steps of `steps` sizes (cycled). Returns
/// the outputs as the forward's: readouts [B, T, H, n], final states after
/// the last step.
Problem decode(tttc_layer *l, const Problem &in, int64_t B, int64_t T, int64_t H,
               const std::vector<int64_t> &steps) {
  Problem inits, rest;
  for (size_t j = 0; j < in.names.size(); ++j) {
    Problem &dst = inputKind(l, in.names[j]) == TTTC_STATE_INIT ? inits : rest;
    dst.add(in.names[j], in.shapes[j]);
    dst.data.back() = in.data[j];
  }
  int64_t bytes = tttc_decode_state_bytes(l, B, H);
  EXPECT_GT(bytes, 0);
  std::vector<uint64_t> state((bytes + 7) / 8);
  std::vector<tttc_tensor> ti = inits.tensors();
  EXPECT_EQ(tttc_decode_init(l, ti.data(), int(ti.size()), B, H, state.data(), bytes), 0)
      << tttc_last_error();
  Problem all = outputsFor(l, B, T, H);
  size_t k = 0;
  for (int64_t t = 0; t < T; ++k) {
    int64_t n = std::min(steps[k % steps.size()], T - t);
    Problem step;
    for (size_t j = 0; j < rest.names.size(); ++j) {
      std::vector<int64_t> shape = rest.shapes[j];
      if (!perToken(inputKind(l, rest.names[j]))) {
        step.add(rest.names[j], shape);
        step.data.back() = rest.data[j];
        continue;
      }
      size_t row = numElements(shape) / size_t(B * T);
      shape[1] = n;
      step.add(rest.names[j], shape);
      for (int64_t b = 0; b < B; ++b)
        std::copy_n(rest.data[j].begin() + (b * T + t) * row, n * row,
                    step.data.back().begin() + b * n * row);
    }
    Problem out = outputsFor(l, B, n, H);
    std::vector<tttc_tensor> ts = step.tensors(), to = out.tensors();
    EXPECT_EQ(tttc_decode_step(l, ts.data(), int(ts.size()), state.data(), bytes, to.data(),
                               int(to.size())),
              0)
        << tttc_last_error();
    for (size_t j = 0; j < out.names.size(); ++j) {
      if (tttc_output_kind(l, int(j)) != TTTC_READOUT) {
        all.data[j] = out.data[j];
        continue;
      }
      size_t row = numElements(out.shapes[j]) / size_t(B * n);
      for (int64_t b = 0; b < B; ++b)
        std::copy_n(out.data[j].begin() + b * n * row, n * row,
                    all.data[j].begin() + (b * T + t) * row);
    }
    t += n;
    EXPECT_EQ(tttc_decode_position(state.data(), bytes), t);
  }
  return all;
}

double relError(const std::vector<float> &a, const std::vector<float> &r) {
  std::vector<double> rd(r.begin(), r.end());
  return testutil::relError(a, rd);
}

using Params = std::tuple<std::string, int64_t, std::string, bool>;
class Decode : public ::testing::TestWithParam<Params> {};

TEST_P(Decode, StepsEqualTheChunkedForward) {
  auto [spec, C, target, perRowInit] = GetParam();
  if (target == "cuda" && !tttc_cuda_available())
    GTEST_SKIP() << "target cuda needs a GPU: " << tttc_cuda_last_error();
  const int64_t D = 16;
  tttc_layer *l = compiled(spec, D, C,
                           target + (target.find(':') == std::string::npos ? ":" : ",") +
                               "decode");
  ASSERT_NE(l, nullptr);
  struct Shape {
    int64_t B, T, H;
  };
  for (Shape s : {Shape{3, 2 * C + 5, 2}, Shape{1, 1, 1}, Shape{2, C, 1}}) {
    Problem in = makeInputs(l, spec, s.B, s.T, s.H, perRowInit, 61 + s.T);
    std::vector<tttc_tensor> ti = in.tensors();
    Problem fwd = outputsFor(l, s.B, s.T, s.H);
    std::vector<tttc_tensor> tf = fwd.tensors();
    ASSERT_EQ(tttc_run(l, ti.data(), int(ti.size()), tf.data(), int(tf.size())), 0)
        << tttc_last_error();
    // The float64 per-token reference, independently.
    std::vector<std::vector<double>> ref(fwd.names.size());
    std::vector<tttc_tensor_f64> tr;
    for (size_t j = 0; j < fwd.names.size(); ++j) {
      ref[j].resize(fwd.data[j].size());
      tr.push_back({fwd.names[j].c_str(), ref[j].data(), int(fwd.shapes[j].size()),
                    fwd.shapes[j].data()});
    }
    ASSERT_EQ(tttc_run_reference(l, ti.data(), int(ti.size()), tr.data(), int(tr.size())), 0)
        << tttc_last_error();
    for (std::vector<int64_t> steps :
         {std::vector<int64_t>{1}, {3}, {C}, {C + 3, 1, 1, 2}, {s.T}}) {
      Problem dec = decode(l, in, s.B, s.T, s.H, steps);
      for (size_t j = 0; j < fwd.names.size(); ++j) {
        std::string what = fwd.names[j] + " (B=" + std::to_string(s.B) + " T=" +
                           std::to_string(s.T) + " H=" + std::to_string(s.H) +
                           ", first step " + std::to_string(steps[0]) + ")";
        EXPECT_LE(relError(dec.data[j], fwd.data[j]), 1e-5) << what << " vs the forward";
        EXPECT_LE(testutil::relError(dec.data[j], ref[j]), 1e-4) << what << " vs the reference";
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Steps, Decode,
    ::testing::Values(std::make_tuple("ttt_linear", 8, "cpu", false),
                      std::make_tuple("ttt_linear", 8, "cpu", true),
                      std::make_tuple("ttt_mlp", 8, "cpu", true),
                      std::make_tuple("titans_linear", 8, "cpu", false),
                      std::make_tuple("titans_mlp", 8, "cpu", true),
                      std::make_tuple("delta", 1, "cpu", true),
                      std::make_tuple("gated_delta", 1, "cpu", false),
                      std::make_tuple("linear_attention", 8, "cpu", false),
                      std::make_tuple("infini_attention", 8, "cpu", false),
                      std::make_tuple("infini_attention_delta", 8, "cpu", false),
                      std::make_tuple("ttt_linear", 8, "cuda-emu:gpu-threads=32,check-races",
                                      true),
                      std::make_tuple("infini_attention", 8,
                                      "cuda-emu:gpu-threads=32,check-races", false)),
    [](const auto &info) {
      return std::get<0>(info.param) + "_" + targetTag(std::get<2>(info.param)) +
             (std::get<3>(info.param) ? "_per_row_init" : "");
    });
// On a GPU (skipped without one): the resume kernel, every example.
INSTANTIATE_TEST_SUITE_P(
    CUDA, Decode,
    ::testing::Values(std::make_tuple("ttt_linear", 8, "cuda", true),
                      std::make_tuple("ttt_mlp", 8, "cuda", true),
                      std::make_tuple("titans_linear", 8, "cuda", false),
                      std::make_tuple("titans_mlp", 8, "cuda", true),
                      std::make_tuple("delta", 1, "cuda", true),
                      std::make_tuple("gated_delta", 1, "cuda", false),
                      std::make_tuple("linear_attention", 8, "cuda", false),
                      std::make_tuple("infini_attention", 8, "cuda", false),
                      std::make_tuple("infini_attention_delta", 8, "cuda", false)),
    [](const auto &info) {
      return std::get<0>(info.param) + (std::get<3>(info.param) ? "_per_row_init" : "");
    });

TEST(DecodeApi, ErrorsNameTheProblem) {
  const int64_t B = 2, H = 2, T = 11;
  tttc_layer *l = compiled("ttt_linear", 16, 8, "cpu:decode");
  ASSERT_NE(l, nullptr);
  auto hasError = [](const std::string &msg) {
    return std::string(tttc_last_error()).find(msg) != std::string::npos;
  };
  // Without the decode step.
  tttc_layer *plain = compiled("ttt_linear", 16, 8, "cpu");
  ASSERT_NE(plain, nullptr);
  EXPECT_EQ(tttc_decode_state_bytes(plain, B, H), 0);
  std::vector<uint64_t> buf(1024);
  EXPECT_NE(tttc_decode_init(plain, nullptr, 0, B, H, buf.data(), 64), 0);
  EXPECT_TRUE(hasError("pipeline option 'decode'")) << tttc_last_error();

  Problem in = makeInputs(l, "ttt_linear", B, T, H, false, 71);
  Problem inits, steps;
  for (size_t j = 0; j < in.names.size(); ++j) {
    Problem &dst = inputKind(l, in.names[j]) == TTTC_STATE_INIT ? inits : steps;
    dst.add(in.names[j], in.shapes[j]);
    dst.data.back() = in.data[j];
  }
  int64_t bytes = tttc_decode_state_bytes(l, B, H);
  std::vector<uint64_t> state((bytes + 7) / 8);
  std::vector<tttc_tensor> ti = inits.tensors(), ts = steps.tensors();
  Problem out = outputsFor(l, B, T, H);
  std::vector<tttc_tensor> to = out.tensors();
  // Not started.
  EXPECT_NE(tttc_decode_step(l, ts.data(), int(ts.size()), state.data(), bytes, to.data(),
                             int(to.size())),
            0);
  EXPECT_TRUE(hasError("was not started (tttc_decode_init)")) << tttc_last_error();
  EXPECT_EQ(tttc_decode_position(state.data(), bytes), -1);
  // Sizes and names at the start.
  EXPECT_NE(tttc_decode_init(l, ti.data(), int(ti.size()), B, H, state.data(), bytes - 8), 0);
  EXPECT_TRUE(hasError("(tttc_decode_state_bytes for B=2, H=2)")) << tttc_last_error();
  tttc_tensor q = ts[0];
  EXPECT_NE(tttc_decode_init(l, &q, 1, B, H, state.data(), bytes), 0);
  EXPECT_TRUE(hasError("'q' is not an initial state of the layer; its initial states are:"))
      << tttc_last_error();
  {
    tttc_tensor bad = ti[0];
    std::vector<int64_t> shape(bad.shape, bad.shape + bad.rank);
    shape[0] = 3;
    bad.shape = shape.data();
    EXPECT_NE(tttc_decode_init(l, &bad, 1, B, H, state.data(), bytes), 0);
    EXPECT_TRUE(hasError("has shape [3,")) << tttc_last_error();
  }
  ASSERT_EQ(tttc_decode_init(l, ti.data(), int(ti.size()), B, H, state.data(), bytes), 0)
      << tttc_last_error();
  EXPECT_EQ(tttc_decode_position(state.data(), bytes), 0);
  // An initial state given to a step.
  {
    std::vector<tttc_tensor> withInit = ts;
    withInit.push_back(ti[0]);
    EXPECT_NE(tttc_decode_step(l, withInit.data(), int(withInit.size()), state.data(), bytes,
                               to.data(), int(to.size())),
              0);
    EXPECT_TRUE(hasError("is given to the decoder's start")) << tttc_last_error();
  }
  // Token inputs of another batch size than the decoder's.
  {
    Problem three = makeInputs(l, "ttt_linear", 3, T, H, false, 72);
    std::vector<tttc_tensor> t3;
    for (tttc_tensor t : three.tensors())
      if (inputKind(l, t.name) != TTTC_STATE_INIT)
        t3.push_back(t);
    EXPECT_NE(tttc_decode_step(l, t3.data(), int(t3.size()), state.data(), bytes, to.data(),
                               int(to.size())),
              0);
    EXPECT_TRUE(hasError("(decoder of B=2, H=2, 11 tokens)")) << tttc_last_error();
  }
  // An output in the decoder state's memory.
  {
    std::vector<tttc_tensor> inState = to;
    inState.resize(1);
    inState[0].data = state.data();
    EXPECT_NE(tttc_decode_step(l, ts.data(), int(ts.size()), state.data(), bytes,
                               inState.data(), 1),
              0);
    EXPECT_TRUE(hasError("output 'out' shares memory")) << tttc_last_error();
  }
  // A state of another layer: the same spec with another mini-batch.
  tttc_layer *c4 = compiled("ttt_linear", 16, 4, "cpu:decode");
  ASSERT_NE(c4, nullptr);
  {
    int64_t mb = tttc_decode_state_bytes(c4, B, H);
    std::vector<uint64_t> other((mb + 7) / 8);
    ASSERT_EQ(tttc_decode_init(c4, ti.data(), int(ti.size()), B, H, other.data(), mb), 0)
        << tttc_last_error();
    EXPECT_NE(tttc_decode_step(l, ts.data(), int(ts.size()), other.data(), mb, to.data(),
                               int(to.size())),
              0);
    EXPECT_TRUE(hasError("belongs to another layer")) << tttc_last_error();
  }
  // No failed call above changed the state.
  EXPECT_EQ(tttc_decode_position(state.data(), bytes), 0);

  // A copied state (a forked beam) continues like the original.
  Problem first = outputsFor(l, B, 5, H);
  Problem head;
  for (size_t j = 0; j < steps.names.size(); ++j) {
    std::vector<int64_t> shape = steps.shapes[j];
    bool tok = perToken(inputKind(l, steps.names[j]));
    if (tok)
      shape[1] = 5;
    head.add(steps.names[j], shape);
    size_t row = tok ? numElements(steps.shapes[j]) / size_t(B * T) : 0;
    for (int64_t b = 0; b < B && tok; ++b)
      std::copy_n(steps.data[j].begin() + b * T * row, 5 * row,
                  head.data.back().begin() + b * 5 * row);
    if (!tok)
      head.data.back() = steps.data[j];
  }
  std::vector<tttc_tensor> th = head.tensors(), tfirst = first.tensors();
  ASSERT_EQ(tttc_decode_step(l, th.data(), int(th.size()), state.data(), bytes, tfirst.data(),
                             int(tfirst.size())),
            0)
      << tttc_last_error();
  std::vector<uint64_t> fork = state;
  Problem o1 = outputsFor(l, B, 5, H), o2 = o1;
  std::vector<tttc_tensor> t1 = o1.tensors(), t2 = o2.tensors();
  ASSERT_EQ(tttc_decode_step(l, th.data(), int(th.size()), state.data(), bytes, t1.data(),
                             int(t1.size())),
            0);
  ASSERT_EQ(tttc_decode_step(l, th.data(), int(th.size()), fork.data(), bytes, t2.data(),
                             int(t2.size())),
            0);
  EXPECT_EQ(tttc_decode_position(fork.data(), bytes), 10);
  for (size_t j = 0; j < o1.names.size(); ++j)
    EXPECT_EQ(std::memcmp(o1.data[j].data(), o2.data[j].data(), o1.data[j].size() * 4), 0)
        << o1.names[j];
  // Outputs may be omitted.
  EXPECT_EQ(tttc_decode_step(l, th.data(), int(th.size()), fork.data(), bytes, nullptr, 0), 0)
      << tttc_last_error();
}

} // namespace
