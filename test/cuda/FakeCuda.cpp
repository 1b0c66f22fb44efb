//===- FakeCuda.cpp - a stand-in libcuda.so.1 for testing the launch path -===//
//
// Implements the driver entry points tttc_cuda uses, on host memory: device
// allocations are malloc'd and remembered (cuPointerGetAttribute knows them),
// copies are memcpy, and cuLaunchKernel records its configuration and the
// parameter words instead of running anything. Environment: FAKE_CUDA_SM
// (compute capability, default 90), FAKE_CUDA_SMEM_OPTIN (bytes, default
// 232448), FAKE_CUDA_SMS (multiprocessors, default 132), FAKE_CUDA_TRACE
// (print each launch's grid and buffers' extents).
//
//===----------------------------------------------------------------------===//

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <elf.h>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace {
std::map<unsigned long long, size_t> allocations; // start -> bytes
// A loaded module: PTX text, or a cubin's kernels (".text.NAME" sections)
// and their parameter counts (EIATTR_KPARAM_INFO records of
// ".nv.info.NAME"); a function: a kernel of a module.
struct Module {
  std::string ptx;
  bool cubin = false;
  std::map<std::string, int> cubinKernels;
};
struct Function {
  Module *module;
  std::string name;
};

/// Parses a cubin (ELF64) the way the driver would need to: section names,
/// then each kernel's .nv.info records (format byte, attribute byte, then a
/// 16-bit size and payload for EIFMT_SVAL (4), or a 16-bit value).
bool parseCubin(const unsigned char *e, std::map<std::string, int> &cubinKernels) {
  cubinKernels.clear();
  if (std::memcmp(e, "\x7f" "ELF", 4) != 0 || e[4] != ELFCLASS64)
    return false;
  Elf64_Ehdr h;
  std::memcpy(&h, e, sizeof h);
  auto section = [&](int i) {
    Elf64_Shdr sh;
    std::memcpy(&sh, e + h.e_shoff + size_t(i) * h.e_shentsize, sizeof sh);
    return sh;
  };
  Elf64_Shdr names = section(h.e_shstrndx);
  std::map<std::string, int> params;
  for (int i = 0; i < h.e_shnum; ++i) {
    Elf64_Shdr sh = section(i);
    std::string name = reinterpret_cast<const char *>(e + names.sh_offset + sh.sh_name);
    if (name.rfind(".text.", 0) == 0)
      cubinKernels[name.substr(6)] += 0;
    if (name.rfind(".nv.info.", 0) != 0)
      continue;
    int n = 0;
    for (size_t p = 0; p + 4 <= sh.sh_size;) {
      const unsigned char *r = e + sh.sh_offset + p;
      uint16_t size = uint16_t(r[2] | (r[3] << 8));
      if (r[0] == 0x04 && r[1] == 0x17) // EIFMT_SVAL, EIATTR_KPARAM_INFO
        ++n;
      p += r[0] == 0x04 ? 4 + size_t(size) : 4;
    }
    params[name.substr(9)] = n;
  }
  for (auto &[k, n] : cubinKernels)
    n = params.count(k) ? params[k] : 0;
  return !cubinKernels.empty();
}
int dynSmemAttr = 0;
int envInt(const char *name, int def) {
  const char *v = std::getenv(name);
  return v ? std::atoi(v) : def;
}
} // namespace

