//===- CompileCommand.cpp - tttc compile: object files, PTX and cubins ----===//
//
// Ahead of time: for the cpu target an object file and a C header for its
// entry point; for cuda PTX, or a cubin assembled by ptxas with the kernel's
// calling convention beside it and an occupancy report from ptxas -v.
//
//===----------------------------------------------------------------------===//

#include "Driver.h"
#include "tttc/PTXListing.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <sys/stat.h>

namespace tttc::driver {
namespace {

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

/// `out` for the first kernel (the forward's); for kernel `name` of another
/// entry point, its suffix before the extension: x.cubin -> x_backward.cubin
/// for `<layer>_backward_kernel` beside `<layer>_kernel`.
std::string kernelPath(const std::string &out, const std::string &first, const std::string &name) {
  if (name == first)
    return out;
  std::string layer = first.substr(0, first.size() - std::string("_kernel").size());
  std::string suffix = name.substr(layer.size(), name.size() - layer.size() - 7);
  size_t slash = out.rfind('/'), dot = out.rfind('.');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash))
    return out + suffix;
  return out.substr(0, dot) + suffix + out.substr(dot);
}

/// Writes `k` as PTX (`--emit=ptx`) or assembles it into a cubin with the
/// calling convention beside it (`--emit=cubin`).
int writeKernel(const Invocation &a, const KernelPTX &k, const std::string &path) {
  std::string ptxPath = a.emit == "ptx" ? path : path + ".ptx";
  FILE *f = std::fopen(ptxPath.c_str(), "w");
  if (!f)
    return die("cannot write " + ptxPath);
  std::fputs(k.text.c_str(), f);
  std::fclose(f);
  if (a.emit == "ptx") {
    std::printf("wrote %s (%s, kernel %s)\n", path.c_str(), a.arch.c_str(), k.name.c_str());
    return 0;
  }
  std::string ptxas = findPtxas();
  if (ptxas.empty())
    return die("--emit=cubin needs ptxas (the CUDA toolkit): not found in $CUDA_HOME/bin, "
               "/usr/local/cuda/bin or PATH; --emit=ptx needs nothing");
  std::string cmd = "'" + ptxas + "' -arch=" + a.arch + " -O3 -v '" + ptxPath + "' -o '" +
                    path + "' 2>&1";
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
  std::string headerPath = path + ".tttc";
  FILE *h = std::fopen(headerPath.c_str(), "w");
  if (!h)
    return die("cannot write " + headerPath);
  std::istringstream lines(k.text);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("// tttc-", 0) == 0 || line.rfind(".target", 0) == 0)
      std::fprintf(h, "%s\n", line.c_str());
    if (line.rfind(".target", 0) == 0)
      break;
  }
  std::fclose(h);
  std::printf("wrote %s (%s, by %s) and %s\n", path.c_str(), a.arch.c_str(), ptxas.c_str(),
              headerPath.c_str());
  std::string report = occupancyReport(ptxasOut, k.text, a.arch);
  if (!report.empty())
    std::printf("%s\n", report.c_str());
  return 0;
}

} // namespace

int compileCudaCommand(const Invocation &a) {
  if (a.emit != "ptx" && a.emit != "cubin")
    return die("tttc compile --target=cuda needs --emit=ptx or --emit=cubin");
  if (a.out.empty())
    return die("tttc compile --target=cuda needs -o OUT");
  tttc_options opts = a.capi(a.headDim);
  char *text = tttc_emit_file(a.spec.c_str(), "ptx", &opts);
  if (!text)
    return die(tttc_last_error());
  printNotes();
  std::string listing = text;
  tttc_free_string(text);
  // One file per kernel: the forward's at OUT, those of the training forward
  // and the backward (--backward) or resume (--decode) beside it.
  std::string error;
  std::vector<KernelPTX> ks = splitKernels(listing, error);
  if (ks.empty())
    return die(error);
  for (const KernelPTX &k : ks)
    if (int rc = writeKernel(a, k, kernelPath(a.out, ks.front().name, k.name)))
      return rc;
  return 0;
}

int compileCommand(const Invocation &a) {
  if (a.headDim <= 0)
    return die("tttc compile needs --head-dim=D");
  if (a.target == "cuda")
    return compileCudaCommand(a);
  if (a.target != "cpu")
    return die("tttc compile: target '" + a.target + "' has no ahead-of-time output (cpu: an "
               "object file; cuda: PTX or a cubin)");
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
  tttc_options opts = a.capi(a.headDim);
  if (tttc_compile_file_to_object(a.spec.c_str(), &opts, a.out.c_str(), header.c_str()))
    return die(tttc_last_error());
  std::printf("wrote %s and %s\n", a.out.c_str(), header.c_str());
  return 0;
}

} // namespace tttc::driver
