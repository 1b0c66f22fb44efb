//===- CudaDriver.cpp - tttc_cuda.h over a dlopen'd CUDA driver -----------===//
//
// No MLIR and no CUDA headers: the few driver entry points used are declared
// here and resolved with dlopen/dlsym at first use, so everything linking
// this loads on machines without a GPU.
//
//===----------------------------------------------------------------------===//

#include "tttc/tttc_cuda.h"

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <dlfcn.h>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

namespace {
using CUresult = int;
using CUdevice = int;
using CUcontext = void *;
using CUmodule = void *;
using CUfunction = void *;
using CUstream = void *;
using CUdeviceptr = unsigned long long;

constexpr int CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT = 16;
constexpr int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75;
constexpr int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76;
constexpr int CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN = 97;
constexpr int CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8;
constexpr int CU_POINTER_ATTRIBUTE_MEMORY_TYPE = 2;
constexpr int CU_MEMORYTYPE_HOST = 1;
constexpr int CU_JIT_ERROR_LOG_BUFFER = 5;
constexpr int CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES = 6;

struct Driver {
  void *lib = nullptr;
  std::string error;
  CUresult (*cuInit)(unsigned);
  CUresult (*cuDeviceGetCount)(int *);
  CUresult (*cuDeviceGet)(CUdevice *, int);
  CUresult (*cuDeviceGetAttribute)(int *, int, CUdevice);
  CUresult (*cuCtxGetCurrent)(CUcontext *);
  CUresult (*cuCtxSetCurrent)(CUcontext);
  CUresult (*cuCtxGetDevice)(CUdevice *);
  CUresult (*cuDevicePrimaryCtxRetain)(CUcontext *, CUdevice);
  CUresult (*cuModuleLoadDataEx)(CUmodule *, const void *, unsigned, int *, void **);
  CUresult (*cuModuleGetFunction)(CUfunction *, CUmodule, const char *);
  CUresult (*cuModuleUnload)(CUmodule);
  CUresult (*cuFuncSetAttribute)(CUfunction, int, int);
  CUresult (*cuLaunchKernel)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned,
                             unsigned, unsigned, CUstream, void **, void **);
  CUresult (*cuPointerGetAttribute)(void *, int, CUdeviceptr);
  CUresult (*cuGetErrorString)(CUresult, const char **);
  CUresult (*cuMemAlloc)(CUdeviceptr *, size_t);
  CUresult (*cuMemFree)(CUdeviceptr);
  CUresult (*cuMemcpyHtoD)(CUdeviceptr, const void *, size_t);
  CUresult (*cuMemcpyDtoH)(void *, CUdeviceptr, size_t);
  CUresult (*cuStreamSynchronize)(CUstream);
  CUresult (*cuCtxSynchronize)();
  CUresult (*cuMemAllocAsync)(CUdeviceptr *, size_t, CUstream);
  CUresult (*cuMemFreeAsync)(CUdeviceptr, CUstream);
  CUresult (*cuMemsetD8Async)(CUdeviceptr, unsigned char, size_t, CUstream);
  CUdevice device = 0;
  int major = 0, minor = 0, maxSmemOptin = 0, smCount = 0;

  template <typename F> bool sym(F &f, const char *name) {
    f = reinterpret_cast<F>(dlsym(lib, name));
    if (!f)
      error = std::string("the CUDA driver lacks ") + name;
    return f != nullptr;
  }

  std::string describe(CUresult r) {
    const char *s = nullptr;
    if (cuGetErrorString && cuGetErrorString(r, &s) == 0 && s)
      return std::string(s) + " (CUDA error " + std::to_string(r) + ")";
    return "CUDA error " + std::to_string(r);
  }

