/* Drives an AOT-compiled ttt_linear (head dim 16, mini-batch 4, --backward)
 * through its training interface: the training forward (whose outputs must be
 * the plain forward's, bit for bit, and which fills every saved state), then
 * the backward from the saved states. Writes the inputs, cotangents and
 * gradients as PREFIX.*.npy so the test can compare with the JIT's. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aot_npy.h"

enum { B = 1, T = 11, H = 3, D = 16, C = 4, S = (T + C - 1) / C };

#define N4 (B * T * H * D)
static float q[N4], k[N4], v[N4], lr[B * T * H], lnw[H * D], lnb[H * D], w[B * H * D * D],
    b[B * H * D];
static float out[N4], wf[B * H * D * D], bf[B * H * D];
static float out2[N4], wf2[B * H * D * D], bf2[B * H * D];
static float sw[B * H * S * D * D], sb[B * H * S * D];
static float cout_[N4], cwf[B * H * D * D], cbf[B * H * D];
static float gq[N4], gk[N4], gv[N4], glr[B * T * H], glnw[H * D], glnb[H * D],
    gw[B * H * D * D], gb[B * H * D];

static void fill(float *x, int n, float a, float f, float p) {
  for (int i = 0; i < n; ++i)
    x[i] = a * sinf(f * i + p);
}

int main(int argc, char **argv) {
  const char *prefix = argc > 1 ? argv[1] : "aot";
  float unused[1];
  fill(q, N4, 0.3f, 0.37f, 1.0f);
  fill(k, N4, 0.3f, 0.23f, 0.2f);
  fill(v, N4, 0.3f, 0.41f, 2.0f);
  for (int i = 0; i < B * T * H; ++i)
    lr[i] = 0.5f + 0.4f * cosf(0.11f * i);
  for (int i = 0; i < H * D; ++i)
    lnw[i] = 1.0f + 0.1f * sinf(0.7f * i);
  fill(lnb, H * D, 0.1f, 0.9f, 0.3f);
  fill(w, B * H * D * D, 0.3f, 0.13f, 0.5f);
  fill(b, B * H * D, 0.2f, 0.31f, 0.1f);
  fill(cout_, N4, 1.0f, 0.17f, 0.7f);
  fill(cwf, B * H * D * D, 0.5f, 0.29f, 1.3f);
  fill(cbf, B * H * D, 0.5f, 0.53f, 0.9f);
  for (int i = 0; i < B * H * S * D * D; ++i)
    sw[i] = NAN;
  for (int i = 0; i < B * H * S * D; ++i)
    sb[i] = NAN;
  DESC(4, dq, q, {B, T, H, D}, {T * H * D, H * D, D, 1})
  DESC(4, dk, k, {B, T, H, D}, {T * H * D, H * D, D, 1})
  DESC(4, dv, v, {B, T, H, D}, {T * H * D, H * D, D, 1})
  DESC(3, dlr, lr, {B, T, H}, {T * H, H, 1})
  DESC(1, dscale, unused, {0}, {1}) /* omitted: the spec's default */
  DESC(2, dlnw, lnw, {H, D}, {D, 1})
  DESC(2, dlnb, lnb, {H, D}, {D, 1})
  DESC(4, dw, w, {B, H, D, D}, {H * D * D, D * D, D, 1})
  DESC(3, db, b, {B, H, D}, {H * D, D, 1})
  DESC(4, dout, out, {B, T, H, D}, {T * H * D, H * D, D, 1})
  DESC(4, dwf, wf, {B, H, D, D}, {H * D * D, D * D, D, 1})
  DESC(3, dbf, bf, {B, H, D}, {H * D, D, 1})
  DESC(4, dout2, out2, {B, T, H, D}, {T * H * D, H * D, D, 1})
  DESC(4, dwf2, wf2, {B, H, D, D}, {H * D * D, D * D, D, 1})
  DESC(3, dbf2, bf2, {B, H, D}, {H * D, D, 1})
  DESC(5, dsw, sw, {B, H, S, D, D}, {H * S * D * D, S * D * D, D * D, D, 1})
  DESC(4, dsb, sb, {B, H, S, D}, {H * S * D, S * D, D, 1})
  DESC(4, dcout, cout_, {B, T, H, D}, {T * H * D, H * D, D, 1})
  DESC(4, dcwf, cwf, {B, H, D, D}, {H * D * D, D * D, D, 1})
  DESC(3, dcbf, cbf, {B, H, D}, {H * D, D, 1})
  DESC(4, dgq, gq, {B, T, H, D}, {T * H * D, H * D, D, 1})
  DESC(4, dgk, gk, {B, T, H, D}, {T * H * D, H * D, D, 1})
  DESC(4, dgv, gv, {B, T, H, D}, {T * H * D, H * D, D, 1})
  DESC(3, dglr, glr, {B, T, H}, {T * H, H, 1})
  DESC(1, dgscale, unused, {0}, {1})
  DESC(2, dglnw, glnw, {H, D}, {D, 1})
  DESC(2, dglnb, glnb, {H, D}, {D, 1})
  DESC(4, dgw, gw, {B, H, D, D}, {H * D * D, D * D, D, 1})
  DESC(3, dgb, gb, {B, H, D}, {H * D, D, 1})

  _mlir_ciface_ttt_linear(&dq, &dk, &dv, &dlr, &dscale, &dlnw, &dlnb, &dw, &db, &dout, &dwf,
                          &dbf);
  _mlir_ciface_ttt_linear_forward_train(&dq, &dk, &dv, &dlr, &dscale, &dlnw, &dlnb, &dw, &db,
                                        &dout2, &dwf2, &dbf2, &dsw, &dsb);
  int same = !memcmp(out, out2, sizeof out) && !memcmp(wf, wf2, sizeof wf) &&
             !memcmp(bf, bf2, sizeof bf);
  int saved = 1;
  for (int i = 0; i < B * H * S * D * D; ++i)
    saved &= !isnan(sw[i]);
  for (int i = 0; i < B * H * S * D; ++i)
    saved &= !isnan(sb[i]);
  /* The first saved state is the initial one. */
  int first = !memcmp(sw, w, D * D * sizeof(float)) && !memcmp(sb, b, D * sizeof(float));
  _mlir_ciface_ttt_linear_backward(&dq, &dk, &dv, &dlr, &dscale, &dlnw, &dlnb, &dw, &db, &dsw,
                                   &dsb, &dcout, &dcwf, &dcbf, &dgq, &dgk, &dgv, &dglr, &dgscale,
                                   &dglnw, &dglnb, &dgw, &dgb);

  int64_t s4[] = {B, T, H, D}, s3[] = {B, T, H}, sp[] = {H, D}, sW[] = {B, H, D, D},
          sB[] = {B, H, D};
  save(prefix, "q", q, 4, s4);
  save(prefix, "k", k, 4, s4);
  save(prefix, "v", v, 4, s4);
  save(prefix, "lr", lr, 3, s3);
  save(prefix, "ln_w", lnw, 2, sp);
  save(prefix, "ln_b", lnb, 2, sp);
  save(prefix, "w_init", w, 4, sW);
  save(prefix, "b_init", b, 3, sB);
  save(prefix, "cot_out", cout_, 4, s4);
  save(prefix, "cot_w_final", cwf, 4, sW);
  save(prefix, "cot_b_final", cbf, 3, sB);
  save(prefix, "grad_q", gq, 4, s4);
  save(prefix, "grad_k", gk, 4, s4);
  save(prefix, "grad_v", gv, 4, s4);
  save(prefix, "grad_lr", glr, 3, s3);
  save(prefix, "grad_ln_w", glnw, 2, sp);
  save(prefix, "grad_ln_b", glnb, 2, sp);
  save(prefix, "grad_w_init", gw, 4, sW);
  save(prefix, "grad_b_init", gb, 3, sB);
  double g = 0;
  for (int i = 0; i < N4; ++i)
    g += fabs(gq[i]) + fabs(gk[i]) + fabs(gv[i]);
  printf("train outputs same %d, saved written %d, first saved = init %d, grads finite %d, "
         "nonzero %d\n",
         same, saved, first, isfinite(g), g > 0);
  return 0;
}
