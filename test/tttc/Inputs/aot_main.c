/* Drives an AOT-compiled ttt_linear (head dim 16) through its C interface.
 * Writes its inputs and its output as .npy files named PREFIX.*.npy so the
 * test can run the same inputs through the JIT. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aot_npy.h"

enum { B = 2, T = 11, H = 3, D = 16 };

int main(int argc, char **argv) {
  const char *prefix = argc > 1 ? argv[1] : "aot";
  static float x[B * T * H * D], lr[B * T * H], p[H * D], w[H * D * D];
  static float out[B * T * H * D], wf[B * H * D * D], bf[B * H * D];
  float scale_unused[1];
  for (int i = 0; i < B * T * H * D; ++i)
    x[i] = 0.25f * sinf(0.37f * i + 1.0f);
  for (int i = 0; i < B * T * H; ++i)
    lr[i] = 0.5f + 0.4f * cosf(0.11f * i);
  for (int i = 0; i < H * D; ++i)
    p[i] = 1.0f + 0.1f * sinf(0.7f * i);
  for (int i = 0; i < H * D * D; ++i)
    w[i] = 0.3f * cosf(0.13f * i + 0.5f);
  DESC(4, dq, x, {B, T, H, D}, {T * H * D, H * D, D, 1})
  DESC(3, dlr, lr, {B, T, H}, {T * H, H, 1})
  DESC(1, dscale, scale_unused, {0}, {1}) /* omitted: the spec's default */
  DESC(2, dp, p, {H, D}, {D, 1})
  DESC(4, dw, w, {1, H, D, D}, {H * D * D, D * D, D, 1})
  DESC(3, db, p, {1, H, D}, {H * D, D, 1})
  DESC(4, dout, out, {B, T, H, D}, {T * H * D, H * D, D, 1})
  DESC(4, dwf, wf, {B, H, D, D}, {H * D * D, D * D, D, 1})
  DESC(3, dbf, bf, {B, H, D}, {H * D, D, 1})
  _mlir_ciface_ttt_linear(&dq, &dq, &dq, &dlr, &dscale, &dp, &dp, &dw, &db, &dout, &dwf, &dbf);
  int64_t sx[] = {B, T, H, D}, slr[] = {B, T, H}, sp[] = {H, D}, sw[] = {H, D, D};
  save(prefix, "q", x, 4, sx);
  save(prefix, "lr", lr, 3, slr);
  save(prefix, "p", p, 2, sp);
  save(prefix, "w", w, 3, sw);
  save(prefix, "out", out, 4, sx);
  double s = 0;
  for (int i = 0; i < B * T * H * D; ++i)
    s += out[i];
  printf("checksum %.6f finite %d\n", s, isfinite(s));
  return 0;
}