  bool init() {
    lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!lib)
      lib = dlopen("libcuda.so", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
      const char *e = dlerror();
      error = std::string("no CUDA driver: cannot load libcuda.so.1 (") + (e ? e : "?") +
              "); the cpu and cuda-emu targets need none";
      return false;
    }
    if (!sym(cuInit, "cuInit") || !sym(cuDeviceGetCount, "cuDeviceGetCount") ||
        !sym(cuDeviceGet, "cuDeviceGet") || !sym(cuDeviceGetAttribute, "cuDeviceGetAttribute") ||
        !sym(cuCtxGetCurrent, "cuCtxGetCurrent") || !sym(cuCtxSetCurrent, "cuCtxSetCurrent") ||
        !sym(cuCtxGetDevice, "cuCtxGetDevice") ||
        !sym(cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain") ||
        !sym(cuModuleLoadDataEx, "cuModuleLoadDataEx") ||
        !sym(cuModuleGetFunction, "cuModuleGetFunction") ||
        !sym(cuModuleUnload, "cuModuleUnload") || !sym(cuFuncSetAttribute, "cuFuncSetAttribute") ||
        !sym(cuLaunchKernel, "cuLaunchKernel") ||
        !sym(cuPointerGetAttribute, "cuPointerGetAttribute") ||
        !sym(cuGetErrorString, "cuGetErrorString") || !sym(cuMemAlloc, "cuMemAlloc_v2") ||
        !sym(cuMemFree, "cuMemFree_v2") || !sym(cuMemcpyHtoD, "cuMemcpyHtoD_v2") ||
        !sym(cuMemcpyDtoH, "cuMemcpyDtoH_v2") ||
        !sym(cuStreamSynchronize, "cuStreamSynchronize") ||
        !sym(cuCtxSynchronize, "cuCtxSynchronize") ||
        !sym(cuMemAllocAsync, "cuMemAllocAsync") || !sym(cuMemFreeAsync, "cuMemFreeAsync") ||
        !sym(cuMemsetD8Async, "cuMemsetD8Async"))
      return false;
    if (CUresult r = cuInit(0)) {
      error = "the CUDA driver failed to initialise: " + describe(r);
      return false;
    }
    int n = 0;
    if (cuDeviceGetCount(&n) || n == 0) {
      error = "no CUDA device";
      return false;
    }
    // The caller's current context (e.g. PyTorch's), else the primary one.
    CUcontext ctx = nullptr;
    cuCtxGetCurrent(&ctx);
    if (ctx) {
      cuCtxGetDevice(&device);
    } else {
      cuDeviceGet(&device, 0);
      if (CUresult r = cuDevicePrimaryCtxRetain(&ctx, device)) {
        error = "cannot create a CUDA context: " + describe(r);
        return false;
      }
      cuCtxSetCurrent(ctx);
    }
    cuDeviceGetAttribute(&major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, device);
    cuDeviceGetAttribute(&minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, device);
    cuDeviceGetAttribute(&smCount, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, device);
    cuDeviceGetAttribute(&maxSmemOptin, CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN,
                         device);
    return true;
  }
};

thread_local std::string lastError;

int failWith(const std::string &e) {
  lastError = e;
  return -1;
}

Driver *driver() {
  static Driver d;
  static bool ok = false;
  static std::once_flag once;
  std::call_once(once, [] { ok = d.init(); });
  if (!ok) {
    lastError = d.error;
    return nullptr;
  }
  return &d;
}

struct Param {
  std::string name;
  int rank;
  bool scratch;     // allocated by the runtime, not passed by the caller
  int elementBytes; // 4 (f32), 2 (bf16, f16 per-token inputs and readouts)
};
} // namespace

struct tttc_cuda_kernel {
  std::string name;
  int block = 1;
  int64_t gridZ = 1; // programs per (b, h): column blocks of the state
  int64_t smem = 0, scratch = 0; // scratch: global bytes per program
  std::vector<Param> params;        // every kernel parameter
  std::vector<int> visible;         // the caller's buffers among them
  CUmodule module = nullptr;
  CUfunction fn = nullptr;
};

extern "C" {
int tttc_cuda_available(void) { return driver() ? 1 : 0; }

const char *tttc_cuda_device_arch(void) {
  static thread_local std::string arch;
  Driver *d = driver();
  if (!d)
    return nullptr;
  arch = "sm_" + std::to_string(d->major) + std::to_string(d->minor);
  return arch.c_str();
}

int tttc_cuda_device_sm_count(void) {
  Driver *d = driver();
  return d ? d->smCount : 0;
}

} // extern "C"

