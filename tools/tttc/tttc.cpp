//===- tttc.cpp - the tttc compiler driver --------------------------------===//
//
//   tttc SPEC --emit=STAGE [--head-dim D] [--mini-batch N] [-o FILE]
//   tttc run SPEC [--input NAME=FILE.npy]... [--output-dir DIR] [--check]
//                 [--repeat N] [--mini-batch N] [--target cpu] [--seed S]
//                 [--batch B] [--seq-len T] [--heads H] [--head-dim D]
//   tttc compile SPEC --head-dim D -o OUT.o [--header OUT.h] [--mini-batch N]
//   tttc compile SPEC --target=cuda --arch=sm_XX --emit=ptx|cubin -o OUT
//
// A thin user of the C API (include/tttc/tttc.h).
//
//===----------------------------------------------------------------------===//

#include "tttc/tttc.h"
#include "tttc/tttc_fp16.h"

#include "Npy.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <sys/stat.h>
#include <vector>

namespace {

const char *kUsage = R"(usage:
  tttc SPEC --emit=STAGE [--head-dim=D] [--mini-batch=N] [-o FILE]
      STAGE: spec, after-autodiff, chunked, linalg, gpu-kernel, llvm-dialect,
             llvm-ir, object, ptx (with --arch=sm_80|sm_90|sm_90a)
  tttc run SPEC [--input NAME=FILE.npy]... [--output-dir DIR] [--check]
               [--repeat N] [--mini-batch N] [--target cpu] [--seed S]
               [--batch B] [--seq-len T] [--heads H] [--head-dim D]
               [--exact-chunk N] [--target cpu|cuda|cuda-emu[:OPTIONS]]
               [--io-dtype f32|bf16|f16]
      Without --input, seeded random inputs of shape B, T, H, D are generated
      (defaults 2, 64, 2, 64); --save-inputs also writes them to DIR/inputs/.
      --check compares every output with the float64
      per-token reference interpreter and prints max |out - ref| / max |ref|.
      --exact-chunk: tokens per chunk of exact mini-batch-1 rules (default 16;
      1: the sequential path).
      --target: cpu; cuda (a GPU through the CUDA driver); cuda-emu (the GPU
      kernel IR run on the CPU). Options comma-separated after a colon:
      threads=N (per program, default 512), tensor-cores=0|1,
      mma-chains=1|2|3 (independent accumulators per tensor-core tile),
      precision=tf32x3|tf32|tf32-rz (tensor-core operands: f32 accuracy
      from three products, the default; one product of operands rounded
      to tf32, about 1e-3 relative error; or of their top 19 bits as the
      tensor cores read them, no rounding work, larger and biased error:
      --check then allows 2e-2 and 1e-1 for every output),
      warp-rotate=0|1 (1: each tensor-core matmul's tasks start at the
      warp after the previous one's; default 0: every one at warp 0),
      k-split=0|1 (1: tensor-core matmuls with few tiles and 4+ k steps
      spread their k steps over idle warps, partial sums in shared memory
      added after a barrier, where the buffers fit apart; default 0),
      mma-n-tiles=R|auto (adjacent tensor-core tiles per warp, sharing the
      A fragments; default auto: per matmul, the most, up to 4, that
      still give every warp a task),
      prefetch=N (the next chunk's inputs loaded N block barriers before
      the end of a chunk step, default 2; 0: each step loads its own),
      rounds=static|strided, row-warps=1|0, tid-per-chunk=1|0 (how
      threads walk a step's points; the first values are the defaults),
      buffers=apart|packed (shared buffers apart where two programs per
      SM still fit, default, or packed by live range),
      min-programs=N (registers budgeted for N programs per SM, default 2),
      column-blocks=N (N programs per (batch, head), each owning D/N
      columns of the state: for small B*H; an error for layers whose
      state columns are reduced over, e.g. by a layer norm; the cpu target
      takes it too; cuda's default, auto, picks N per launch from B*H,
      the device's multiprocessors and shared memory where the layer
      allows it), schedule=alap|asap|none (the chunk step's order for
      barriers), and for
      cuda-emu check-races (report conflicting accesses: threads of a
      block between barriers, and blocks writing what others touch) and
      count-ops (print per launch the IR ops a block's warps run, each
      warp counted by its busiest lane: a proxy for issued instructions;
      count-ops=phases also prints each barrier phase of the first block).
      --io-dtype: per-token inputs and readouts in memory as bfloat16 or
      float16 (states and arithmetic stay float32); .npy files stay float32
      (inputs are rounded to the I/O type first, so --check compares against
      the reference on the same values; readouts are checked to 1e-2 (bf16)
      or 1e-3 (f16), everything else to 1e-5).
  tttc compile SPEC --head-dim=D -o OUT.o [--header OUT.h] [--mini-batch=N]
  tttc compile SPEC --target=cuda [--arch=sm_80|sm_90|sm_90a] --emit=ptx|cubin
               --head-dim=D -o OUT
      PTX (loadable with tttc_cuda_load_ptx, include/tttc/tttc_cuda.h) or a
      cubin assembled by ptxas ($CUDA_HOME/bin, /usr/local/cuda/bin or PATH)
      with its calling convention in OUT.tttc (tttc_cuda_load_cubin, or
      tttc_cuda_load_file(OUT) for either).
)";

/// Remarks of the last compilation (slower strategies chosen), on stderr.
void printNotes() {
  const char *n = tttc_last_notes();
  if (n && *n)
    std::fprintf(stderr, "%s%s", n, n[std::strlen(n) - 1] == '\n' ? "" : "\n");
}

int die(const std::string &msg) {
  std::fprintf(stderr, "tttc: error: %s\n", msg.c_str());
  return 1;
}

struct Args {
  std::string command, spec, emit, out, outputDir, header, target = "cpu", arch = "sm_80",
              ioDtype = "f32";
  std::vector<std::pair<std::string, std::string>> inputs;
  int64_t headDim = 0, miniBatch = 0, batch = 2, seqLen = 64, heads = 2, repeat = 0,
          exactChunk = TTTC_DEFAULT_EXACT_CHUNK;
  uint64_t seed = 0;
  bool check = false, saveInputs = false;
};

bool parseInt(const std::string &s, int64_t &v) {
  char *end = nullptr;
  long long x = std::strtoll(s.c_str(), &end, 10);
  if (s.empty() || *end)
    return false;
  v = x;
  return true;
}

bool parseArgs(int argc, char **argv, Args &a, std::string &err) {
  std::vector<std::string> rest;
  for (int i = 1; i < argc; ++i) {
    std::string s = argv[i], key = s, val;
    bool hasVal = false;
    if (s.rfind("--", 0) == 0) {
      size_t eq = s.find('=');
      if (eq != std::string::npos) {
        key = s.substr(0, eq);
        val = s.substr(eq + 1);
        hasVal = true;
      }
    }
    auto value = [&](std::string &dst) {
      if (hasVal) {
        dst = val;
        return true;
      }
      if (i + 1 >= argc) {
        err = key + " needs a value";
        return false;
      }
      dst = argv[++i];
      return true;
    };
    auto intValue = [&](int64_t &dst) {
      std::string v;
      if (!value(v))
        return false;
      if (!parseInt(v, dst)) {
        err = key + " expects an integer, got '" + v + "'";
        return false;
      }
      return true;
    };
    if (key == "--emit") {
      if (!value(a.emit))
        return false;
    } else if (key == "-o") {
      if (!value(a.out))
        return false;
    } else if (key == "--output-dir") {
      if (!value(a.outputDir))
        return false;
    } else if (key == "--header") {
      if (!value(a.header))
        return false;
    } else if (key == "--io-dtype") {
      if (!value(a.ioDtype))
        return false;
    } else if (key == "--target") {
      if (!value(a.target))
        return false;
    } else if (key == "--arch") {
      if (!value(a.arch))
        return false;
    } else if (key == "--input") {
      std::string v;
      if (!value(v))
        return false;
      size_t eq = v.find('=');
      if (eq == std::string::npos || eq == 0) {
        err = "--input expects NAME=FILE.npy, got '" + v + "'";
        return false;
      }
      a.inputs.push_back({v.substr(0, eq), v.substr(eq + 1)});
    } else if (key == "--head-dim") {
      if (!intValue(a.headDim))
        return false;
    } else if (key == "--mini-batch") {
      if (!intValue(a.miniBatch))
        return false;
      if (a.miniBatch <= 0) {
        err = "--mini-batch must be positive";
        return false;
      }
    } else if (key == "--exact-chunk") {
      if (!intValue(a.exactChunk))
        return false;
      if (a.exactChunk <= 0) {
        err = "--exact-chunk must be positive";
        return false;
      }
    } else if (key == "--batch") {
      if (!intValue(a.batch))
        return false;
    } else if (key == "--seq-len") {
      if (!intValue(a.seqLen))
        return false;
    } else if (key == "--heads") {
      if (!intValue(a.heads))
        return false;
    } else if (key == "--repeat") {
      if (!intValue(a.repeat))
        return false;
    } else if (key == "--seed") {
      int64_t s2;
      if (!intValue(s2))
        return false;
      a.seed = uint64_t(s2);
    } else if (key == "--check") {
      a.check = true;
    } else if (key == "--save-inputs") {
      a.saveInputs = true;
    } else if (key == "-h" || key == "--help") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    } else if (!s.empty() && s[0] == '-') {
      err = "unknown option '" + s + "'";
      return false;
    } else {
      rest.push_back(s);
    }
  }
  if (!rest.empty() && (rest[0] == "run" || rest[0] == "compile")) {
    a.command = rest[0];
    rest.erase(rest.begin());
  }
  if (rest.size() != 1) {
    err = rest.empty() ? "no spec file given" : "more than one spec file given";
    return false;
  }
  a.spec = rest[0];
  return true;
}

/// A tolerance as written in the help: 0.01, 1e-5.
std::string tolStr(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  std::string s = buf;
  if (size_t e = s.find("e-0"); e != std::string::npos)
    s.erase(e + 2, 1);
  return s;
}

std::string shapeStr(const std::vector<int64_t> &s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i)
    r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

/// mkdir -p.
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

int emitCommand(const Args &a) {
  if (a.emit.empty())
    return die("nothing to do: give --emit=STAGE, or use 'tttc run' / 'tttc compile'\n" +
               std::string(kUsage));
  int64_t d = a.headDim ? a.headDim : 64;
  if (a.emit == "object") {
    std::string out = a.out.empty() ? "out.o" : a.out;
    if (tttc_compile_file_to_object(a.spec.c_str(), d, a.miniBatch, out.c_str(),
                                    a.header.empty() ? nullptr : a.header.c_str()))
      return die(tttc_last_error());
    return 0;
  }
  tttc_options opts = tttc_default_options(d);
  opts.mini_batch = a.miniBatch;
  opts.exact_chunk = a.exactChunk;
  opts.io_dtype = a.ioDtype.c_str();
  char *text = tttc_emit_file_opts(a.spec.c_str(), a.emit.c_str(), &opts, a.arch.c_str());
  if (!text)
    return die(tttc_last_error());
  printNotes();
  if (a.out.empty() || a.out == "-") {
    std::fputs(text, stdout);
  } else {
    FILE *f = std::fopen(a.out.c_str(), "w");
    if (!f) {
      tttc_free_string(text);
      return die("cannot write " + a.out);
    }
    std::fputs(text, f);
    std::fclose(f);
  }
  tttc_free_string(text);
  return 0;
}

/// ptxas from $CUDA_HOME, /usr/local/cuda or PATH; "" if none.
std::string findPtxas() {
  std::vector<std::string> dirs;
  for (const char *v : {"CUDA_HOME", "CUDA_PATH"})
    if (const char *e = std::getenv(v))
      dirs.push_back(std::string(e) + "/bin");
  dirs.push_back("/usr/local/cuda/bin");
  if (const char *path = std::getenv("PATH")) {
    std::string p = path;
    for (size_t s = 0, e; s <= p.size(); s = e + 1) {
      e = p.find(':', s);
      if (e == std::string::npos)
        e = p.size();
      dirs.push_back(p.substr(s, e - s));
    }
  }
  for (const std::string &d : dirs) {
    std::string f = d + "/ptxas";
    struct stat st;
    if (!d.empty() && stat(f.c_str(), &st) == 0 && (st.st_mode & S_IXUSR))
      return f;
  }
  return "";
}

/// What one SM of `arch` holds (CUDA occupancy calculator values).
struct SMLimits {
  int64_t regs, smem, smemReservedPerBlock, threads, blocks;
};
SMLimits smLimits(const std::string &arch) {
  if (arch == "sm_80")
    return {65536, 167936, 1024, 2048, 32};
  return {65536, 233472, 1024, 2048, 32}; // sm_90, sm_90a
}

/// ptxas -v's resource lines for the kernel and, from the PTX header's block
/// size and shared memory, how many programs (thread blocks) one SM runs at
/// once and what limits it: registers are allocated per warp in units of 256.
std::string occupancyReport(const std::string &ptxasOut, const std::string &ptxText,
                            const std::string &arch) {
  int64_t regs = -1, stack = 0, spillSt = 0, spillLd = 0;
  std::istringstream out(ptxasOut);
  for (std::string line; std::getline(out, line);) {
    size_t p = line.find("Used ");
    if (p != std::string::npos)
      regs = std::atoll(line.c_str() + p + 5);
    p = line.find(" bytes stack frame, ");
    if (p != std::string::npos) {
      size_t b = line.rfind(':', p);
      stack = std::atoll(line.c_str() + (b == std::string::npos ? 0 : b + 1));
      std::sscanf(line.c_str() + p, " bytes stack frame, %lld bytes spill stores, %lld bytes spill loads",
                  reinterpret_cast<long long *>(&spillSt), reinterpret_cast<long long *>(&spillLd));
    }
  }
  std::string kernel;
  int64_t threads = 0, smem = 0;
  std::istringstream lines(ptxText);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("// tttc-kernel ", 0) != 0)
      continue;
    std::istringstream w(line.substr(15));
    w >> kernel;
    for (std::string tok; w >> tok;) {
      if (tok == "block") {
        int64_t x = 1, y = 1, z = 1;
        w >> x >> y >> z;
        threads = x * y * z;
      } else if (tok == "smem") {
        w >> smem;
      }
    }
    break;
  }
  if (regs < 0 || threads <= 0)
    return "";
  SMLimits sm = smLimits(arch);
  int64_t warps = (threads + 31) / 32;
  int64_t perWarp = (std::max<int64_t>(regs, 1) * 32 + 255) / 256 * 256;
  std::pair<int64_t, const char *> limits[] = {
      {sm.regs / perWarp / warps, "registers"},
      {sm.smem / (smem + sm.smemReservedPerBlock), "shared memory"},
      {sm.threads / threads, "threads"},
      {sm.blocks, "blocks"}};
  auto *lim = std::min_element(std::begin(limits), std::end(limits),
                               [](auto &x, auto &y) { return x.first < y.first; });
  std::ostringstream r;
  r << kernel << " on " << arch << ": " << regs << " registers, " << stack << " bytes stack, "
    << spillSt + spillLd << " bytes spilled, " << smem << " bytes shared memory per program of "
    << threads << " threads: " << lim->first << " program" << (lim->first == 1 ? "" : "s")
    << " per SM (limited by " << lim->second << ")";
  return r.str();
}

