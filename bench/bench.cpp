//===- bench.cpp - CPU benchmark of compiled TTT layers -------------------===//
//
// For TTT-Linear and TTT-MLP (B=4, H=4, D=64, mini-batch 16) prints, in one
// process: tokens/s, GFLOP/s (matmul FLOPs of the dual form), the fraction
// of this machine's measured single-thread fp32 FMA peak, working memory at
// T=2048 and T=32768 (peak RSS during a run minus RSS before it, inputs and
// outputs already resident; measured in a forked child per run), and the
// speed ratio to (a) the float64 per-token reference interpreter and (b) a
// hand-written dual form in C++ over OpenBLAS (single thread), both run here.
//
//   tttc-bench [--quick] [--examples DIR]
//
//===----------------------------------------------------------------------===//

#include "tttc/tttc.h"

#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

extern "C" void openblas_set_num_threads(int);

namespace {

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

//===----------------------------------------------------------------------===//
// Machine peak: independent FMA chains on 8-wide vectors.
//===----------------------------------------------------------------------===//

typedef float v8 __attribute__((vector_size(32)));

__attribute__((noinline)) double fmaPeakGflops() {
  v8 acc[12];
  for (int i = 0; i < 12; ++i)
    for (int l = 0; l < 8; ++l)
      acc[i][l] = 1.0f + 0.001f * (i + l);
  v8 m, a;
  for (int l = 0; l < 8; ++l) {
    m[l] = 0.9999999f;
    a[l] = 1e-7f;
  }
  const long iters = 20000000;
  double t0 = now();
  for (long it = 0; it < iters; ++it) {
    for (int i = 0; i < 12; ++i)
      acc[i] = acc[i] * m + a;
    // Keep every chain live and un-folded.
    asm volatile("" : "+x"(acc[0]), "+x"(acc[1]), "+x"(acc[2]), "+x"(acc[3]), "+x"(acc[4]),
                 "+x"(acc[5]), "+x"(acc[6]), "+x"(acc[7]), "+x"(acc[8]), "+x"(acc[9]),
                 "+x"(acc[10]), "+x"(acc[11]));
  }
  double dt = now() - t0;
  volatile float sink = 0;
  for (int i = 0; i < 12; ++i)
    sink = sink + acc[i][0];
  (void)sink;
  return 2.0 * 8 * 12 * double(iters) / dt / 1e9;
}

//===----------------------------------------------------------------------===//
// Inputs
//===----------------------------------------------------------------------===//

struct Problem {
  std::string layer;
  int64_t B, T, H, D, C;
  std::map<std::string, std::vector<float>> in;
  std::map<std::string, std::vector<int64_t>> shape;
  std::map<std::string, std::vector<float>> out;
  std::map<std::string, std::vector<int64_t>> outShape;
};

void addInput(Problem &p, const std::string &n, std::vector<int64_t> shape, std::mt19937_64 &rng,
              double mean, double sd, bool unit = false) {
  size_t size = 1;
  for (int64_t d : shape)
    size *= size_t(d);
  std::normal_distribution<double> nd(mean, sd);
  std::uniform_real_distribution<double> ud(0.05, 0.95);
  std::vector<float> v(size);
  for (float &x : v)
    x = float(unit ? ud(rng) : nd(rng));
  p.in[n] = std::move(v);
  p.shape[n] = shape;
}

Problem makeProblem(const std::string &layer, int64_t B, int64_t T, int64_t H, int64_t D,
                    int64_t C) {
  Problem p{layer, B, T, H, D, C, {}, {}, {}, {}};
  std::mt19937_64 rng(42);
  double s = 1.0 / std::sqrt(double(D));
  for (auto n : {"q", "k", "v"})
    addInput(p, n, {B, T, H, D}, rng, 0.0, s);
  addInput(p, "lr", {B, T, H}, rng, 0, 0, true);
  addInput(p, "ln_w", {H, D}, rng, 1.0, 0.2);
  addInput(p, "ln_b", {H, D}, rng, 0.0, 0.2);
  if (layer == "ttt_linear") {
    addInput(p, "w_init", {H, D, D}, rng, 0.0, 1.0);
    addInput(p, "b_init", {H, D}, rng, 0.0, 0.1);
    p.outShape = {{"out", {B, T, H, D}}, {"w_final", {B, H, D, D}}, {"b_final", {B, H, D}}};
  } else {
    addInput(p, "w1_init", {H, D, 4 * D}, rng, 0.0, 1.0);
    addInput(p, "b1_init", {H, 4 * D}, rng, 0.0, 0.1);
    addInput(p, "w2_init", {H, 4 * D, D}, rng, 0.0, 0.5);
    addInput(p, "b2_init", {H, D}, rng, 0.0, 0.1);
    p.outShape = {{"out", {B, T, H, D}},         {"w1_final", {B, H, D, 4 * D}},
                  {"b1_final", {B, H, 4 * D}},   {"w2_final", {B, H, 4 * D, D}},
                  {"b2_final", {B, H, D}}};
  }
  for (auto &[n, s2] : p.outShape) {
    size_t size = 1;
    for (int64_t d : s2)
      size *= size_t(d);
    p.out[n].assign(size, 0.0f);
  }
  return p;
}

std::vector<tttc_tensor> tensors(std::map<std::string, std::vector<float>> &m,
                                 std::map<std::string, std::vector<int64_t>> &s) {
  std::vector<tttc_tensor> r;
  for (auto &[n, v] : m)
    r.push_back({n.c_str(), v.data(), int(s[n].size()), s[n].data()});
  return r;
}

bool runCompiled(tttc_layer *l, Problem &p) {
  auto ins = tensors(p.in, p.shape);
  auto outs = tensors(p.out, p.outShape);
  if (tttc_run(l, ins.data(), int(ins.size()), outs.data(), int(outs.size()))) {
    std::fprintf(stderr, "run failed: %s\n", tttc_last_error());
    return false;
  }
  return true;
}

//===----------------------------------------------------------------------===//
// Hand-written dual form over OpenBLAS (the baseline).
//===----------------------------------------------------------------------===//

/// LN forward per row of Z (n x D) into Y; with `target`, also G = dL/dZ of
/// 1/2 |LN(z) - target|^2.
void lnRows(const float *Z, int n, int D, const float *g, const float *b, float *Y,
            const float *target, int ldt, float *G) {
  for (int r = 0; r < n; ++r) {
    const float *z = Z + r * D;
    float mu = 0, var = 0;
    for (int i = 0; i < D; ++i)
      mu += z[i];
    mu /= D;
    for (int i = 0; i < D; ++i)
      var += (z[i] - mu) * (z[i] - mu);
    var /= D;
    float is = 1.0f / std::sqrt(var + 1e-6f);
    float *y = Y + r * D;
    for (int i = 0; i < D; ++i)
      y[i] = g[i] * (z[i] - mu) * is + b[i];
    if (!G)
      continue;
    float m1 = 0, m2 = 0;
    float *gr = G + r * D;
    const float *t = target + r * ldt;
    for (int i = 0; i < D; ++i) {
      float xh = (z[i] - mu) * is;
      gr[i] = (y[i] - t[i]) * g[i];
      m1 += gr[i];
      m2 += gr[i] * xh;
    }
    m1 /= D;
    m2 /= D;
    for (int i = 0; i < D; ++i)
      gr[i] = is * (gr[i] - m1 - (z[i] - mu) * is * m2);
  }
}

float gelu(float x) {
  return 0.5f * x * (1 + std::tanh(0.7978845608f * (x + 0.044715f * x * x * x)));
}
float geluGrad(float x) {
  float t = std::tanh(0.7978845608f * (x + 0.044715f * x * x * x));
  return 0.5f * (1 + t) + 0.5f * x * (1 - t * t) * 0.7978845608f * (1 + 3 * 0.044715f * x * x);
}

/// Out = X W + bias, X rows strided by ldx.
void linear(const float *X, int ldx, const float *W, const float *bias, int n, int in, int out,
            float *Y) {
  for (int r = 0; r < n; ++r)
    std::memcpy(Y + r * out, bias, sizeof(float) * out);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, out, in, 1.0f, X, ldx, W, out,
              1.0f, Y, out);
}