namespace {
/// Whether `ptr` is memory the device can use: a driver allocation that is
/// not host memory.
bool isDeviceMemory(Driver *d, uintptr_t ptr) {
  unsigned memType = 0;
  return !d->cuPointerGetAttribute(&memType, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, ptr) &&
         memType != CU_MEMORYTYPE_HOST;
}

/// Reads a tttc kernel's calling convention from the header lines of its PTX
/// (or the header file written beside a cubin): "// tttc-kernel NAME grid B H
/// Z block X Y Z smem N scratch S" (Z: column blocks per (b, h)),
/// "// tttc-kernel-params name:rank[:bf16|:f16] ..." and ".target sm_XY".
bool parseHeader(const char *text, tttc_cuda_kernel *k, std::string &target) {
  std::istringstream in(text);
  std::string line;
  bool header = false, params = false;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string slashes, tag;
    ls >> slashes >> tag;
    if (slashes == "//" && tag == "tttc-kernel") {
      std::string g, gb, gh, blk, smem, scr;
      int by = 1, bz = 1;
      ls >> k->name >> g >> gb >> gh >> k->gridZ >> blk >> k->block >> by >> bz >> smem >>
          k->smem >> scr >> k->scratch;
      header = !ls.fail() && g == "grid" && blk == "block" && smem == "smem" &&
               scr == "scratch" && by == 1 && bz == 1 && k->block >= 1 && k->scratch >= 0 &&
               k->gridZ >= 1 && k->gridZ <= 65535;
    } else if (slashes == "//" && tag == "tttc-kernel-params") {
      std::string p;
      params = true;
      while (ls >> p) {
        // name:rank[:bf16|:f16]
        size_t c = p.find(':');
        if (c == std::string::npos || c + 1 >= p.size()) {
          params = false;
          break;
        }
        std::string name = p.substr(0, c), rest = p.substr(c + 1);
        int bytes = 4;
        if (size_t t = rest.find(':'); t != std::string::npos) {
          std::string type = rest.substr(t + 1);
          if (type != "bf16" && type != "f16") {
            params = false;
            break;
          }
          bytes = 2;
          rest = rest.substr(0, t);
        }
        if (name != "__scratch")
          k->visible.push_back(int(k->params.size()));
        k->params.push_back({name, std::atoi(rest.c_str()), name == "__scratch", bytes});
      }
    } else if (line.find(".target") != std::string::npos) {
      std::istringstream ts(line);
      std::string dot;
      ts >> dot >> target;
      if (!target.empty() && target.back() == ',')
        target.pop_back();
      break;
    }
  }
  return header && params;
}

/// Loads `image` (PTX text or a cubin) into the kernel `k` described by
/// its header; deletes `k` and returns null on error.
tttc_cuda_kernel *loadModule(tttc_cuda_kernel *k, const void *image, bool cubin,
                             const std::string &target) {
  Driver *d = driver();
  if (!d) {
    delete k;
    return nullptr;
  }
  // PTX for sm_XY[a] must not be newer than the device; a cubin runs only on
  // its own major generation, at the same or a later minor (sm_XYa: exactly).
  int want = 0;
  if (target.rfind("sm_", 0) == 0)
    want = std::atoi(target.c_str() + 3);
  int have = d->major * 10 + d->minor;
  bool archSpecific = !target.empty() && target.back() == 'a';
  bool fits = cubin ? want / 10 == have / 10 && want <= have : want <= have;
  if (!fits || (archSpecific && want != have)) {
    delete k;
    failWith("architecture mismatch: the kernel targets " + target + ", the device is sm_" +
             std::to_string(have) + " (" + (cubin ? "build the cubin" : "emit it") +
             " with --arch=sm_" + std::to_string(have) + (cubin ? ", or load the PTX)" : ")"));
    return nullptr;
  }
  char log[8192] = {0};
  int opts[] = {CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
  void *vals[] = {log, reinterpret_cast<void *>(uintptr_t(sizeof log))};
  if (CUresult r = d->cuModuleLoadDataEx(&k->module, image, 2, opts, vals)) {
    std::string msg = "cannot load the kernel: " + d->describe(r);
    if (log[0])
      msg += ": " + std::string(log);
    delete k;
    failWith(msg);
    return nullptr;
  }
  if (CUresult r = d->cuModuleGetFunction(&k->fn, k->module, k->name.c_str())) {
    failWith("the module has no kernel '" + k->name + "': " + d->describe(r));
    tttc_cuda_free(k);
    return nullptr;
  }
  if (k->smem > d->maxSmemOptin) {
    failWith("out of shared memory: the kernel needs " + std::to_string(k->smem) +
             " bytes per block, the device offers " + std::to_string(d->maxSmemOptin) +
             " (compile with a smaller head dimension or mini-batch)");
    tttc_cuda_free(k);
    return nullptr;
  }
  if (k->smem > 48 * 1024)
    if (CUresult r = d->cuFuncSetAttribute(k->fn, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                                           int(k->smem))) {
      failWith("cannot reserve " + std::to_string(k->smem) +
               " bytes of shared memory: " + d->describe(r));
      tttc_cuda_free(k);
      return nullptr;
    }
  return k;
}
} // namespace