extern "C" {
struct FakeLaunch {
  unsigned grid[3], block[3], smem;
  int numParams;
  int64_t words[1024];
  int dynSmemAttr;
};
FakeLaunch fake_cuda_last_launch;

int cuInit(unsigned) { return 0; }
int cuDeviceGetCount(int *n) {
  *n = 1;
  return 0;
}
int cuDeviceGet(int *d, int) {
  *d = 0;
  return 0;
}
int cuDeviceGetAttribute(int *v, int attr, int) {
  int sm = envInt("FAKE_CUDA_SM", 90);
  if (attr == 75)
    *v = sm / 10;
  else if (attr == 76)
    *v = sm % 10;
  else if (attr == 97)
    *v = envInt("FAKE_CUDA_SMEM_OPTIN", 232448);
  else if (attr == 16)
    *v = envInt("FAKE_CUDA_SMS", 132);
  else
    *v = 0;
  return 0;
}
int cuCtxGetCurrent(void **c) {
  *c = nullptr;
  return 0;
}
int cuCtxSetCurrent(void *) { return 0; }
int cuCtxGetDevice(int *d) {
  *d = 0;
  return 0;
}
int cuDevicePrimaryCtxRetain(void **c, int) {
  static int ctx;
  *c = &ctx;
  return 0;
}
int cuModuleLoadDataEx(void **m, const void *image, unsigned, int *, void **) {
  auto *bytes = static_cast<const unsigned char *>(image);
  auto *mod = new Module();
  mod->cubin = std::memcmp(bytes, "\x7f" "ELF", 4) == 0;
  if (mod->cubin) {
    if (!parseCubin(bytes, mod->cubinKernels)) {
      delete mod;
      return 200; // CUDA_ERROR_INVALID_IMAGE
    }
  } else {
    mod->ptx = static_cast<const char *>(image);
  }
  *m = mod;
  return 0;
}
int cuModuleGetFunction(void **f, void *m, const char *name) {
  auto *mod = static_cast<Module *>(m);
  if (mod->cubin ? !mod->cubinKernels.count(name)
                 : mod->ptx.find(std::string(".entry ") + name + "(") == std::string::npos)
    return 500; // CUDA_ERROR_NOT_FOUND
  *f = new Function{mod, name};
  return 0;
}
int cuModuleUnload(void *m) {
  delete static_cast<Module *>(m);
  return 0;
}
int cuFuncSetAttribute(void *, int attr, int value) {
  if (attr == 8)
    dynSmemAttr = value;
  return 0;
}
int cuLaunchKernel(void *f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                   unsigned bz, unsigned smem, void *, void **params, void **) {
  auto *fn = static_cast<Function *>(f);
  const std::string &ptx = fn->module->ptx;
  FakeLaunch &l = fake_cuda_last_launch;
  l = FakeLaunch{{gx, gy, gz}, {bx, by, bz}, smem, 0, {}, dynSmemAttr};
  // Every parameter of a tttc kernel is 8 bytes (pointers and i64); the
  // count comes from the PTX's .param lines of this kernel's .entry (calls
  // declare .param too).
  size_t begin = ptx.find(".entry " + fn->name + "("), end = ptx.find(")", begin);
  int n = 0;
  if (fn->module->cubin)
    n = fn->module->cubinKernels[fn->name];
  else
    for (size_t p = ptx.find(".param .", begin); p != std::string::npos && p < end;
         p = ptx.find(".param .", p + 1))
      ++n;
  l.numParams = n;
  for (int i = 0; i < n && i < 1024; ++i)
    std::memcpy(&l.words[i], params[i], 8);
  // The runtime's sum kernel (dst, src, n, rows): traced with its extents.
  if (std::getenv("FAKE_CUDA_TRACE") && fn->name == "tttc_sum_rows") {
    std::fprintf(stderr, "fake launch: tttc_sum_rows rows %lld n %lld\n",
                 (long long)l.words[3], (long long)l.words[2]);
    return 0;
  }
  const std::string &loadedPtx = ptx;
  // FAKE_CUDA_TRACE: each memref parameter's extents by its name in the PTX
  // header, so a test can see which buffer the runtime passed where.
  size_t h = loadedPtx.find("// tttc-kernel-params");
  if (std::getenv("FAKE_CUDA_TRACE"))
    std::fprintf(stderr, "fake launch: grid %u %u %u\n", gx, gy, gz);
  if (std::getenv("FAKE_CUDA_TRACE"))
    std::fprintf(stderr, "fake launch: kernel %s\n", fn->name.c_str());
  if (std::getenv("FAKE_CUDA_TRACE") && h != std::string::npos) {
    std::string line = loadedPtx.substr(h, loadedPtx.find('\n', h) - h);
    size_t pos = std::strlen("// tttc-kernel-params"), w = 0;
    while (pos < line.size()) {
      size_t b = line.find_first_not_of(' ', pos);
      if (b == std::string::npos)
        break;
      size_t e = line.find(' ', b);
      std::string tok = line.substr(b, e == std::string::npos ? e : e - b);
      pos = e == std::string::npos ? line.size() : e;
      size_t c = tok.find(':');
      int rank = std::atoi(tok.c_str() + c + 1);
      std::fprintf(stderr, "fake launch: %s [", tok.substr(0, c).c_str());
      for (int r = 0; r < rank; ++r)
        std::fprintf(stderr, "%s%lld", r ? ", " : "", (long long)l.words[w + 3 + r]);
      std::fprintf(stderr, "]\n");
      w += 3 + 2 * size_t(rank);
    }
  }
  return 0;
}
int cuPointerGetAttribute(void *out, int attr, unsigned long long ptr) {
  for (auto [a, bytes] : allocations)
    if (ptr >= a && ptr < a + bytes) {
      if (attr == 2)
        *static_cast<unsigned *>(out) = 2; // CU_MEMORYTYPE_DEVICE
      return 0;
    }
  return 1; // CUDA_ERROR_INVALID_VALUE: not a driver allocation
}
int cuGetErrorString(int r, const char **s) {
  *s = r == 500 ? "named symbol not found" : "fake error";
  return 0;
}
int cuMemAlloc_v2(unsigned long long *p, size_t bytes) {
  void *m = std::malloc(bytes ? bytes : 1);
  *p = reinterpret_cast<unsigned long long>(m);
  allocations[*p] = bytes ? bytes : 1;
  return 0;
}
int cuMemFree_v2(unsigned long long p) {
  allocations.erase(p);
  std::free(reinterpret_cast<void *>(p));
  return 0;
}
int cuMemcpyHtoD_v2(unsigned long long d, const void *s, size_t n) {
  std::memcpy(reinterpret_cast<void *>(d), s, n);
  return 0;
}
int cuMemcpyDtoH_v2(void *d, unsigned long long s, size_t n) {
  std::memcpy(d, reinterpret_cast<void *>(s), n);
  return 0;
}
int cuMemAllocAsync(unsigned long long *p, size_t bytes, void *) {
  return cuMemAlloc_v2(p, bytes);
}
int cuMemFreeAsync(unsigned long long p, void *) { return cuMemFree_v2(p); }
int cuMemsetD8Async(unsigned long long p, unsigned char v, size_t n, void *) {
  std::memset(reinterpret_cast<void *>(p), v, n);
  return 0;
}
int cuStreamSynchronize(void *) { return 0; }
int cuCtxSynchronize() { return 0; }
}