/// Y -= tril(E o (A B^T + 1)) G, with A (n x k, lda), B (n x k, ldb).
void dualCorrection(const float *A, int lda, const float *Bm, int ldb, int k, const float *E,
                    const float *G, int n, int m, float *Y, float *scratch) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, k, 1.0f, A, lda, Bm, ldb, 0.0f,
              scratch, n);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j)
      scratch[i * n + j] = j <= i ? E[i * n + j] * (scratch[i * n + j] + 1.0f) : 0.0f;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, m, n, -1.0f, scratch, n, G, m, 1.0f,
              Y, m);
}

/// W -= X^T (e o G), bias -= e G.
void chunkUpdate(const float *X, int ldx, int in, const float *e, const float *G, int n, int m,
                 float *W, float *bias, float *scratch) {
  for (int j = 0; j < n; ++j)
    for (int c = 0; c < m; ++c)
      scratch[j * m + c] = e[j] * G[j * m + c];
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, in, m, n, -1.0f, X, ldx, scratch, m,
              1.0f, W, m);
  for (int j = 0; j < n; ++j)
    for (int c = 0; c < m; ++c)
      bias[c] -= scratch[j * m + c];
}

void blasDualForm(Problem &p) {
  const int D = int(p.D), C = int(p.C), F = 4 * D, ld = int(p.H * p.D);
  bool mlp = p.layer == "ttt_mlp";
  std::vector<float> Z(C * F), Y(C * F), G(C * D), G1(C * F), X2(C * F), Zq(C * F), X2q(C * F),
      E(C * C), S(C * std::max(C, F)), tgt(C * D), Wk1, bk1, Wk2, bk2;
  for (int64_t b = 0; b < p.B; ++b)
    for (int64_t h = 0; h < p.H; ++h) {
      const float *lnw = p.in["ln_w"].data() + h * D, *lnb = p.in["ln_b"].data() + h * D;
      if (!mlp) {
        Wk1.assign(p.in["w_init"].begin() + h * D * D, p.in["w_init"].begin() + (h + 1) * D * D);
        bk1.assign(p.in["b_init"].begin() + h * D, p.in["b_init"].begin() + (h + 1) * D);
      } else {
        Wk1.assign(p.in["w1_init"].begin() + h * D * F, p.in["w1_init"].begin() + (h + 1) * D * F);
        bk1.assign(p.in["b1_init"].begin() + h * F, p.in["b1_init"].begin() + (h + 1) * F);
        Wk2.assign(p.in["w2_init"].begin() + h * F * D, p.in["w2_init"].begin() + (h + 1) * F * D);
        bk2.assign(p.in["b2_init"].begin() + h * D, p.in["b2_init"].begin() + (h + 1) * D);
      }
      for (int64_t t0 = 0; t0 < p.T; t0 += C) {
        int n = int(std::min<int64_t>(C, p.T - t0));
        size_t base = size_t(((b * p.T + t0) * p.H + h) * D);
        const float *K = p.in["k"].data() + base, *Q = p.in["q"].data() + base,
                    *V = p.in["v"].data() + base;
        const float *lr = p.in["lr"].data() + (b * p.T + t0) * p.H + h;
        for (int i = 0; i < n; ++i)
          for (int j = 0; j < n; ++j)
            E[i * n + j] = (1.0f / float(i + 1)) * lr[j * p.H];
        for (int i = 0; i < n; ++i)
          for (int c = 0; c < D; ++c)
            tgt[i * D + c] = V[i * ld + c] - K[i * ld + c];
        float *out = p.out["out"].data() + base;
        if (!mlp) {
          linear(K, ld, Wk1.data(), bk1.data(), n, D, D, Z.data());
          lnRows(Z.data(), n, D, lnw, lnb, Y.data(), tgt.data(), D, G.data());
          linear(Q, ld, Wk1.data(), bk1.data(), n, D, D, Zq.data());
          dualCorrection(Q, ld, K, ld, D, E.data(), G.data(), n, D, Zq.data(), S.data());
          lnRows(Zq.data(), n, D, lnw, lnb, Y.data(), nullptr, 0, nullptr);
          for (int i = 0; i < n; ++i)
            for (int c = 0; c < D; ++c)
              out[i * ld + c] = Q[i * ld + c] + Y[i * D + c];
          chunkUpdate(K, ld, D, &E[(n - 1) * n], G.data(), n, D, Wk1.data(), bk1.data(),
                      S.data());
        } else {
          linear(K, ld, Wk1.data(), bk1.data(), n, D, F, Z.data());
          for (int i = 0; i < n * F; ++i)
            X2[i] = gelu(Z[i]);
          linear(X2.data(), F, Wk2.data(), bk2.data(), n, F, D, Y.data());
          lnRows(Y.data(), n, D, lnw, lnb, Zq.data(), tgt.data(), D, G.data());
          cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, F, D, 1.0f, G.data(), D,
                      Wk2.data(), D, 0.0f, G1.data(), F);
          for (int i = 0; i < n * F; ++i)
            G1[i] *= geluGrad(Z[i]);
          linear(Q, ld, Wk1.data(), bk1.data(), n, D, F, Zq.data());
          dualCorrection(Q, ld, K, ld, D, E.data(), G1.data(), n, F, Zq.data(), S.data());
          for (int i = 0; i < n * F; ++i)
            X2q[i] = gelu(Zq[i]);
          linear(X2q.data(), F, Wk2.data(), bk2.data(), n, F, D, Y.data());
          dualCorrection(X2q.data(), F, X2.data(), F, F, E.data(), G.data(), n, D, Y.data(),
                         S.data());
          lnRows(Y.data(), n, D, lnw, lnb, Zq.data(), nullptr, 0, nullptr);
          for (int i = 0; i < n; ++i)
            for (int c = 0; c < D; ++c)
              out[i * ld + c] = Q[i * ld + c] + Zq[i * D + c];
          const float *e = &E[(n - 1) * n];
          chunkUpdate(K, ld, D, e, G1.data(), n, F, Wk1.data(), bk1.data(), S.data());
          chunkUpdate(X2.data(), F, F, e, G.data(), n, D, Wk2.data(), bk2.data(), S.data());
        }
      }
      auto store = [&](const char *name, std::vector<float> &v) {
        std::copy(v.begin(), v.end(), p.out[name].begin() + (b * p.H + h) * v.size());
      };
      if (!mlp) {
        store("w_final", Wk1);
        store("b_final", bk1);
      } else {
        store("w1_final", Wk1);
        store("b1_final", bk1);
        store("w2_final", Wk2);
        store("b2_final", bk2);
      }
    }
}