extern "C" {
tttc_cuda_kernel *tttc_cuda_load_ptx(const char *ptx) {
  if (!ptx) {
    failWith("tttc_cuda_load_ptx: null PTX");
    return nullptr;
  }
  auto k = new tttc_cuda_kernel();
  std::string target;
  if (!parseHeader(ptx, k, target)) {
    delete k;
    failWith("not a tttc kernel: the PTX lacks its '// tttc-kernel' and "
             "'// tttc-kernel-params' header lines (emit it with tttc --emit=ptx)");
    return nullptr;
  }
  return loadModule(k, ptx, /*cubin=*/false, target);
}

tttc_cuda_kernel *tttc_cuda_load_cubin(const void *cubin, size_t bytes, const char *header) {
  if (!cubin || !header) {
    failWith("tttc_cuda_load_cubin: null cubin or header");
    return nullptr;
  }
  if (bytes < 64 || std::memcmp(cubin, "\x7f" "ELF", 4) != 0) {
    failWith("tttc_cuda_load_cubin: not a cubin (an ELF image from ptxas, e.g. tttc compile "
             "--emit=cubin)");
    return nullptr;
  }
  auto k = new tttc_cuda_kernel();
  std::string target;
  if (!parseHeader(header, k, target) || target.empty()) {
    delete k;
    failWith("not a tttc kernel header: expected the '// tttc-kernel', "
             "'// tttc-kernel-params' and '.target' lines (the .tttc file tttc compile "
             "--emit=cubin writes beside the cubin, or the PTX it was built from)");
    return nullptr;
  }
  return loadModule(k, cubin, /*cubin=*/true, target);
}

tttc_cuda_kernel *tttc_cuda_load_file(const char *path) {
  if (!path) {
    failWith("tttc_cuda_load_file: null path");
    return nullptr;
  }
  auto slurp = [](const std::string &p, std::string &out) {
    std::ifstream f(p, std::ios::binary);
    if (!f)
      return false;
    std::ostringstream ss;
    ss << f.rdbuf();
    out = ss.str();
    return true;
  };
  std::string image, header;
  if (!slurp(path, image)) {
    failWith(std::string("cannot read ") + path);
    return nullptr;
  }
  if (image.compare(0, 4, "\x7f" "ELF") != 0)
    return tttc_cuda_load_ptx(image.c_str());
  std::string headerPath = std::string(path) + ".tttc";
  if (!slurp(headerPath, header)) {
    failWith("cannot read " + headerPath + ": a cubin's calling convention is in the .tttc "
             "file tttc compile --emit=cubin writes beside it");
    return nullptr;
  }
  return tttc_cuda_load_cubin(image.data(), image.size(), header.c_str());
}

int tttc_cuda_num_params(const tttc_cuda_kernel *k) { return k ? int(k->visible.size()) : 0; }
const char *tttc_cuda_param_name(const tttc_cuda_kernel *k, int i) {
  return k && i >= 0 && i < int(k->visible.size()) ? k->params[k->visible[i]].name.c_str()
                                                   : nullptr;
}
int tttc_cuda_param_rank(const tttc_cuda_kernel *k, int i) {
  return k && i >= 0 && i < int(k->visible.size()) ? k->params[k->visible[i]].rank : -1;
}
int64_t tttc_cuda_scratch_bytes(const tttc_cuda_kernel *k) { return k ? k->scratch : 0; }
int tttc_cuda_param_bytes(const tttc_cuda_kernel *k, int i) {
  return k && i >= 0 && i < int(k->visible.size()) ? k->params[k->visible[i]].elementBytes : 0;
}
int tttc_cuda_block_size(const tttc_cuda_kernel *k) { return k ? k->block : 0; }
int64_t tttc_cuda_shared_bytes(const tttc_cuda_kernel *k) { return k ? k->smem : 0; }
int tttc_cuda_column_blocks(const tttc_cuda_kernel *k) { return k ? int(k->gridZ) : 0; }

int tttc_cuda_launch(tttc_cuda_kernel *k, int64_t gridX, int64_t gridY, void *const *ptrs,
                     const int64_t *const *shapes, void *stream) {
  if (!k || !ptrs || !shapes)
    return failWith("tttc_cuda_launch: null kernel, pointers or shapes");
  Driver *d = driver();
  if (!d)
    return -1;
  if (gridX < 1 || gridY < 1 || gridX > 2147483647 || gridY > 65535)
    return failWith("tttc_cuda_launch: grid " + std::to_string(gridX) + " x " +
                    std::to_string(gridY) + " out of range (B >= 1, 1 <= H <= 65535)");
  // Global scratch memory of the programs, stream-ordered: allocated before
  // and freed after this launch on its stream.
  CUdeviceptr scratch = 0;
  int64_t scratchBytes = k->scratch * gridX * gridY * k->gridZ;
  auto stream_ = static_cast<CUstream>(stream);
  // Each memref parameter: allocated and aligned pointers, offset, sizes,
  // strides (C-contiguous).
  std::vector<int64_t> words;
  std::vector<void *> args;
  size_t total = 0;
  for (const Param &p : k->params)
    total += 3 + 2 * size_t(p.rank);
  words.reserve(total);
  size_t caller = 0;
  for (const Param &p : k->params) {
    std::vector<int64_t> scratchShape = {scratchBytes};
    const int64_t *shape = p.scratch ? scratchShape.data() : shapes[caller];
    void *ptrv = p.scratch ? nullptr : ptrs[caller];
    if (!p.scratch)
      ++caller;
    if (!shape && p.rank)
      return failWith("tttc_cuda_launch: no shape for '" + p.name + "'");
    int64_t n = 1;
    for (int r = 0; r < p.rank; ++r) {
      if (shape[r] < 0)
        return failWith("tttc_cuda_launch: '" + p.name + "' has a negative extent");
      n *= shape[r];
    }
    auto ptr = reinterpret_cast<uintptr_t>(ptrv);
    if (n > 0 && !p.scratch) {
      if (!ptr)
        return failWith("tttc_cuda_launch: '" + p.name + "' is a null pointer");
      if (ptr % uintptr_t(p.elementBytes))
        return failWith("tttc_cuda_launch: '" + p.name + "' is not " +
                        std::to_string(p.elementBytes) + "-byte aligned (" +
                        (p.elementBytes == 4 ? "float32" : "16-bit") +
                        " device memory expected)");
      if (!isDeviceMemory(d, ptr))
        return failWith("tttc_cuda_launch: '" + p.name +
                        "' is not device memory (allocate it with cuMemAlloc or on the GPU)");
    }
    if (p.scratch && scratchBytes > 0 && !scratch) {
      if (CUresult r = d->cuMemAllocAsync(&scratch, size_t(scratchBytes), stream_))
        return failWith("cannot allocate " + std::to_string(scratchBytes) +
                        " bytes of scratch memory: " + d->describe(r));
    }
    if (p.scratch)
      ptr = uintptr_t(scratch);
    words.push_back(int64_t(ptr));
    words.push_back(int64_t(ptr));
    words.push_back(0);
    for (int r = 0; r < p.rank; ++r)
      words.push_back(shape[r]);
    std::vector<int64_t> strides(p.rank, 1);
    for (int r = p.rank - 2; r >= 0; --r)
      strides[r] = strides[r + 1] * shape[r + 1];
    words.insert(words.end(), strides.begin(), strides.end());
  }
  for (int64_t &w : words)
    args.push_back(&w);
  CUresult r = d->cuLaunchKernel(k->fn, unsigned(gridX), unsigned(gridY), unsigned(k->gridZ),
                                 unsigned(k->block),
                                 1, 1, unsigned(k->smem), stream_, args.data(), nullptr);
  if (scratch)
    d->cuMemFreeAsync(scratch, stream_);
  if (r)
    return failWith("kernel launch failed: " + d->describe(r));
  return 0;
}

void tttc_cuda_free(tttc_cuda_kernel *k) {
  if (!k)
    return;
  if (k->module)
    if (Driver *d = driver())
      d->cuModuleUnload(k->module);
  delete k;
}

void *tttc_cuda_alloc_device(size_t bytes) {
  Driver *d = driver();
  if (!d)
    return nullptr;
  CUdeviceptr p = 0;
  if (CUresult r = d->cuMemAlloc(&p, bytes)) {
    failWith("cannot allocate " + std::to_string(bytes) + " bytes on the device: " +
             d->describe(r));
    return nullptr;
  }
  return reinterpret_cast<void *>(p);
}

void tttc_cuda_free_device(void *ptr) {
  if (Driver *d = ptr ? driver() : nullptr)
    d->cuMemFree(reinterpret_cast<CUdeviceptr>(ptr));
}

int tttc_cuda_copy_to_device(void *dst, const void *src, size_t bytes) {
  Driver *d = driver();
  if (!d)
    return -1;
  if (CUresult r = d->cuMemcpyHtoD(reinterpret_cast<CUdeviceptr>(dst), src, bytes))
    return failWith("copy to the device failed: " + d->describe(r));
  return 0;
}

int tttc_cuda_copy_to_host(void *dst, const void *src, size_t bytes) {
  Driver *d = driver();
  if (!d)
    return -1;
  if (CUresult r = d->cuMemcpyDtoH(dst, reinterpret_cast<CUdeviceptr>(src), bytes))
    return failWith("copy from the device failed (an earlier kernel may have faulted): " +
                    d->describe(r));
  return 0;
}

int tttc_cuda_synchronize(void *stream) {
  Driver *d = driver();
  if (!d)
    return -1;
  CUresult r = stream ? d->cuStreamSynchronize(static_cast<CUstream>(stream))
                      : d->cuCtxSynchronize();
  if (r)
    return failWith("the GPU reported an error: " + d->describe(r));
  return 0;
}

int tttc_cuda_is_device_memory(const void *ptr) {
  Driver *d = driver();
  return d && ptr && isDeviceMemory(d, reinterpret_cast<uintptr_t>(ptr)) ? 1 : 0;
}

void *tttc_cuda_alloc_async(size_t bytes, void *stream) {
  Driver *d = driver();
  if (!d)
    return nullptr;
  CUdeviceptr p = 0;
  if (CUresult r = d->cuMemAllocAsync(&p, bytes ? bytes : 1, static_cast<CUstream>(stream))) {
    failWith("cannot allocate " + std::to_string(bytes) + " bytes on the device: " +
             d->describe(r));
    return nullptr;
  }
  return reinterpret_cast<void *>(p);
}

int tttc_cuda_free_async(void *ptr, void *stream) {
  Driver *d = driver();
  if (!d)
    return -1;
  if (ptr)
    if (CUresult r = d->cuMemFreeAsync(reinterpret_cast<CUdeviceptr>(ptr),
                                       static_cast<CUstream>(stream)))
      return failWith("cannot free device memory: " + d->describe(r));
  return 0;
}

int tttc_cuda_zero_async(void *ptr, size_t bytes, void *stream) {
  Driver *d = driver();
  if (!d)
    return -1;
  if (bytes)
    if (CUresult r = d->cuMemsetD8Async(reinterpret_cast<CUdeviceptr>(ptr), 0, bytes,
                                        static_cast<CUstream>(stream)))
      return failWith("cannot clear device memory: " + d->describe(r));
  return 0;
}

const char *tttc_cuda_sum_rows_ptx(void) {
  // One thread per column j: dst[j] = ((0 + src[0][j]) + src[1][j]) + ...,
  // round to nearest, no contraction: the host's sum in the same order.
  return R"(//
// tttc runtime: dst[j] = sum over r < rows of src[r * n + j], in order of r
.version 7.0
.target sm_75
.address_size 64

.visible .entry tttc_sum_rows(
	.param .u64 tttc_sum_rows_dst,
	.param .u64 tttc_sum_rows_src,
	.param .u64 tttc_sum_rows_n,
	.param .u64 tttc_sum_rows_rows
)
{
	.reg .pred %p<3>;
	.reg .b32 %r<4>;
	.reg .b64 %rd<12>;
	.reg .f32 %f<3>;

	ld.param.u64 %rd1, [tttc_sum_rows_dst];
	ld.param.u64 %rd2, [tttc_sum_rows_src];
	ld.param.u64 %rd3, [tttc_sum_rows_n];
	ld.param.u64 %rd4, [tttc_sum_rows_rows];
	mov.u32 %r1, %ctaid.x;
	mov.u32 %r2, %ntid.x;
	mov.u32 %r3, %tid.x;
	mul.wide.u32 %rd5, %r1, %r2;
	cvt.u64.u32 %rd6, %r3;
	add.u64 %rd5, %rd5, %rd6;
	setp.ge.u64 %p1, %rd5, %rd3;
	@%p1 bra DONE;
	cvta.to.global.u64 %rd1, %rd1;
	cvta.to.global.u64 %rd2, %rd2;
	shl.b64 %rd7, %rd5, 2;
	add.u64 %rd8, %rd2, %rd7;
	shl.b64 %rd9, %rd3, 2;
	mov.f32 %f1, 0f00000000;
	mov.u64 %rd10, 0;
	setp.eq.u64 %p2, %rd4, 0;
	@%p2 bra STORE;
LOOP:
	ld.global.f32 %f2, [%rd8];
	add.rn.f32 %f1, %f1, %f2;
	add.u64 %rd8, %rd8, %rd9;
	add.u64 %rd10, %rd10, 1;
	setp.lt.u64 %p2, %rd10, %rd4;
	@%p2 bra LOOP;
STORE:
	add.u64 %rd11, %rd1, %rd7;
	st.global.f32 [%rd11], %f1;
DONE:
	ret;
}
)";
}

