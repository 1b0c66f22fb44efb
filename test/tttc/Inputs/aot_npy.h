/* Shared by the AOT test drivers: .npy writing and memref descriptors. */
#ifndef AOT_NPY_H
#define AOT_NPY_H
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Writes `data` (float32, C order, `shape`) to PREFIX.WHAT.npy. */
static void save(const char *prefix, const char *what, const float *data, int rank,
                 const int64_t *shape) {
  char path[4096], header[256], dims[128] = "";
  int64_t n = 1;
  for (int i = 0; i < rank; ++i) {
    char d[32];
    snprintf(d, sizeof d, i + 1 < rank ? "%lld, " : (rank == 1 ? "%lld," : "%lld"),
             (long long)shape[i]);
    strcat(dims, d);
    n *= shape[i];
  }
  snprintf(path, sizeof path, "%s.%s.npy", prefix, what);
  int len = snprintf(header, sizeof header,
                     "{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }", dims);
  int pad = (64 - (10 + len + 1) % 64) % 64;
  FILE *f = fopen(path, "wb");
  fwrite("\x93NUMPY\x01\x00", 1, 8, f);
  uint16_t hl = (uint16_t)(len + pad + 1);
  fputc(hl & 0xff, f);
  fputc(hl >> 8, f);
  fwrite(header, 1, len, f);
  for (int i = 0; i < pad; ++i)
    fputc(' ', f);
  fputc('\n', f);
  fwrite(data, sizeof(float), n, f);
  fclose(f);
}

#define DESC(rank, name, ptr, ...)                                              \
  struct tttc_memref_##rank##d name = {ptr, ptr, 0, __VA_ARGS__};

#endif