/// Matmul FLOPs of the dual form per head-token.
double flopsPerToken(const std::string &layer, double D, double C) {
  if (layer == "ttt_linear") // K W, Q W, Q K^T, (E o A) G, X^T (e o G)
    return 2 * D * D * 3 + 2 * C * D * 2;
  // K W1, X2 W2, G2 W2^T, Q W1, X2q W2, 2 updates (each 2 * D * 4D), and
  // Q K^T, M G1, X2q X2^T, M G2 (C-sized).
  double F = 4 * D;
  return 2 * D * F * 7 + 2 * C * (D + F + F + D);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

long statusKb(const char *key) {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind(key, 0) == 0)
      return std::atol(line.c_str() + std::strlen(key));
  return -1;
}

/// In a forked child: allocate inputs/outputs, compile, run once; report the
/// peak RSS during the run minus the RSS before it (kB), and the IO bytes.
bool measureMemory(const std::string &spec, const std::string &layer, int64_t T, long &workKb,
                   double &ioMb) {
  int fd[2];
  if (pipe(fd))
    return false;
  pid_t pid = fork();
  if (pid == 0) {
    close(fd[0]);
    Problem p = makeProblem(layer, 4, T, 4, 64, 16);
    tttc_options o = tttc_default_options(64);
    o.options = "cpu-threads=1"; // single-threaded, as the BLAS baseline
    o.mini_batch = 16;
    tttc_layer *l = tttc_compile_file(spec.c_str(), &o);
    double io = 0;
    for (auto &[n, v] : p.in)
      io += v.size() * 4.0;
    for (auto &[n, v] : p.out)
      io += v.size() * 4.0;
    // A first run (code generation is lazy), then reset the high-water mark
    // to the current RSS and run again.
    if (!l || !runCompiled(l, p))
      _exit(1);
    { std::ofstream("/proc/self/clear_refs") << "5"; }
    long before = statusKb("VmRSS:");
    bool ok = l && runCompiled(l, p);
    long peak = statusKb("VmHWM:");
    long res[2] = {ok ? peak - before : -1, long(io / 1e6 * 1000)};
    ssize_t w = write(fd[1], res, sizeof res);
    (void)w;
    _exit(0);
  }
  close(fd[1]);
  long res[2] = {-1, 0};
  ssize_t r = read(fd[0], res, sizeof res);
  close(fd[0]);
  waitpid(pid, nullptr, 0);
  workKb = res[0];
  ioMb = res[1] / 1000.0;
  return r == sizeof res && res[0] >= 0;
}

