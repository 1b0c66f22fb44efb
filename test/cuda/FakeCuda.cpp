//===- FakeCuda.cpp - a stand-in libcuda.so.1 for testing the launch path -===//
//
// Implements the driver entry points tttc_cuda uses, on host memory: device
// allocations are malloc'd and remembered (cuPointerGetAttribute knows them),
// copies are memcpy, and cuLaunchKernel records its configuration and the
// parameter words instead of running anything. Environment: FAKE_CUDA_SM
// (compute capability, default 90), FAKE_CUDA_SMEM_OPTIN (bytes, default
// 232448).
//
//===----------------------------------------------------------------------===//

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>
#include <vector>

namespace {
std::set<unsigned long long> allocations;
std::string loadedPtx;
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
  loadedPtx = static_cast<const char *>(image);
  *m = &loadedPtx;
  return 0;
}
int cuModuleGetFunction(void **f, void *, const char *name) {
  if (loadedPtx.find(std::string(".entry ") + name + "(") == std::string::npos)
    return 500; // CUDA_ERROR_NOT_FOUND
  *f = &loadedPtx;
  return 0;
}
int cuModuleUnload(void *) { return 0; }
int cuFuncSetAttribute(void *, int attr, int value) {
  if (attr == 8)
    dynSmemAttr = value;
  return 0;
}
int cuLaunchKernel(void *, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                   unsigned bz, unsigned smem, void *, void **params, void **) {
  FakeLaunch &l = fake_cuda_last_launch;
  l = FakeLaunch{{gx, gy, gz}, {bx, by, bz}, smem, 0, {}, dynSmemAttr};
  // Every parameter of a tttc kernel is 8 bytes (pointers and i64); the
  // count comes from the PTX's .param lines.
  // the .entry's parameter list only (calls declare .param too).
  size_t begin = loadedPtx.find(".entry "), end = loadedPtx.find(")", begin);
  int n = 0;
  for (size_t p = loadedPtx.find(".param .", begin); p != std::string::npos && p < end;
       p = loadedPtx.find(".param .", p + 1))
    ++n;
  l.numParams = n;
  for (int i = 0; i < n && i < 1024; ++i)
    std::memcpy(&l.words[i], params[i], 8);
  return 0;
}
int cuPointerGetAttribute(void *out, int attr, unsigned long long ptr) {
  for (unsigned long long a : allocations)
    if (ptr >= a && ptr < a + (1u << 30)) {
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
  allocations.insert(*p);
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
int cuStreamSynchronize(void *) { return 0; }
int cuCtxSynchronize() { return 0; }
}