int tttc_cuda_sum_rows(float *dst, const float *src, int64_t rows, int64_t n, void *stream) {
  Driver *d = driver();
  if (!d)
    return -1;
  if (rows < 0 || n < 0)
    return failWith("tttc_cuda_sum_rows: negative extent");
  if (n == 0)
    return 0;
  if (!dst || (!src && rows > 0))
    return failWith("tttc_cuda_sum_rows: null pointer");
  if (!isDeviceMemory(d, reinterpret_cast<uintptr_t>(dst)) ||
      (rows > 0 && !isDeviceMemory(d, reinterpret_cast<uintptr_t>(src))))
    return failWith(std::string("tttc_cuda_sum_rows: the ") +
                    (isDeviceMemory(d, reinterpret_cast<uintptr_t>(dst)) ? "partials are"
                                                                        : "sum is") +
                    " not device memory (allocate it with cuMemAlloc or on the GPU)");
  if (reinterpret_cast<uintptr_t>(dst) % 4 || reinterpret_cast<uintptr_t>(src) % 4)
    return failWith("tttc_cuda_sum_rows: not 4-byte aligned (float32 device memory expected)");
  // Loaded once per process, in the context of the first call.
  static CUfunction fn = nullptr;
  static std::string loadError;
  static std::once_flag once;
  std::call_once(once, [d] {
    CUmodule m = nullptr;
    char log[4096] = {0};
    int opts[] = {CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
    void *vals[] = {log, reinterpret_cast<void *>(uintptr_t(sizeof log))};
    if (CUresult r = d->cuModuleLoadDataEx(&m, tttc_cuda_sum_rows_ptx(), 2, opts, vals))
      loadError = "cannot load the runtime's sum kernel: " + d->describe(r) + (log[0] ? ": " : "") + log;
    else if (CUresult r = d->cuModuleGetFunction(&fn, m, "tttc_sum_rows"))
      loadError = "the runtime's sum kernel is missing: " + d->describe(r);
  });
  if (!fn)
    return failWith(loadError);
  constexpr int64_t threads = 256;
  int64_t blocks = (n + threads - 1) / threads;
  if (blocks > 2147483647)
    return failWith("tttc_cuda_sum_rows: " + std::to_string(n) + " columns is too many");
  uint64_t words[4] = {uint64_t(reinterpret_cast<uintptr_t>(dst)),
                       uint64_t(reinterpret_cast<uintptr_t>(src)), uint64_t(n), uint64_t(rows)};
  void *args[4] = {&words[0], &words[1], &words[2], &words[3]};
  if (CUresult r = d->cuLaunchKernel(fn, unsigned(blocks), 1, 1, unsigned(threads), 1, 1, 0,
                                     static_cast<CUstream>(stream), args, nullptr))
    return failWith("sum kernel launch failed: " + d->describe(r));
  return 0;
}

const char *tttc_cuda_last_error(void) { return lastError.c_str(); }
}
