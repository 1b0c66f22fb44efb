/*===- tttc_fp16.h - float32 <-> bfloat16 / float16 -------------*- C -*-===*\
 *
 * Conversions for feeding layers compiled with a 16-bit I/O type
 * (tttc_options.io_dtype "bf16" or "f16") from float32 data and reading their
 * readouts back: round to nearest even, infinities and NaNs kept, float16
 * subnormals handled. Header-only, portable C.
\*===----------------------------------------------------------------------===*/
#ifndef TTTC_TTTC_FP16_H
#define TTTC_TTTC_FP16_H

#include <stdint.h>
#include <string.h>

static inline uint16_t tttc_f32_to_bf16(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u)
    return (uint16_t)((u >> 16) | 0x40u); /* quiet NaN */
  u += 0x7fffu + ((u >> 16) & 1u);
  return (uint16_t)(u >> 16);
}

static inline float tttc_bf16_to_f32(uint16_t h) {
  uint32_t u = (uint32_t)h << 16;
  float f;
  memcpy(&f, &u, 4);
  return f;
}

static inline uint16_t tttc_f32_to_f16(float f) {
  uint32_t x, mant, half, rem, mid, shift;
  int32_t e;
  uint16_t sign;
  memcpy(&x, &f, 4);
  sign = (uint16_t)((x >> 16) & 0x8000u);
  mant = x & 0x7fffffu;
  if (((x >> 23) & 0xffu) == 0xffu) /* inf, NaN */
    return (uint16_t)(sign | 0x7c00u | (mant ? 0x200u : 0u));
  e = (int32_t)((x >> 23) & 0xffu) - 112; /* rebias 127 -> 15 */
  if (e >= 31)
    return (uint16_t)(sign | 0x7c00u);
  if (e <= 0) { /* float16 subnormal or zero */
    if (e < -10)
      return sign;
    mant |= 0x800000u;
    shift = (uint32_t)(14 - e);
    half = mant >> shift;
    rem = mant & ((1u << shift) - 1u);
    mid = 1u << (shift - 1u);
    if (rem > mid || (rem == mid && (half & 1u)))
      ++half;
    return (uint16_t)(sign | half);
  }
  half = ((uint32_t)e << 10) | (mant >> 13);
  rem = mant & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (half & 1u)))
    ++half; /* a carry into the exponent is the right rounding (up to inf) */
  return (uint16_t)(sign | half);
}

static inline float tttc_f16_to_f32(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu, x;
  float f;
  if (exp == 0x1fu) {
    x = sign | 0x7f800000u | (mant << 13);
  } else if (exp) {
    x = sign | ((exp + 112u) << 23) | (mant << 13);
  } else {
    f = (float)mant * 5.9604644775390625e-8f; /* mant * 2^-24 */
    return sign ? -f : f;
  }
  memcpy(&f, &x, 4);
  return f;
}

#endif
