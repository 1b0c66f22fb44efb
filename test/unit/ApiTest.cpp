//===- ApiTest.cpp - the C API: errors, options, reference interpreter ----===//

#include "TestUtil.h"
#include "tttc/tttc_cuda.h"
#include "tttc/tttc_fp16.h"

#include <cstdlib>
#include <cstring>

using namespace testutil;

namespace {

ref::Case linearCase(int64_t B, int64_t T, int64_t H, int64_t D, int64_t C, uint64_t seed) {
  std::mt19937_64 rng(seed);
  ref::Case c{B, T, H, D, C, {}, {}};
  for (auto n : {"q", "k", "v"})
    ref::add(c, n, {B, T, H, D}, rng, 0.0, 1.0 / std::sqrt(double(D)));
  ref::add(c, "lr", {B, T, H}, rng, 0, 0, true);
  ref::add(c, "ln_w", {H, D}, rng, 1.0, 0.2);
  ref::add(c, "ln_b", {H, D}, rng, 0.0, 0.2);
  ref::add(c, "w_init", {H, D, D}, rng, 0.0, 1.0);
  ref::add(c, "b_init", {H, D}, rng, 0.0, 0.1);
  return c;
}

TEST(Api, CompileErrorsAreLocated) {
  tttc_options o16 = tttc_default_options(16);
  EXPECT_EQ(tttc_compile_file("/nonexistent/spec.mlir", &o16), nullptr);
  EXPECT_NE(std::string(tttc_last_error()).find("/nonexistent/spec.mlir"), std::string::npos);

  const char *bad = "ttt.layer @x attributes {mini_batch = 4 : i64} {\n"
                    "  %q = ttt.input \"q\" : !ttt.vec<1>\n"
                    "}\n";
  EXPECT_EQ(tttc_compile(bad, &o16), nullptr);
  std::string err = tttc_last_error();
  EXPECT_NE(err.find("<spec>:1:1"), std::string::npos) << err;
  EXPECT_NE(err.find("needs exactly one ttt.loss"), std::string::npos) << err;

  tttc_options o0 = tttc_default_options(0);
  EXPECT_EQ(tttc_compile_file(example("ttt_linear").c_str(), &o0), nullptr);
  EXPECT_NE(std::string(tttc_last_error()).find("head dimension"), std::string::npos);
  EXPECT_EQ(tttc_compile_file(example("ttt_linear").c_str(), nullptr), nullptr);
  EXPECT_NE(std::string(tttc_last_error()).find("options is NULL"), std::string::npos);
}

TEST(Api, Signature) {
  tttc_layer *l = compiled("ttt_linear", 16, 4);
  ASSERT_NE(l, nullptr);
  EXPECT_STREQ(tttc_layer_name(l), "ttt_linear");
  EXPECT_EQ(tttc_head_dim(l), 16);
  EXPECT_EQ(tttc_mini_batch(l), 4);
  std::vector<std::string> ins, outs;
  for (int i = 0; i < tttc_num_inputs(l); ++i)
    ins.push_back(tttc_input_name(l, i));
  for (int i = 0; i < tttc_num_outputs(l); ++i)
    outs.push_back(tttc_output_name(l, i));
  EXPECT_EQ(ins, (std::vector<std::string>{"q", "k", "v", "lr", "token_scale", "ln_w",
                                           "ln_b", "w_init", "b_init"}));
  EXPECT_EQ(outs, (std::vector<std::string>{"out", "w_final", "b_final"}));
  EXPECT_TRUE(tttc_input_optional(l, 4));
  int64_t s[8];
  EXPECT_EQ(tttc_output_shape(l, 1, 2, 5, 3, s), 4);
  EXPECT_EQ(std::vector<int64_t>(s, s + 4), (std::vector<int64_t>{2, 3, 16, 16}));
}

TEST(Api, RunRejectsBadInputsWithClearMessages) {
  tttc_layer *l = compiled("ttt_linear", 16, 4);
  ASSERT_NE(l, nullptr);
  ref::Case c = linearCase(2, 5, 3, 16, 4, 7);
  std::vector<float> o(2 * 5 * 3 * 16), w(2 * 3 * 16 * 16), b(2 * 3 * 16);
  int64_t so[] = {2, 5, 3, 16}, sw[] = {2, 3, 16, 16}, sb[] = {2, 3, 16};
  std::vector<tttc_tensor> outs = {{"out", o.data(), 4, so},
                                   {"w_final", w.data(), 4, sw},
                                   {"b_final", b.data(), 3, sb}};
  auto expectError = [&](std::vector<tttc_tensor> ins, std::vector<tttc_tensor> os,
                         const std::string &msg) {
    EXPECT_NE(tttc_run(l, ins.data(), int(ins.size()), os.data(), int(os.size())), 0);
    EXPECT_NE(std::string(tttc_last_error()).find(msg), std::string::npos)
        << "got: " << tttc_last_error() << "\nwant: " << msg;
  };
  std::vector<tttc_tensor> ins = inputsOf(c);
  // Sanity: the good call works.
  EXPECT_EQ(tttc_run(l, ins.data(), int(ins.size()), outs.data(), 3), 0) << tttc_last_error();

  auto without = [&](const std::string &n) {
    std::vector<tttc_tensor> r;
    for (auto &t : ins)
      if (n != t.name)
        r.push_back(t);
    return r;
  };
  expectError(without("k"), outs, "missing input 'k' (expected shape [B, T, H, 16]");
  expectError(without("w_init"), outs, "missing input 'w_init'");

  auto withShape = [&](const std::string &n, std::vector<int64_t> *shape) {
    std::vector<tttc_tensor> r = ins;
    for (auto &t : r)
      if (n == t.name) {
        t.rank = int(shape->size());
        t.shape = shape->data();
      }
    return r;
  };
  std::vector<int64_t> badV = {2, 5, 3, 8};
  expectError(withShape("v", &badV), outs, "input 'v' has shape [2, 5, 3, 8], expected [2, 5, 3, 16]");
  std::vector<int64_t> badW = {3, 16, 8};
  expectError(withShape("w_init", &badW), outs, "expected [3, 16, 16] or [2, 3, 16, 16]");

  std::vector<tttc_tensor> extra = ins;
  extra.push_back({"bogus", c.in["q"].data(), 1, so});
  expectError(extra, outs, "unknown input 'bogus'");
  std::vector<tttc_tensor> dup = ins;
  dup.push_back(ins[0]);
  expectError(dup, outs, "given twice");

  std::vector<tttc_tensor> badOut = outs;
  int64_t sbBad[] = {2, 3, 15};
  badOut[2].shape = sbBad;
  expectError(ins, badOut, "output 'b_final' has shape [2, 3, 15], expected [2, 3, 16]");
  expectError(ins, {outs[0], outs[1]}, "missing output 'b_final'");

  // Outputs share no memory with inputs or each other; inputs may share.
  std::vector<tttc_tensor> inPlace = outs;
  for (const tttc_tensor &t : ins)
    if (std::string(t.name) == "w_init")
      inPlace[1].data = t.data; // [3, 16, 16] init under [2, 3, 16, 16] final
  expectError(ins, inPlace, "output 'w_final' overlaps input 'w_init'");
  std::vector<tttc_tensor> tail = outs;
  tail[2].data = w.data() + w.size() - 1; // last element of w_final
  expectError(ins, tail, "output 'b_final' overlaps output 'w_final'");
  std::vector<tttc_tensor> adjacent = outs;
  std::vector<float> wb(w.size() + b.size());
  adjacent[1].data = wb.data();
  adjacent[2].data = wb.data() + w.size();
  EXPECT_EQ(tttc_run(l, ins.data(), int(ins.size()), adjacent.data(), 3), 0) << tttc_last_error();
  std::vector<tttc_tensor> sameQK = ins;
  for (tttc_tensor &t : sameQK)
    if (std::string(t.name) == "k")
      for (const tttc_tensor &q : ins)
        if (std::string(q.name) == "q")
          t.data = q.data;
  EXPECT_EQ(tttc_run(l, sameQK.data(), int(sameQK.size()), outs.data(), 3), 0)
      << tttc_last_error();
}

// The matmul precision a target implies: f32 unless matmuls run on tensor
// cores (distributed GPU programs), where precision= picks it.
TEST(Api, MatmulPrecision) {
  for (auto [target, want] : std::vector<std::pair<const char *, const char *>>{
           {"cpu", "f32"},
           {"cuda-emu", "tf32x3"},
           {"cuda-emu:mma-precision=tf32", "tf32"},
           {"cuda-emu:gpu-threads=96,mma-precision=tf32-rz", "tf32-rz"},
           {"cuda-emu:mma-precision=tf32,tensor-cores=0", "f32"},
           {"cuda-emu:gpu-threads=1,mma-precision=tf32", "f32"}}) {
    tttc_layer *l = compiled("linear_attention", 16, 16, target);
    ASSERT_NE(l, nullptr) << target << ": " << tttc_last_error();
    EXPECT_STREQ(tttc_matmul_precision(l), want) << target;
  }
  EXPECT_STREQ(tttc_matmul_precision(nullptr), "");
}

TEST(Api, SharedAndPerBatchInitialStatesAgree) {
  tttc_layer *l = compiled("ttt_linear", 16, 4);
  ASSERT_NE(l, nullptr);
  ref::Case c = linearCase(2, 9, 3, 16, 4, 11);
  auto shared = run(l, c);
  ref::Case cb = c;
  for (auto n : {"w_init", "b_init"}) {
    std::vector<float> two = c.in[n];
    two.insert(two.end(), c.in[n].begin(), c.in[n].end());
    cb.in[n] = two;
    cb.shape[n].insert(cb.shape[n].begin(), 2);
  }
  auto batched = run(l, cb);
  EXPECT_EQ(shared["out"], batched["out"]);
  // Now make batch 1's initial state differ: batch 0 must not change.
  for (size_t i = c.in["w_init"].size(); i < cb.in["w_init"].size(); ++i)
    cb.in["w_init"][i] *= -1.0f;
  auto changed = run(l, cb);
  size_t half = changed["out"].size() / 2;
  EXPECT_TRUE(std::equal(changed["out"].begin(), changed["out"].begin() + half,
                         shared["out"].begin()));
  EXPECT_FALSE(std::equal(changed["out"].begin() + half, changed["out"].end(),
                          shared["out"].begin() + half));
}

/// The compiled layer against the project's reference interpreter (which
/// evaluates the spec per token, weights materialised) for specs beyond the
/// hand-written references, including an overridden position input.
void expectMatchesInterpreter(const std::string &spec, int64_t D, int64_t C, ref::Case &c) {
  tttc_layer *l = compiled(spec, D, C);
  ASSERT_NE(l, nullptr);
  auto got = run(l, c);
  auto want = runReference(l, c);
  ASSERT_EQ(want.size(), got.size());
  for (auto &[name, ref] : want)
    EXPECT_LE(relError(got[name], ref), 1e-5) << spec << " " << name;
}

TEST(Api, InterpreterAgreesOnTTTLinearAndTheHandReference) {
  ref::Case c = linearCase(2, 19, 2, 16, 8, 3);
  expectMatchesInterpreter("ttt_linear", 16, 8, c);
  // And the interpreter itself agrees with the hand-written reference.
  tttc_layer *l = compiled("ttt_linear", 16, 8);
  std::vector<tttc_tensor> ins = inputsOf(c);
  std::vector<double> out(c.B * c.T * c.H * c.D);
  int64_t so[] = {c.B, c.T, c.H, c.D};
  tttc_tensor_f64 o = {"out", out.data(), 4, so};
  ASSERT_EQ(tttc_run_reference(l, ins.data(), int(ins.size()), &o, 1), 0) << tttc_last_error();
  std::vector<ref::Vec> hand = ref::tttLinear(c);
  double md = 0;
  for (size_t i = 0; i < out.size(); ++i)
    md = std::max(md, std::fabs(out[i] - hand[0][i]));
  EXPECT_LE(md, 1e-10);
}

TEST(Api, OverriddenTokenScale) {
  ref::Case c = linearCase(1, 13, 2, 16, 4, 5);
  tttc_layer *l = compiled("ttt_linear", 16, 4);
  auto base = run(l, c);
  // The default, given explicitly: same output.
  c.in["token_scale"] = {1.0f, 0.5f, 1.0f / 3, 0.25f};
  c.shape["token_scale"] = {4};
  auto same = run(l, c);
  for (size_t i = 0; i < base["out"].size(); ++i)
    EXPECT_NEAR(base["out"][i], same["out"][i], 1e-6);
  // Another: differs, and matches the interpreter.
  c.in["token_scale"] = {0.9f, 0.7f, 0.2f, 1.5f};
  auto other = run(l, c);
  EXPECT_GT(relError(other["out"], std::vector<double>(base["out"].begin(), base["out"].end())),
            1e-4);
  expectMatchesInterpreter("ttt_linear", 16, 4, c);
  // Wrong length is an error.
  c.in["token_scale"] = {1.0f, 0.5f};
  c.shape["token_scale"] = {2};
  std::vector<tttc_tensor> ins = inputsOf(c);
  std::vector<float> o(13 * 2 * 16), w(2 * 16 * 16), b(2 * 16);
  int64_t so[] = {1, 13, 2, 16}, sw[] = {1, 2, 16, 16}, sb[] = {1, 2, 16};
  tttc_tensor outs[] = {{"out", o.data(), 4, so}, {"w_final", w.data(), 4, sw},
                        {"b_final", b.data(), 3, sb}};
  EXPECT_NE(tttc_run(l, ins.data(), int(ins.size()), outs, 3), 0);
  EXPECT_NE(std::string(tttc_last_error()).find("token_scale"), std::string::npos);
}

ref::Case plainCase(int64_t B, int64_t T, int64_t H, int64_t D, uint64_t seed,
                    std::vector<std::string> gates) {
  std::mt19937_64 rng(seed);
  ref::Case c{B, T, H, D, 0, {}, {}};
  for (auto n : {"q", "k", "v"})
    ref::add(c, n, {B, T, H, D}, rng, 0.0, 1.0 / std::sqrt(double(D)));
  for (auto &g : gates)
    ref::add(c, g, {B, T, H}, rng, 0, 0, true);
  ref::add(c, "w_init", {H, D, D}, rng, 0.0, 0.3);
  return c;
}

TEST(Api, LinearAttentionAndDeltaRuleMatchInterpreter) {
  for (int64_t T : {1, 17, 40}) {
    ref::Case la = plainCase(2, T, 3, 16, T, {});
    expectMatchesInterpreter("linear_attention", 16, 16, la);
    ref::Case d = plainCase(2, T, 3, 16, T + 1, {"beta"});
    expectMatchesInterpreter("delta", 16, 1, d);
  }
}

/// The emulated kernel IR must catch a thread-mapping bug: a grid one
/// program short along the batch (an off-by-one) leaves the last batch's
/// outputs unwritten (poisoned with NaN by the test helper).
TEST(Api, EmulationCatchesABrokenKernelMapping) {
  ref::Case c = linearCase(3, 21, 2, 16, 8, 9);
  std::vector<ref::Vec> want = ref::tttLinear(c);
  tttc_layer *good = compiled("ttt_linear", 16, 8, "cuda-emu");
  ASSERT_NE(good, nullptr);
  EXPECT_LE(relError(run(good, c)["out"], want[0]), 1e-5);
  tttc_layer *bad = compiled("ttt_linear", 16, 8, "cuda-emu:fault=short-grid");
  ASSERT_NE(bad, nullptr);
  EXPECT_GT(relError(run(bad, c)["out"], want[0]), 1e-3);
}

/// A missing barrier (the one before the first reduction of the chunk loop)
/// lets threads read operands other threads have not written yet: the
/// emulated kernel computes wrong outputs, and with race checking the run
/// fails with the race located.
TEST(Api, EmulationCatchesAMissingBarrier) {
  ref::Case c = linearCase(2, 21, 2, 16, 8, 11);
  std::vector<ref::Vec> want = ref::tttLinear(c);
  tttc_layer *good = compiled("ttt_linear", 16, 8, "cuda-emu:check-races");
  ASSERT_NE(good, nullptr);
  EXPECT_LE(relError(run(good, c)["out"], want[0]), 1e-5);
  tttc_layer *bad = compiled("ttt_linear", 16, 8, "cuda-emu:fault=drop-barrier");
  ASSERT_NE(bad, nullptr);
  EXPECT_GT(relError(run(bad, c)["out"], want[0]), 1e-3);
  tttc_layer *checked = compiled("ttt_linear", 16, 8, "cuda-emu:check-races,fault=drop-barrier");
  ASSERT_NE(checked, nullptr);
  std::string err = runError(checked, c);
  EXPECT_NE(err.find("data race"), std::string::npos) << err;
  EXPECT_NE(err.find("no barrier between them"), std::string::npos) << err;
}

/// The public conversions agree with the compiler's _Float16 (every float16,
/// a spread of floats) and round bfloat16 to nearest even.
TEST(Api, Fp16Conversions) {
  for (uint32_t h = 0; h < 65536; ++h) {
    _Float16 x;
    uint16_t u = uint16_t(h);
    std::memcpy(&x, &u, 2);
    float want = float(x), got = tttc_f16_to_f32(u);
    if (want != want) {
      EXPECT_NE(got, got) << h;
      continue;
    }
    ASSERT_EQ(std::memcmp(&want, &got, 4), 0) << h;
  }
  std::mt19937_64 rng(1);
  for (int i = 0; i < 200000; ++i) {
    uint32_t bits = uint32_t(rng());
    float f;
    std::memcpy(&f, &bits, 4);
    if (f != f)
      continue;
    _Float16 x = _Float16(f);
    uint16_t want;
    std::memcpy(&want, &x, 2);
    ASSERT_EQ(tttc_f32_to_f16(f), want) << f;
  }
  EXPECT_EQ(tttc_f32_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(tttc_f32_to_bf16(1.00390625f), 0x3f80); // a tie: to even
  EXPECT_EQ(tttc_f32_to_bf16(1.01171875f), 0x3f82); // a tie: to even
  EXPECT_EQ(tttc_bf16_to_f32(0x3f81), 1.0078125f);
}

/// 16-bit per-token inputs and readouts (bf16, f16): the kernel widens them
/// to f32 and keeps f32 states and arithmetic, so against the reference on
/// the same (rounded) inputs the final states agree to f32 accuracy and the
/// readouts to the I/O type's rounding.
TEST(Api, SixteenBitInputsAndReadouts) {
  for (const char *io : {"bf16", "f16"})
    for (const char *target : {"cpu", "cuda-emu"}) {
      SCOPED_TRACE(std::string(io) + " " + target);
      bool bf = std::string(io) == "bf16";
      ref::Case c = linearCase(2, 37, 3, 32, 16, 5);
      std::map<std::string, std::vector<uint16_t>> half;
      for (auto n : {"q", "k", "v", "lr"}) {
        std::vector<float> &x = c.in[n];
        for (float &f : x) {
          half[n].push_back(bf ? tttc_f32_to_bf16(f) : tttc_f32_to_f16(f));
          f = bf ? tttc_bf16_to_f32(half[n].back()) : tttc_f16_to_f32(half[n].back());
        }
      }
      std::vector<ref::Vec> want = ref::tttLinear(c);
      tttc_options o = tttc_default_options(32);
      o.target = target;
      o.options = std::string(target) == "cuda-emu" ? "check-races" : nullptr;
      o.io_dtype = io;
      tttc_layer *l = tttc_compile_file(example("ttt_linear").c_str(), &o);
      ASSERT_NE(l, nullptr) << tttc_last_error();
      EXPECT_STREQ(tttc_io_dtype(l), io);
      std::vector<tttc_tensor> ins = inputsOf(c);
      for (tttc_tensor &t : ins)
        if (half.count(t.name))
          t.data = half[t.name].data();
      std::vector<std::vector<int64_t>> shapes = outputShapes(l, c);
      std::vector<uint16_t> out(c.B * c.T * c.H * c.D);
      std::vector<float> w(c.B * c.H * c.D * c.D), b(c.B * c.H * c.D);
      std::vector<tttc_tensor> outs = {{"out", out.data(), 4, shapes[0].data()},
                                       {"w_final", w.data(), 4, shapes[1].data()},
                                       {"b_final", b.data(), 3, shapes[2].data()}};
      ASSERT_EQ(tttc_run(l, ins.data(), int(ins.size()), outs.data(), 3), 0) << tttc_last_error();
      std::vector<float> outF;
      for (uint16_t h : out)
        outF.push_back(bf ? tttc_bf16_to_f32(h) : tttc_f16_to_f32(h));
      EXPECT_LE(relError(outF, want[0]), bf ? 1e-2 : 1e-3);
      EXPECT_LE(relError(w, want[1]), 1e-5);
      EXPECT_LE(relError(b, want[2]), 1e-5);
      tttc_destroy(l);
    }
  tttc_options o = tttc_default_options(32);
  o.io_dtype = "fp8";
  EXPECT_EQ(tttc_compile_file(example("ttt_linear").c_str(), &o), nullptr);
  EXPECT_NE(std::string(tttc_last_error()).find("invalid value in option 'io-dtype=fp8'"),
            std::string::npos)
      << tttc_last_error();
}

/// Device buffers need a layer compiled for the cuda target; without a
/// driver that target fails at compile time with the reason.
// Kernel files: refused with a reason before any driver call.
TEST(Api, CudaLoadRefusesWhatIsNotAKernel) {
  EXPECT_EQ(tttc_cuda_load_cubin(nullptr, 0, "x"), nullptr);
  EXPECT_NE(std::string(tttc_cuda_last_error()).find("null cubin or header"), std::string::npos);
  const char text[] = ".version 8.0\n.target sm_90\n// a PTX file, not a cubin, long enough";
  EXPECT_EQ(tttc_cuda_load_cubin(text, sizeof text, "// tttc-kernel"), nullptr);
  EXPECT_NE(std::string(tttc_cuda_last_error()).find("not a cubin"), std::string::npos)
      << tttc_cuda_last_error();
  std::vector<char> elf(128, 0);
  std::memcpy(elf.data(), "\x7f" "ELF", 4);
  EXPECT_EQ(tttc_cuda_load_cubin(elf.data(), elf.size(), ".target sm_90\n"), nullptr);
  EXPECT_NE(std::string(tttc_cuda_last_error()).find("not a tttc kernel header"),
            std::string::npos)
      << tttc_cuda_last_error();
  EXPECT_EQ(tttc_cuda_load_file("/nonexistent/k.cubin"), nullptr);
  EXPECT_NE(std::string(tttc_cuda_last_error()).find("cannot read /nonexistent/k.cubin"),
            std::string::npos);
  EXPECT_EQ(tttc_cuda_load_ptx(".version 8.0\n"), nullptr);
  EXPECT_NE(std::string(tttc_cuda_last_error()).find("not a tttc kernel"), std::string::npos);
}

TEST(Api, CudaEntryPointsReportClearErrors) {
  ref::Case c = linearCase(1, 4, 1, 16, 16, 3);
  tttc_layer *cpu = compiled("ttt_linear", 16, 16, "cpu");
  ASSERT_NE(cpu, nullptr);
  std::vector<tttc_tensor> ins = inputsOf(c);
  std::vector<std::vector<int64_t>> shapes = outputShapes(cpu, c);
  std::vector<float> o(64), w(256), b(16);
  std::vector<tttc_tensor> outs = {{"out", o.data(), 4, shapes[0].data()},
                                   {"w_final", w.data(), 4, shapes[1].data()},
                                   {"b_final", b.data(), 3, shapes[2].data()}};
  EXPECT_NE(tttc_run_cuda(cpu, ins.data(), int(ins.size()), outs.data(), 3, nullptr), 0);
  EXPECT_NE(std::string(tttc_last_error()).find("device buffers need target cuda"),
            std::string::npos)
      << tttc_last_error();
  EXPECT_NE(tttc_run_cuda(nullptr, nullptr, 0, nullptr, 0, nullptr), 0);
  if (!tttc_cuda_available()) {
    tttc_options opts = tttc_default_options(16);
    opts.target = "cuda";
    EXPECT_EQ(tttc_compile_file(example("ttt_linear").c_str(), &opts), nullptr);
    EXPECT_NE(std::string(tttc_last_error()).find("target cuda: no CUDA driver"),
              std::string::npos)
        << tttc_last_error();
  }
  tttc_options bad = tttc_default_options(16);
  bad.target = "cuda";
  bad.options = "check-races";
  EXPECT_EQ(tttc_compile_file(example("ttt_linear").c_str(), &bad), nullptr);
  EXPECT_NE(std::string(tttc_last_error()).find("check-races is an option of cuda-emu"),
            std::string::npos)
      << tttc_last_error();
}

// Column blocks: a layer whose state's columns are reduced over (TTT-Linear's
// layer norm) cannot be split; the error names the spec lines that prevent
// it. Bad counts are refused before compiling.
TEST(Api, ColumnBlocksErrors) {
  tttc_options opts = tttc_default_options(64);
  opts.target = "cuda-emu";
  opts.options = "column-blocks=4";
  EXPECT_EQ(tttc_compile_file(example("ttt_linear").c_str(), &opts), nullptr);
  std::string e = tttc_last_error();
  EXPECT_NE(e.find("cannot split the layer's state into 4 column blocks"), std::string::npos) << e;
  EXPECT_NE(e.find("ttt_linear.mlir:29:10: note: 'linalg.generic' reduces over it"),
            std::string::npos)
      << e;
  opts.target = "cpu";
  opts.options = "column-blocks=3";
  EXPECT_EQ(tttc_compile_file(example("linear_attention").c_str(), &opts), nullptr);
  e = tttc_last_error();
  EXPECT_NE(e.find("its 64 columns are not a multiple of 3"), std::string::npos) << e;
  for (auto [bad, why] :
       {std::pair{"column-blocks=0", "invalid value in option 'column-blocks=0'"},
        {"column-blocks=x", "invalid value in option 'column-blocks=x'"},
        {"gpu-threads=4", "gpu-threads is an option of the GPU targets"},
        {"column-blocks=auto", "column-blocks=auto is chosen per launch"},
        {"colum-blocks=2", "unknown option 'colum-blocks'"}}) {
    opts.options = bad;
    EXPECT_EQ(tttc_compile_file(example("linear_attention").c_str(), &opts), nullptr);
    EXPECT_NE(std::string(tttc_last_error()).find(why), std::string::npos)
        << tttc_last_error();
  }
  // Splittable: compiles, and 1 block is the layer as it was.
  opts.options = "column-blocks=1";
  tttc_layer *l = tttc_compile_file(example("ttt_linear").c_str(), &opts);
  EXPECT_NE(l, nullptr) << tttc_last_error();
  // Launch bookkeeping of the cuda target only.
  EXPECT_EQ(tttc_column_blocks(l), 0);
  EXPECT_EQ(tttc_column_blocks(nullptr), 0);
  tttc_destroy(l);
}

TEST(Api, EmitLadder) {
  std::string path = example("ttt_linear");
  for (const char *stage :
       {"spec", "after-autodiff", "chunked", "linalg", "llvm-dialect", "llvm-ir"}) {
    tttc_options o = tttc_default_options(16);
    char *s = tttc_emit_file(path.c_str(), stage, &o);
    ASSERT_NE(s, nullptr) << stage << ": " << tttc_last_error();
    EXPECT_GT(strlen(s), 100u) << stage;
    tttc_free_string(s);
  }
  tttc_options o = tttc_default_options(16);
  EXPECT_EQ(tttc_emit_file(path.c_str(), "bogus", &o), nullptr);
  EXPECT_NE(std::string(tttc_last_error()).find("unknown stage"), std::string::npos);
}

// The deprecated target strings of API version 1 still compile, into the
// same layer as the options they name, with a warning in the notes.
TEST(Api, DeprecatedTargetStrings) {
  std::string path = example("linear_attention");
  tttc_options now = tttc_default_options(32);
  now.target = "cuda-emu";
  now.options = "gpu-threads=64 mma-precision=tf32 static-rounds=0";
  tttc_options old = tttc_default_options(32);
  old.target = "cuda-emu:threads=64,precision=tf32,rounds=strided";
  char *a = tttc_emit_file(path.c_str(), "gpu-kernel", &now);
  ASSERT_NE(a, nullptr) << tttc_last_error();
  EXPECT_EQ(std::string(tttc_last_notes()).find("deprecated"), std::string::npos);
  char *b = tttc_emit_file(path.c_str(), "gpu-kernel", &old);
  ASSERT_NE(b, nullptr) << tttc_last_error();
  EXPECT_NE(std::string(tttc_last_notes()).find("is deprecated"), std::string::npos)
      << tttc_last_notes();
  EXPECT_STREQ(a, b);
  tttc_free_string(a);
  tttc_free_string(b);
  old.target = "cuda-emu:threads=x";
  EXPECT_EQ(tttc_compile_file(path.c_str(), &old), nullptr);
  EXPECT_NE(std::string(tttc_last_error()).find("target 'cuda-emu:threads=x'"), std::string::npos)
      << tttc_last_error();
}

} // namespace
