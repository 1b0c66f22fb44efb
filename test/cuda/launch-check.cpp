//===- launch-check.cpp - drive tttc_cuda.h against the fake driver -------===//
//
//   launch-check KERNEL.ptx|KERNEL.cubin B T H
//
// Loads the kernel (tttc_cuda_load_file: PTX, or a cubin with its .tttc
// header), allocates (fake) device buffers for a TTT-Linear-shaped
// layer whose parameters are described by the header, launches, and prints
// what the driver received; then tries the launches the runtime must refuse.
//
//===----------------------------------------------------------------------===//

#include "tttc/tttc_cuda.h"

#include <cstdio>
#include <cstdlib>
#include <dlfcn.h>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

struct FakeLaunch {
  unsigned grid[3], block[3], smem;
  int numParams;
  int64_t words[1024];
  int dynSmemAttr;
};

int main(int argc, char **argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: launch-check KERNEL.ptx|KERNEL.cubin B T H\n");
    return 2;
  }
  int64_t B = std::atoll(argv[2]), T = std::atoll(argv[3]), H = std::atoll(argv[4]);
  std::printf("available %d arch %s\n", tttc_cuda_available(),
              tttc_cuda_device_arch() ? tttc_cuda_device_arch() : "none");
  tttc_cuda_kernel *k = tttc_cuda_load_file(argv[1]);
  if (!k) {
    std::printf("load error: %s\n", tttc_cuda_last_error());
    return 0;
  }
  std::printf("block %d smem %lld scratch %lld params %d column-blocks %d\n",
              tttc_cuda_block_size(k), (long long)tttc_cuda_shared_bytes(k),
              (long long)tttc_cuda_scratch_bytes(k), tttc_cuda_num_params(k),
              tttc_cuda_column_blocks(k));
  // Where the runtime-allocated scratch buffer sits among the parameters
  // (the header: the PTX's, or the .tttc beside a cubin).
  int scratchAt = -1;
  {
    auto slurp = [](const std::string &path) {
      std::ifstream f(path, std::ios::binary);
      std::stringstream ss;
      ss << f.rdbuf();
      return ss.str();
    };
    std::string ptx = slurp(argv[1]);
    if (ptx.rfind("\x7f" "ELF", 0) == 0)
      ptx = slurp(std::string(argv[1]) + ".tttc");
    size_t p = ptx.find("// tttc-kernel-params");
    std::istringstream ps(ptx.substr(p, ptx.find('\n', p) - p));
    std::string tok;
    ps >> tok >> tok;
    for (int i = 0; ps >> tok; ++i)
      if (tok.rfind("__scratch:", 0) == 0)
        scratchAt = i;
  }
  // Shapes: rank-4 [B, T, H, D] / [B, H, D, D]; the test only needs some
  // consistent extents per rank.
  std::vector<std::vector<int64_t>> shapes;
  std::vector<void *> ptrs;
  for (int i = 0; i < tttc_cuda_num_params(k); ++i) {
    int r = tttc_cuda_param_rank(k, i);
    std::vector<int64_t> s;
    if (r == 4)
      s = {B, T, H, 16};
    else if (r == 3)
      s = {B, H, 16};
    else if (r == 2)
      s = {H, 16};
    else
      s = std::vector<int64_t>(r, 16);
    size_t n = 4;
    for (int64_t e : s)
      n *= size_t(e);
    shapes.push_back(s);
    ptrs.push_back(tttc_cuda_alloc_device(n));
  }
  std::vector<const int64_t *> sp;
  for (auto &s : shapes)
    sp.push_back(s.data());
  if (tttc_cuda_launch(k, B, H, ptrs.data(), sp.data(), nullptr)) {
    std::printf("launch error: %s\n", tttc_cuda_last_error());
    return 1;
  }
  void *fake = dlopen("libcuda.so.1", RTLD_NOW | RTLD_NOLOAD);
  auto *l = fake ? static_cast<FakeLaunch *>(dlsym(fake, "fake_cuda_last_launch")) : nullptr;
  if (!l) {
    std::printf("not the fake driver\n");
    return 1;
  }
  std::printf("launched grid %u %u %u block %u %u %u smem %u (opt-in %d) words %d\n", l->grid[0],
              l->grid[1], l->grid[2], l->block[0], l->block[1], l->block[2], l->smem,
              l->dynSmemAttr, l->numParams);
  // The descriptors: allocated, aligned, offset, sizes, strides.
  int w = 0;
  bool ok = true;
  for (size_t i = 0; i < shapes.size(); ++i) {
    if (int(i) == scratchAt) {
      // The scratch buffer: B * H * column-blocks slices, allocated by the
      // runtime.
      ok &= l->words[w] != 0 &&
            l->words[w + 3] == B * H * tttc_cuda_column_blocks(k) * tttc_cuda_scratch_bytes(k) &&
            l->words[w + 4] == 1;
      w += 5;
    }
    const std::vector<int64_t> &s = shapes[i];
    ok &= l->words[w] == int64_t(reinterpret_cast<intptr_t>(ptrs[i])) &&
          l->words[w + 1] == l->words[w] && l->words[w + 2] == 0;
    w += 3;
    int64_t stride = 1;
    std::vector<int64_t> strides(s.size());
    for (int r = int(s.size()) - 1; r >= 0; --r) {
      strides[r] = stride;
      stride *= s[r];
    }
    for (size_t r = 0; r < s.size(); ++r)
      ok &= l->words[w + r] == s[r] && l->words[w + s.size() + r] == strides[r];
    w += 2 * int(s.size());
  }
  std::printf("descriptors %s (%d words)\n", ok && w == l->numParams ? "match" : "MISMATCH", w);

  // Refused launches.
  float host[64];
  void *saved = ptrs[0];
  ptrs[0] = host;
  if (tttc_cuda_launch(k, B, H, ptrs.data(), sp.data(), nullptr))
    std::printf("host pointer: %s\n", tttc_cuda_last_error());
  ptrs[0] = static_cast<char *>(saved) + 2;
  if (tttc_cuda_launch(k, B, H, ptrs.data(), sp.data(), nullptr))
    std::printf("misaligned: %s\n", tttc_cuda_last_error());
  ptrs[0] = nullptr;
  if (tttc_cuda_launch(k, B, H, ptrs.data(), sp.data(), nullptr))
    std::printf("null: %s\n", tttc_cuda_last_error());
  ptrs[0] = saved;
  if (tttc_cuda_launch(k, B, 70000, ptrs.data(), sp.data(), nullptr))
    std::printf("grid: %s\n", tttc_cuda_last_error());
  for (void *p : ptrs)
    tttc_cuda_free_device(p);
  tttc_cuda_free(k);
  return 0;
}
