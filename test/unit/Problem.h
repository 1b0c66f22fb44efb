//===- Problem.h - named float32 tensors for the C API tests ---*- C++ -*-===//
//
// A set of named tensors (inputs, cotangents, gradients) and generators of
// random inputs in the ranges the layers expect, shared by the backward and
// packed-batch tests.
//
//===----------------------------------------------------------------------===//
#ifndef TTTC_TEST_UNIT_PROBLEM_H
#define TTTC_TEST_UNIT_PROBLEM_H

#include "TestUtil.h"

#include <random>

namespace testutil {

struct Problem {
  std::vector<std::string> names;
  std::vector<std::vector<int64_t>> shapes;
  std::vector<std::vector<float>> data;
  std::vector<tttc_tensor> tensors() {
    std::vector<tttc_tensor> t;
    for (size_t i = 0; i < names.size(); ++i)
      t.push_back({names[i].c_str(), data[i].data(), int(shapes[i].size()), shapes[i].data()});
    return t;
  }
  void add(const std::string &name, std::vector<int64_t> shape) {
    names.push_back(name);
    shapes.push_back(shape);
    data.emplace_back(std::max<size_t>(numElements(shape), 1));
  }
};

/// Inputs in the ranges the layers expect (as tttc run generates them):
/// activations with unit row norm on average, gates in (0.05, 0.95),
/// parameters around 1 (vectors) or 0 (scalars), initial matrices with
/// 1/sqrt(rows) entries; position inputs and per-batch-row initial states
/// when `full`.
inline Problem makeInputs(tttc_layer *l, const std::string &spec, int64_t B, int64_t T, int64_t H,
                   bool full, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::uniform_real_distribution<double> uni(0.05, 0.95);
  Problem p;
  for (int i = 0; i < tttc_num_inputs(l); ++i) {
    int kind = tttc_input_kind(l, i);
    if (tttc_input_optional(l, i) && !full)
      continue;
    int64_t s[8];
    int r = tttc_input_shape(l, i, B, T, H, s);
    std::vector<int64_t> shape(s, s + r);
    if (kind == TTTC_STATE_INIT && full)
      shape.insert(shape.begin(), B); // one per batch row
    p.add(tttc_input_name(l, i), shape);
    std::vector<float> &v = p.data.back();
    int64_t inner = shape.empty() ? 1 : shape.back();
    for (float &x : v)
      switch (kind) {
      case TTTC_TOKEN_VECTOR:
        x = float(normal(rng) / std::sqrt(double(inner)));
        break;
      case TTTC_TOKEN_SCALAR:
        // The MLP memory's inner learning rate smaller: with (0.05, 0.95)
        // it can diverge within 100 tokens (in the reference too).
        x = float(uni(rng) * (spec == "titans_mlp" && p.names.back() == "theta" ? 0.1 : 1.0));
        break;
      case TTTC_POSITION_SCALAR:
        x = float(0.5 + uni(rng));
        break;
      case TTTC_PARAM_VECTOR:
        x = float(1.0 + 0.2 * normal(rng));
        break;
      case TTTC_PARAM_SCALAR:
        x = float(normal(rng));
        break;
      default: {
        int64_t rows = shape.size() >= 3 ? shape[shape.size() - 2] : inner;
        x = float(normal(rng) / std::sqrt(double(rows)));
      }
      }
  }
  return p;
}

/// Destinations for every output of `l` at (B, T, H), NaN-poisoned (every
/// element must be written).
inline Problem outputsFor(tttc_layer *l, int64_t B, int64_t T, int64_t H) {
  Problem p;
  for (int i = 0; i < tttc_num_outputs(l); ++i) {
    int64_t s[8];
    int r = tttc_output_shape(l, i, B, T, H, s);
    p.add(tttc_output_name(l, i), std::vector<int64_t>(s, s + r));
    std::fill(p.data.back().begin(), p.data.back().end(), std::nanf(""));
  }
  return p;
}

inline Problem makeCotangents(tttc_layer *l, int64_t B, int64_t T, int64_t H, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  Problem p;
  for (int i = 0; i < tttc_num_outputs(l); ++i) {
    int64_t s[8];
    int r = tttc_output_shape(l, i, B, T, H, s);
    p.add(tttc_output_name(l, i), std::vector<int64_t>(s, s + r));
    for (float &x : p.data.back())
      x = float(normal(rng));
  }
  return p;
}

} // namespace testutil

#endif
