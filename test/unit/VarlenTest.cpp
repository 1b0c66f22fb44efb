//===- VarlenTest.cpp - packed variable-length batches (cu_seqlens) -------===//
//
// For every example: N sequences of awkward lengths packed along T of one
// batch row give, forward (outputs and each sequence's final state),
// training forward (saved states) and backward (every input's gradient), bit
// for bit what the sequences give run one by one through tttc_run and
// tttc_run_backward (themselves checked against the float64 references by
// the other suites); initial states shared per head or one per sequence.
//
//===----------------------------------------------------------------------===//

#include "Problem.h"

#include <cstring>

using namespace testutil;

namespace {

int kindOf(tttc_layer *l, const std::string &name, bool output = false) {
  int n = output ? tttc_num_outputs(l) : tttc_num_inputs(l);
  for (int i = 0; i < n; ++i)
    if ((output ? tttc_output_name(l, i) : tttc_input_name(l, i)) == name)
      return output ? tttc_output_kind(l, i) : tttc_input_kind(l, i);
  return -1;
}

bool tokens(int kind) {
  return kind == TTTC_TOKEN_VECTOR || kind == TTTC_TOKEN_SCALAR || kind == TTTC_READOUT;
}

/// Whether initial state `name` of shape `shape` is one row per sequence
/// ([N, H, ...], not the per-head [H, ...]).
bool perSequence(tttc_layer *l, const std::string &name, const std::vector<int64_t> &shape) {
  for (int i = 0; i < tttc_num_inputs(l); ++i)
    if (tttc_input_name(l, i) == name) {
      int64_t s[8];
      return int(shape.size()) == tttc_input_shape(l, i, 1, 1, 1, s) + 1;
    }
  return false;
}

/// Sequence i of packed `p` (tokens [cu[i], cu[i+1])): per-token tensors
/// sliced along T, per-sequence rows (final states; initial states given
/// per sequence) taken, the rest whole.
Problem slice(tttc_layer *l, const Problem &p, const std::vector<int64_t> &cu, size_t i,
              int64_t N, bool outputs) {
  Problem s;
  for (size_t j = 0; j < p.names.size(); ++j) {
    int kind = kindOf(l, p.names[j], outputs);
    std::vector<int64_t> shape = p.shapes[j];
    const std::vector<float> &d = p.data[j];
    if (tokens(kind)) {
      int64_t row = numElements(shape) / shape[1];
      shape[1] = cu[i + 1] - cu[i];
      s.add(p.names[j], shape);
      std::copy(d.begin() + cu[i] * row, d.begin() + cu[i + 1] * row, s.data.back().begin());
    } else if (kind == TTTC_STATE_FINAL || (kind == TTTC_STATE_INIT && perSequence(l, p.names[j], shape))) {
      int64_t row = numElements(shape) / N;
      shape[0] = 1;
      s.add(p.names[j], shape);
      std::copy(d.begin() + i * row, d.begin() + (i + 1) * row, s.data.back().begin());
    } else {
      s.add(p.names[j], shape);
      s.data.back() = d;
    }
  }
  return s;
}

/// Whether sequence i's part of packed `p` equals `s` bit for bit.
void expectPart(tttc_layer *l, const Problem &p, const Problem &s, const std::vector<int64_t> &cu,
                size_t i, int64_t N, bool outputs, const std::string &what) {
  Problem want = slice(l, p, cu, i, N, outputs);
  for (size_t j = 0; j < s.names.size(); ++j)
    EXPECT_EQ(std::memcmp(want.data[j].data(), s.data[j].data(), s.data[j].size() * 4), 0)
        << what << " '" << s.names[j] << "' of sequence " << i;
}

/// Outputs (or cotangents) made for B = N packed: readouts are [1, T, H, n]
/// (the shape for B = N has N rows of T), final states keep one row per
/// sequence.
void packReadouts(tttc_layer *l, Problem &p) {
  for (size_t j = 0; j < p.names.size(); ++j)
    if (kindOf(l, p.names[j], true) == TTTC_READOUT) {
      p.shapes[j][0] = 1;
      p.data[j].resize(numElements(p.shapes[j]));
    }
}

Problem gradsFor(const Problem &in) {
  Problem g;
  for (size_t i = 0; i < in.names.size(); ++i) {
    g.add(in.names[i], in.shapes[i]);
    std::fill(g.data.back().begin(), g.data.back().end(), std::nanf(""));
  }
  return g;
}

using Params = std::tuple<std::string, int64_t, bool>;
class Varlen : public ::testing::TestWithParam<Params> {};

TEST_P(Varlen, PackedSequencesEqualTheSequencesOneByOne) {
  auto [spec, C, perSeqInit] = GetParam();
  const int64_t H = 2, D = 16;
  const std::vector<int64_t> cu = {0, 5, 22, 23, 32}; // lengths 5, 17, 1, 9
  const int64_t N = int64_t(cu.size()) - 1, T = cu.back();
  tttc_layer *l = compiled(spec, D, C, "cpu:backward");
  ASSERT_NE(l, nullptr);
  Problem in = makeInputs(l, spec, 1, T, H, /*full=*/false, 41);
  if (perSeqInit) {
    Problem rows = makeInputs(l, spec, N, 1, H, /*full=*/true, 42);
    for (size_t j = 0; j < in.names.size(); ++j)
      if (kindOf(l, in.names[j]) == TTTC_STATE_INIT)
        for (size_t k = 0; k < rows.names.size(); ++k)
          if (rows.names[k] == in.names[j]) {
            in.shapes[j] = rows.shapes[k];
            in.data[j] = rows.data[k];
          }
  }
  std::vector<tttc_tensor> ti = in.tensors();
  Problem out = outputsFor(l, N, T, H);
  packReadouts(l, out);
  std::vector<tttc_tensor> to = out.tensors();
  ASSERT_EQ(tttc_run_varlen(l, ti.data(), int(ti.size()), to.data(), int(to.size()), cu.data(),
                            int(N)),
            0)
      << tttc_last_error();

  // Training forward: the same outputs, and its saved states.
  int64_t bytes = tttc_saved_bytes_varlen(l, cu.data(), int(N), H);
  int64_t sum = 0;
  for (int64_t i = 0; i < N; ++i)
    sum += tttc_saved_bytes(l, 1, cu[i + 1] - cu[i], H);
  EXPECT_EQ(bytes, sum);
  std::vector<float> saved(bytes / 4, std::nanf(""));
  Problem outT = out;
  std::vector<tttc_tensor> tt = outT.tensors();
  ASSERT_EQ(tttc_run_train_varlen(l, ti.data(), int(ti.size()), tt.data(), int(tt.size()),
                                  cu.data(), int(N), saved.data(), bytes),
            0)
      << tttc_last_error();
  for (size_t j = 0; j < out.names.size(); ++j)
    EXPECT_EQ(std::memcmp(out.data[j].data(), outT.data[j].data(), out.data[j].size() * 4), 0)
        << out.names[j];

  // Backward on random cotangents of every output.
  Problem cot = makeCotangents(l, N, T, H, 43);
  packReadouts(l, cot);
  Problem g = gradsFor(in);
  std::vector<tttc_tensor> tc = cot.tensors(), tg = g.tensors();
  ASSERT_EQ(tttc_run_backward_varlen(l, ti.data(), int(ti.size()), cu.data(), int(N),
                                     saved.data(), bytes, tc.data(), int(tc.size()), tg.data(),
                                     int(tg.size())),
            0)
      << tttc_last_error();

  // One by one.
  Problem summed = gradsFor(in);
  for (auto &d : summed.data)
    std::fill(d.begin(), d.end(), 0.0f);
  for (size_t i = 0; i < size_t(N); ++i) {
    Problem si = slice(l, in, cu, i, N, false);
    int64_t len = cu[i + 1] - cu[i];
    Problem so = outputsFor(l, 1, len, H);
    std::vector<tttc_tensor> tsi = si.tensors(), tso = so.tensors();
    ASSERT_EQ(tttc_run(l, tsi.data(), int(tsi.size()), tso.data(), int(tso.size())), 0)
        << tttc_last_error();
    expectPart(l, out, so, cu, i, N, true, "output");
    Problem sc = slice(l, cot, cu, i, N, true), sg = gradsFor(si);
    std::vector<tttc_tensor> tsc = sc.tensors(), tsg = sg.tensors();
    ASSERT_EQ(tttc_run_backward(l, tsi.data(), int(tsi.size()), tsc.data(), int(tsc.size()),
                                tsg.data(), int(tsg.size())),
              0)
        << tttc_last_error();
    for (size_t j = 0; j < sg.names.size(); ++j) {
      int kind = kindOf(l, sg.names[j]);
      bool rowOf = kind == TTTC_STATE_INIT && perSeqInit;
      if (tokens(kind) || rowOf) {
        Problem want = slice(l, g, cu, i, N, false);
        EXPECT_EQ(std::memcmp(want.data[j].data(), sg.data[j].data(), sg.data[j].size() * 4), 0)
            << "grad_" << sg.names[j] << " of sequence " << i;
      } else {
        for (size_t e = 0; e < sg.data[j].size(); ++e)
          summed.data[j][e] += sg.data[j][e];
      }
    }
  }
  for (size_t j = 0; j < g.names.size(); ++j) {
    int kind = kindOf(l, g.names[j]);
    if (tokens(kind) || (kind == TTTC_STATE_INIT && perSeqInit))
      continue;
    EXPECT_EQ(std::memcmp(g.data[j].data(), summed.data[j].data(), g.data[j].size() * 4), 0)
        << "grad_" << g.names[j] << ": the sum over the sequences";
  }

  // And the packed gradients against the float64 reference run sequence by
  // sequence (directional derivatives; nothing shared with the backward).
  std::vector<double> rel(tg.size(), INFINITY);
  ASSERT_EQ(tttc_check_gradients_varlen(l, ti.data(), int(ti.size()), cu.data(), int(N),
                                        tc.data(), int(tc.size()), tg.data(), int(tg.size()), 2,
                                        44, rel.data()),
            0)
      << tttc_last_error();
  for (size_t j = 0; j < tg.size(); ++j)
    EXPECT_LE(rel[j], 1e-4) << spec << " grad_" << g.names[j] << " of the packed batch";
}

/// The packed check can fail: one parameter's gradient 1% off is reported.
TEST(VarlenCheck, FlagsAWrongPackedGradient) {
  const std::vector<int64_t> cu = {0, 7, 19};
  const int64_t N = 2, T = cu.back(), H = 2;
  tttc_layer *l = compiled("ttt_linear", 16, 8, "cpu:backward");
  ASSERT_NE(l, nullptr);
  Problem in = makeInputs(l, "ttt_linear", 1, T, H, false, 61);
  Problem cot = makeCotangents(l, N, T, H, 62);
  packReadouts(l, cot);
  std::vector<tttc_tensor> ti = in.tensors(), tc = cot.tensors();
  std::vector<float> saved(size_t(tttc_saved_bytes_varlen(l, cu.data(), int(N), H) / 4));
  Problem out = outputsFor(l, N, T, H);
  packReadouts(l, out);
  std::vector<tttc_tensor> to = out.tensors();
  ASSERT_EQ(tttc_run_train_varlen(l, ti.data(), int(ti.size()), to.data(), int(to.size()),
                                  cu.data(), int(N), saved.data(), int64_t(saved.size() * 4)),
            0)
      << tttc_last_error();
  Problem g = gradsFor(in);
  std::vector<tttc_tensor> tg = g.tensors();
  ASSERT_EQ(tttc_run_backward_varlen(l, ti.data(), int(ti.size()), cu.data(), int(N),
                                     saved.data(), int64_t(saved.size() * 4), tc.data(),
                                     int(tc.size()), tg.data(), int(tg.size())),
            0)
      << tttc_last_error();
  size_t w = 0;
  while (g.names[w] != "ln_w")
    ++w;
  for (float &x : g.data[w])
    x *= 1.01f;
  std::vector<double> rel(tg.size());
  ASSERT_EQ(tttc_check_gradients_varlen(l, ti.data(), int(ti.size()), cu.data(), int(N),
                                        tc.data(), int(tc.size()), tg.data(), int(tg.size()), 2,
                                        63, rel.data()),
            0)
      << tttc_last_error();
  EXPECT_GT(rel[w], 1e-3) << "a 1% error in grad_ln_w";
  for (size_t j = 0; j < rel.size(); ++j) {
    if (j != w) {
      EXPECT_LE(rel[j], 1e-4) << "grad_" << g.names[j];
    }
  }
  // Offsets that do not fit the inputs are an error, not a guess.
  std::vector<int64_t> bad = {0, 7, 18};
  EXPECT_NE(tttc_check_gradients_varlen(l, ti.data(), int(ti.size()), bad.data(), int(N),
                                        tc.data(), int(tc.size()), tg.data(), int(tg.size()), 2,
                                        63, rel.data()),
            0);
  EXPECT_NE(std::string(tttc_last_error()).find("cu_seqlens"), std::string::npos)
      << tttc_last_error();
}

INSTANTIATE_TEST_SUITE_P(
    Packed, Varlen,
    ::testing::Values(std::make_tuple("ttt_linear", 8, false), std::make_tuple("ttt_linear", 8, true),
                      std::make_tuple("ttt_mlp", 8, true), std::make_tuple("titans_linear", 8, false),
                      std::make_tuple("titans_mlp", 8, true), std::make_tuple("delta", 1, true),
                      std::make_tuple("gated_delta", 1, false),
                      std::make_tuple("linear_attention", 8, false),
                      std::make_tuple("infini_attention", 8, false),
                      std::make_tuple("infini_attention_delta", 8, false)),
    [](const auto &info) {
      return std::get<0>(info.param) + (std::get<2>(info.param) ? "_per_sequence_init" : "");
    });

TEST(VarlenApi, ErrorsNameTheProblem) {
  const int64_t H = 2;
  tttc_layer *l = compiled("ttt_linear", 16, 8, "cpu:backward");
  ASSERT_NE(l, nullptr);
  Problem in = makeInputs(l, "ttt_linear", 1, 20, H, false, 51);
  Problem out = outputsFor(l, 2, 20, H);
  out.shapes[0][0] = 1;
  out.data[0].resize(numElements(out.shapes[0]));
  std::vector<tttc_tensor> ti = in.tensors(), to = out.tensors();
  auto fails = [&](std::vector<int64_t> cu, const std::string &msg) {
    EXPECT_NE(tttc_run_varlen(l, ti.data(), int(ti.size()), to.data(), int(to.size()), cu.data(),
                              int(cu.size()) - 1),
              0);
    EXPECT_NE(std::string(tttc_last_error()).find(msg), std::string::npos) << tttc_last_error();
  };
  ASSERT_EQ(tttc_run_varlen(l, ti.data(), int(ti.size()), to.data(), int(to.size()),
                            std::vector<int64_t>{0, 7, 20}.data(), 2),
            0)
      << tttc_last_error();
  // A [1, H, ...] initial state is shared by the sequences like [H, ...].
  {
    Problem one = in;
    Problem o1 = outputsFor(l, 2, 20, H), o2 = o1;
    o1.shapes[0][0] = o2.shapes[0][0] = 1;
    o1.data[0].resize(numElements(o1.shapes[0]));
    o2.data[0].resize(numElements(o2.shapes[0]));
    for (size_t j = 0; j < one.names.size(); ++j)
      if (kindOf(l, one.names[j]) == TTTC_STATE_INIT)
        one.shapes[j].insert(one.shapes[j].begin(), 1);
    std::vector<tttc_tensor> t1 = one.tensors(), to1 = o1.tensors(), to2 = o2.tensors();
    std::vector<int64_t> cu = {0, 7, 20};
    ASSERT_EQ(tttc_run_varlen(l, t1.data(), int(t1.size()), to1.data(), int(to1.size()),
                              cu.data(), 2),
              0)
        << tttc_last_error();
    ASSERT_EQ(tttc_run_varlen(l, ti.data(), int(ti.size()), to2.data(), int(to2.size()),
                              cu.data(), 2),
              0)
        << tttc_last_error();
    for (size_t j = 0; j < o1.names.size(); ++j)
      EXPECT_EQ(o1.data[j], o2.data[j]) << o1.names[j];
  }
  fails({1, 7, 20}, "cu_seqlens[0] is 1, expected 0");
  fails({0, 7, 7, 20}, "cu_seqlens must increase strictly: cu_seqlens[2] = 7 after");
  fails({0, 9, 7}, "must increase strictly");
  fails({0, 7, 19}, "cu_seqlens ends at 19 but input 'q' has T_total = 20");
  fails({0, 3, 7, 20}, "output 'w_final' has shape [2, 2, 16, 16]: one row per sequence, "
                       "[N, H, ...] with N = 3");
  EXPECT_NE(tttc_run_varlen(l, ti.data(), int(ti.size()), to.data(), int(to.size()), nullptr, 2),
            0);
  EXPECT_NE(std::string(tttc_last_error()).find("cu_seqlens is NULL"), std::string::npos);
  // A batch of two rows is no packed batch.
  Problem two = makeInputs(l, "ttt_linear", 2, 20, H, false, 52);
  std::vector<tttc_tensor> t2 = two.tensors();
  EXPECT_NE(tttc_run_varlen(l, t2.data(), int(t2.size()), to.data(), int(to.size()),
                            std::vector<int64_t>{0, 7, 20}.data(), 2),
            0);
  EXPECT_NE(std::string(tttc_last_error()).find("a packed batch is [1, T_total, H, ...]"),
            std::string::npos)
      << tttc_last_error();
  // Saved states of the wrong size.
  std::vector<int64_t> cu = {0, 7, 20};
  int64_t bytes = tttc_saved_bytes_varlen(l, cu.data(), 2, H);
  std::vector<float> saved(bytes / 4 + 1);
  EXPECT_NE(tttc_run_train_varlen(l, ti.data(), int(ti.size()), to.data(), int(to.size()),
                                  cu.data(), 2, saved.data(), bytes + 4),
            0);
  EXPECT_NE(std::string(tttc_last_error()).find("(tttc_saved_bytes_varlen)"), std::string::npos)
      << tttc_last_error();
}

} // namespace