int compileCudaCommand(const Args &a) {
  if (a.emit != "ptx" && a.emit != "cubin")
    return die("tttc compile --target=cuda needs --emit=ptx or --emit=cubin");
  if (a.out.empty())
    return die("tttc compile --target=cuda needs -o OUT");
  tttc_options opts = tttc_default_options(a.headDim);
  opts.mini_batch = a.miniBatch;
  opts.exact_chunk = a.exactChunk;
  opts.io_dtype = a.ioDtype.c_str();
  opts.target = a.target.c_str(); // cuda[:threads=N,tensor-cores=0|1,column-blocks=N]
  char *text = tttc_emit_file_opts(a.spec.c_str(), "ptx", &opts, a.arch.c_str());
  if (!text)
    return die(tttc_last_error());
  printNotes();
  std::string ptxPath = a.emit == "ptx" ? a.out : a.out + ".ptx";
  FILE *f = std::fopen(ptxPath.c_str(), "w");
  if (!f) {
    tttc_free_string(text);
    return die("cannot write " + ptxPath);
  }
  std::fputs(text, f);
  std::fclose(f);
  std::string ptxText = text;
  tttc_free_string(text);
  if (a.emit == "ptx") {
    std::printf("wrote %s (%s)\n", a.out.c_str(), a.arch.c_str());
    return 0;
  }
  std::string ptxas = findPtxas();
  if (ptxas.empty())
    return die("--emit=cubin needs ptxas (the CUDA toolkit): not found in $CUDA_HOME/bin, "
               "/usr/local/cuda/bin or PATH; --emit=ptx needs nothing");
  std::string cmd = "'" + ptxas + "' -arch=" + a.arch + " -O3 -v '" + ptxPath + "' -o '" +
                    a.out + "' 2>&1";
  std::string ptxasOut;
  int rc = -1;
  if (FILE *p = popen(cmd.c_str(), "r")) {
    char buf[4096];
    for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;)
      ptxasOut.append(buf, n);
    rc = pclose(p);
  }
  std::remove(ptxPath.c_str());
  if (rc != 0)
    return die("ptxas failed (" + cmd + "):\n" + ptxasOut);
  // The kernel's calling convention (the PTX's header lines, up to its
  // .target) beside the cubin: tttc_cuda_load_cubin / tttc_cuda_load_file
  // read it.
  std::string headerPath = a.out + ".tttc";
  FILE *h = std::fopen(headerPath.c_str(), "w");
  if (!h)
    return die("cannot write " + headerPath);
  std::istringstream lines(ptxText);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("// tttc-", 0) == 0 || line.rfind(".target", 0) == 0)
      std::fprintf(h, "%s\n", line.c_str());
    if (line.rfind(".target", 0) == 0)
      break;
  }
  std::fclose(h);
  std::printf("wrote %s (%s, by %s) and %s\n", a.out.c_str(), a.arch.c_str(), ptxas.c_str(),
              headerPath.c_str());
  std::string report = occupancyReport(ptxasOut, ptxText, a.arch);
  if (!report.empty())
    std::printf("%s\n", report.c_str());
  return 0;
}