/// Inputs and outputs for any layer from its signature (shapes for B, T,
/// H), filled like `tttc run` does.
struct Generic {
  std::vector<std::vector<float>> data;
  std::vector<std::vector<int64_t>> shapes;
  std::vector<tttc_tensor> ins, outs;
};

Generic genericIO(tttc_layer *l, int64_t B, int64_t T, int64_t H) {
  Generic g;
  int n = tttc_num_inputs(l) + tttc_num_outputs(l);
  g.data.reserve(n);
  g.shapes.reserve(n);
  std::mt19937_64 rng(1);
  std::normal_distribution<double> nd(0, 1);
  std::uniform_real_distribution<double> ud(0.05, 0.95);
  for (int out = 0; out < 2; ++out) {
    int count = out ? tttc_num_outputs(l) : tttc_num_inputs(l);
    for (int i = 0; i < count; ++i) {
      if (!out && tttc_input_optional(l, i))
        continue;
      int64_t s[8];
      int r = out ? tttc_output_shape(l, i, B, T, H, s) : tttc_input_shape(l, i, B, T, H, s);
      g.shapes.emplace_back(s, s + r);
      size_t size = 1;
      for (int d = 0; d < r; ++d)
        size *= size_t(s[d]);
      g.data.emplace_back(size, 0.0f);
      int kind = out ? -1 : tttc_input_kind(l, i);
      double inner = double(s[r - 1]);
      for (float &x : g.data.back())
        x = float(kind == TTTC_TOKEN_SCALAR ? ud(rng)
                  : kind == TTTC_PARAM_VECTOR ? 1.0 + 0.2 * nd(rng)
                                              : nd(rng) / std::sqrt(inner));
      tttc_tensor t = {out ? tttc_output_name(l, i) : tttc_input_name(l, i),
                       g.data.back().data(), r, g.shapes.back().data()};
      (out ? g.outs : g.ins).push_back(t);
    }
  }
  return g;
}

double timeGeneric(tttc_layer *l, int64_t B, int64_t T, int64_t H, int reps) {
  Generic g = genericIO(l, B, T, H);
  std::vector<double> ts;
  for (int r = 0; r <= reps; ++r) {
    double t0 = now();
    if (tttc_run(l, g.ins.data(), int(g.ins.size()), g.outs.data(), int(g.outs.size()))) {
      std::fprintf(stderr, "%s\n", tttc_last_error());
      std::exit(1);
    }
    if (r) // the first run is a warm-up
      ts.push_back(now() - t0);
  }
  return median(ts);
}

double timeReference(tttc_layer *l, int64_t B, int64_t T, int64_t H) {
  Generic g = genericIO(l, B, T, H);
  std::vector<std::vector<double>> out(g.outs.size());
  std::vector<tttc_tensor_f64> os;
  for (size_t i = 0; i < g.outs.size(); ++i) {
    out[i].resize(g.data[g.ins.size() + i].size());
    os.push_back({g.outs[i].name, out[i].data(), g.outs[i].rank, g.outs[i].shape});
  }
  double t0 = now();
  tttc_run_reference(l, g.ins.data(), int(g.ins.size()), os.data(), int(os.size()));
  return now() - t0;
}

double relErr(const std::vector<float> &a, const std::vector<float> &b) {
  double md = 0, mr = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    md = std::max(md, std::fabs(double(a[i]) - b[i]));
    mr = std::max(mr, std::fabs(double(b[i])));
  }
  return md / std::max(mr, 1e-30);
}

} // namespace