int compileCommand(const Args &a) {
  if (a.headDim <= 0)
    return die("tttc compile needs --head-dim=D");
  if (a.target == "cuda" || a.target.rfind("cuda:", 0) == 0)
    return compileCudaCommand(a);
  if (a.target != "cpu")
    return die("tttc compile: unknown target '" + a.target + "' (expected cpu or cuda)");
  if (!a.emit.empty())
    return die("tttc compile for the cpu writes an object file: --emit is for --target=cuda");
  if (a.out.empty())
    return die("tttc compile needs -o OUT.o");
  std::string header = a.header;
  if (header.empty()) {
    header = a.out;
    size_t dot = header.rfind('.');
    header = (dot == std::string::npos ? header : header.substr(0, dot)) + ".h";
  }
  if (tttc_compile_file_to_object(a.spec.c_str(), a.headDim, a.miniBatch, a.out.c_str(),
                                  header.c_str()))
    return die(tttc_last_error());
  std::printf("wrote %s and %s\n", a.out.c_str(), header.c_str());
  return 0;
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

int runCommand(const Args &a) {
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
  int64_t D = a.headDim;
  if (!D && files.empty())
    D = 64;
  if (!D) {
    // Infer D from the first per-token vector input: probe the signature.
    tttc_layer *probe = tttc_compile_file(a.spec.c_str(), 1, a.miniBatch);
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
  tttc_options opts = tttc_default_options(D);
  opts.mini_batch = a.miniBatch;
  opts.exact_chunk = a.exactChunk;
  opts.target = a.target.c_str();
  opts.io_dtype = a.ioDtype.c_str();
  tttc_layer *layer = tttc_compile_file_opts(a.spec.c_str(), &opts);
  if (!layer)
    return die(tttc_last_error());
  printNotes();
  double compileMs = nowMs() - t0;

  // Inputs: the files, or random ones.
  int64_t B = a.batch, T = a.seqLen, H = a.heads;
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
    int rank = tttc_output_shape(layer, i, B, T, H, shape);
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
  if (tttc_run(layer, kIns.data(), int(kIns.size()), kOuts.data(), int(kOuts.size()))) {
    std::string e = tttc_last_error();
    tttc_destroy(layer);
    return die(e);
  }
  double runMs = nowMs() - r0;
  widenOutputs();
  std::printf("tttc run: layer %s, B=%lld T=%lld H=%lld D=%lld, mini-batch %lld, target %s%s%s\n",
              tttc_layer_name(layer), (long long)B, (long long)T, (long long)H, (long long)D,
              (long long)tttc_mini_batch(layer), a.target.c_str(),
              io16 ? (", I/O " + a.ioDtype).c_str() : "",
              files.empty() ? (", random inputs (seed " + std::to_string(a.seed) + ")").c_str()
                            : "");
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
    if (tttc_run_reference(layer, ins.data(), int(ins.size()), refs.data(), int(refs.size()))) {
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
} // namespace

int main(int argc, char **argv) {
  Args a;
  std::string err;
  if (argc < 2) {
    std::fputs(kUsage, stderr);
    return 1;
  }
  if (!parseArgs(argc, argv, a, err))
    return die(err + "\n" + kUsage);
  if (a.command == "run")
    return runCommand(a);
  if (a.command == "compile")
    return compileCommand(a);
  return emitCommand(a);
}