int main(int argc, char **argv) {
  bool quick = false;
  std::string examples = TTTC_EXAMPLES_DIR;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--quick"))
      quick = true;
    else if (!std::strcmp(argv[i], "--examples") && i + 1 < argc)
      examples = argv[++i];
  }
  openblas_set_num_threads(1);
  const int64_t B = 4, H = 4, D = 64, C = 16, T = quick ? 256 : 2048;
  const int64_t refT = quick ? 32 : 128;
  double peak = 0; // best of three: the machine may be shared
  for (int i = 0; i < 3; ++i)
    peak = std::max(peak, fmaPeakGflops());
  std::printf("tttc CPU benchmark: B=%lld H=%lld D=%lld mini-batch %lld, single thread\n",
              (long long)B, (long long)H, (long long)D, (long long)C);
  std::printf("measured fp32 FMA peak (1 core, 8-wide vectors): %.1f GFLOP/s\n\n", peak);
  std::printf("%-11s %6s %10s %12s %9s %7s %10s %10s %10s %12s\n", "layer", "T", "ms",
              "tokens/s", "GFLOP/s", "%peak", "vs ref", "vs BLAS", "BLAS ms", "BLAS relerr");
  for (std::string layer : {"ttt_linear", "ttt_mlp"}) {
    std::string spec = examples + "/" + layer + ".mlir";
    tttc_options o = tttc_default_options(D);
    o.options = "cpu-threads=1"; // single-threaded, as the BLAS baseline
    o.mini_batch = C;
    tttc_layer *l = tttc_compile_file(spec.c_str(), &o);
    if (!l) {
      std::fprintf(stderr, "%s\n", tttc_last_error());
      return 1;
    }
    Problem p = makeProblem(layer, B, T, H, D, C);
    runCompiled(l, p); // warm-up
    std::vector<double> times;
    int reps = quick ? 3 : 5;
    for (int r = 0; r < reps; ++r) {
      double t0 = now();
      runCompiled(l, p);
      times.push_back(now() - t0);
    }
    double t = median(times);
    // Baseline: hand-written dual form over OpenBLAS.
    Problem pb = makeProblem(layer, B, T, H, D, C);
    blasDualForm(pb);
    std::vector<double> btimes;
    for (int r = 0; r < reps; ++r) {
      double t0 = now();
      blasDualForm(pb);
      btimes.push_back(now() - t0);
    }
    double tb = median(btimes);
    double err = relErr(pb.out["out"], p.out["out"]);
    // The float64 per-token reference interpreter, at a shorter T (its cost
    // per token does not depend on T).
    Problem pr = makeProblem(layer, B, refT, H, D, C);
    auto ins = tensors(pr.in, pr.shape);
    std::vector<double> refOut(pr.out["out"].size());
    tttc_tensor_f64 ro = {"out", refOut.data(), 4, pr.outShape["out"].data()};
    double t0 = now();
    tttc_run_reference(l, ins.data(), int(ins.size()), &ro, 1);
    double tr = now() - t0;
    double tokens = double(B * T * H);
    double tokS = tokens / t, refTokS = double(B * refT * H) / tr;
    double gflops = flopsPerToken(layer, D, C) * tokens / t / 1e9;
    std::printf("%-11s %6lld %10.1f %12.0f %9.2f %6.1f%% %9.1fx %9.2fx %10.1f %12.1e\n",
                layer.c_str(), (long long)T, t * 1e3, tokS, gflops, 100 * gflops / peak,
                tokS / refTokS, tb / t, tb * 1e3, err);
    tttc_destroy(l);
  }
  std::printf("\nvs ref: speed-up over the float64 per-token reference interpreter "
              "(measured at T=%lld);\nvs BLAS: BLAS time / compiled time (> 1: compiled "
              "is faster); BLAS relerr: max|BLAS - compiled| / max|compiled| of out.\n\n",
              (long long)refT);
  // Every example spec, with generated inputs of its own signature.
  std::printf("every example (its own mini-batch; random inputs as `tttc run`):\n");
  std::printf("%-24s %6s %10s %12s %10s\n", "spec", "T", "ms", "tokens/s", "vs ref");
  for (const char *name : {"ttt_linear", "ttt_mlp", "titans_linear", "titans_mlp", "delta",
                           "gated_delta", "linear_attention", "infini_attention",
                           "infini_attention_delta"}) {
    std::string spec = examples + "/" + name + ".mlir";
    tttc_options o = tttc_default_options(D);
    o.options = "cpu-threads=1"; // single-threaded, as the BLAS baseline
    tttc_layer *l = tttc_compile_file(spec.c_str(), &o);
    if (!l) {
      std::fprintf(stderr, "%s\n", tttc_last_error());
      return 1;
    }
    double t = timeGeneric(l, B, T, H, quick ? 3 : 5);
    double tr = timeReference(l, B, refT, H);
    double tokS = double(B * T * H) / t;
    std::printf("%-24s %6lld %10.2f %12.0f %9.1fx\n", name, (long long)T, t * 1e3, tokS,
                tokS / (double(B * refT * H) / tr));
    tttc_destroy(l);
  }
  // Exact per-token rules: the chunked algorithm against the sequential path.
  std::printf("\nexact per-token rules (mini-batch 1): chunked (UT transform) vs sequential:\n");
  std::printf("%-14s %6s %14s %14s %14s %10s\n", "spec", "T", "sequential ms", "chunk 16 ms",
              "chunk 64 ms", "speed-up");
  for (const char *name : {"delta", "gated_delta"}) {
    std::string spec = examples + "/" + name + ".mlir";
    double ts[3];
    int64_t chunks[3] = {1, 16, 64};
    for (int i = 0; i < 3; ++i) {
      tttc_options o = tttc_default_options(D);
      o.options = "cpu-threads=1"; // single-threaded, as the BLAS baseline
      o.exact_chunk = chunks[i];
      tttc_layer *l = tttc_compile_file(spec.c_str(), &o);
      ts[i] = timeGeneric(l, B, T, H, quick ? 3 : 5);
      tttc_destroy(l);
    }
    std::printf("%-14s %6lld %14.2f %14.2f %14.2f %9.1fx\n", name, (long long)T, ts[0] * 1e3,
                ts[1] * 1e3, ts[2] * 1e3, ts[0] / std::min(ts[1], ts[2]));
  }
  std::printf("\n");

  std::printf("working memory (peak RSS during one run minus RSS before it; inputs and "
              "outputs already resident):\n");
  std::printf("%-11s %6s %14s %12s\n", "layer", "T", "working MB", "inputs+outputs MB");
  for (std::string layer : {"ttt_linear", "ttt_mlp"})
    for (int64_t tm : {T, quick ? T * 4 : int64_t(32768)}) {
      long kb;
      double io;
      if (measureMemory(examples + "/" + layer + ".mlir", layer, tm, kb, io))
        std::printf("%-11s %6lld %14.2f %12.1f\n", layer.c_str(), (long long)tm, kb / 1024.0, io);
      else
        std::printf("%-11s %6lld %14s\n", layer.c_str(), (long long)tm, "failed");
    }
  return 0;
}
