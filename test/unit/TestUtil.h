//===- TestUtil.h - compile/run helpers over the C API ----------*- C++ -*-===//
#ifndef TTTC_TEST_UNIT_TESTUTIL_H
#define TTTC_TEST_UNIT_TESTUTIL_H

#include "Reference.h"
#include "tttc/tttc.h"

#include <gtest/gtest.h>
#include <cctype>

#include <map>
#include <memory>
#include <string>
#include <tuple>

namespace testutil {

inline std::string example(const std::string &name) {
  return std::string(TTTC_EXAMPLES_DIR) + "/" + name + ".mlir";
}

using LayerCache = std::map<std::tuple<std::string, int64_t, int64_t, std::string>,
                            std::unique_ptr<tttc_layer, void (*)(tttc_layer *)>>;
inline LayerCache &layerCache() {
  static LayerCache cache;
  return cache;
}

/// Destroys the cached layers before static destruction (after main, JIT
/// engines would be torn down after the LLVM state they use).
class LayerCacheCleanup : public ::testing::Environment {
public:
  void TearDown() override { layerCache().clear(); }
};
inline ::testing::Environment *const cleanupEnv =
    ::testing::AddGlobalTestEnvironment(new LayerCacheCleanup);

/// Compiled layers, cached by (spec, D, C, target): compilation is the slow
/// part. Targets: "cpu", "cuda-emu" (the GPU kernel IR emulated on the CPU).
inline tttc_layer *compiled(const std::string &spec, int64_t D, int64_t C,
                            const std::string &target = "cpu") {
  LayerCache &cache = layerCache();
  auto key = std::make_tuple(spec, D, C, target);
  auto it = cache.find(key);
  if (it == cache.end()) {
    // "KIND[:OPTION,...]": the target, then pipeline options.
    size_t colon = target.find(':');
    std::string kind = target.substr(0, colon), options;
    if (colon != std::string::npos)
      for (char ch : target.substr(colon + 1))
        options += ch == ',' ? ' ' : ch;
    tttc_options o = tttc_default_options(D);
    o.mini_batch = C;
    o.target = kind.c_str();
    o.options = options.c_str();
    tttc_layer *l = tttc_compile_file(example(spec).c_str(), &o);
    EXPECT_NE(l, nullptr) << tttc_last_error();
    it = cache.emplace(key, std::unique_ptr<tttc_layer, void (*)(tttc_layer *)>(l, tttc_destroy))
             .first;
  }
  return it->second.get();
}

/// A target as a test-name prefix: "cpu", "emu" (cuda-emu), or the target
/// string with its punctuation as underscores.
inline std::string targetTag(const std::string &target) {
  if (target == "cpu")
    return "cpu";
  if (target == "cuda-emu")
    return "emu";
  std::string t = target;
  for (char &ch : t)
    if (!std::isalnum(static_cast<unsigned char>(ch)))
      ch = '_';
  return t;
}

/// The case's inputs as C API tensors (pointing into the case).
inline std::vector<tttc_tensor> inputsOf(const ref::Case &c) {
  std::vector<tttc_tensor> ins;
  for (auto &[name, data] : c.in)
    ins.push_back({name.c_str(), const_cast<float *>(data.data()),
                   int(c.shape.at(name).size()), c.shape.at(name).data()});
  return ins;
}

/// The shapes of the layer's outputs, in order, for the case's B, T, H.
inline std::vector<std::vector<int64_t>> outputShapes(tttc_layer *l, const ref::Case &c) {
  std::vector<std::vector<int64_t>> shapes(tttc_num_outputs(l));
  for (int i = 0; i < tttc_num_outputs(l); ++i) {
    int64_t s[8];
    int r = tttc_output_shape(l, i, c.B, c.T, c.H, s);
    shapes[i].assign(s, s + r);
  }
  return shapes;
}

inline size_t numElements(const std::vector<int64_t> &shape) {
  size_t n = 1;
  for (int64_t d : shape)
    n *= size_t(d);
  return n;
}

/// Runs the compiled layer on the case's inputs; the C API's return code,
/// outputs by name in `outs`.
inline int tryRun(tttc_layer *l, const ref::Case &c,
                  std::map<std::string, std::vector<float>> &outs) {
  std::vector<tttc_tensor> ins = inputsOf(c);
  std::vector<std::vector<int64_t>> shapes = outputShapes(l, c);
  std::vector<tttc_tensor> os;
  for (int i = 0; i < tttc_num_outputs(l); ++i) {
    // Poison: every element must be written.
    std::vector<float> &o = outs[tttc_output_name(l, i)];
    o.assign(numElements(shapes[i]), std::nanf(""));
    os.push_back({tttc_output_name(l, i), o.data(), int(shapes[i].size()), shapes[i].data()});
  }
  return tttc_run(l, ins.data(), int(ins.size()), os.data(), int(os.size()));
}

/// The error of a run expected to fail ("" if it succeeded).
inline std::string runError(tttc_layer *l, const ref::Case &c) {
  std::map<std::string, std::vector<float>> outs;
  return tryRun(l, c, outs) == 0 ? std::string() : std::string(tttc_last_error());
}

/// Runs the compiled layer on the case's inputs; outputs by name.
inline std::map<std::string, std::vector<float>> run(tttc_layer *l, const ref::Case &c) {
  std::map<std::string, std::vector<float>> outs;
  int rc = tryRun(l, c, outs);
  EXPECT_EQ(rc, 0) << tttc_last_error();
  return outs;
}

/// The float64 reference interpreter on the case's inputs; outputs by name.
inline std::map<std::string, std::vector<double>> runReference(tttc_layer *l,
                                                                const ref::Case &c) {
  std::vector<tttc_tensor> ins = inputsOf(c);
  std::vector<std::vector<int64_t>> shapes = outputShapes(l, c);
  std::map<std::string, std::vector<double>> outs;
  std::vector<tttc_tensor_f64> os;
  for (int i = 0; i < tttc_num_outputs(l); ++i) {
    std::vector<double> &o = outs[tttc_output_name(l, i)];
    o.assign(numElements(shapes[i]), 0.0);
    os.push_back({tttc_output_name(l, i), o.data(), int(shapes[i].size()), shapes[i].data()});
  }
  int rc = tttc_run_reference(l, ins.data(), int(ins.size()), os.data(), int(os.size()));
  EXPECT_EQ(rc, 0) << tttc_last_error();
  return outs;
}

/// max |a - r| / max |r| (inf if a has a non-finite value).
inline double relError(const std::vector<float> &a, const std::vector<double> &r) {
  EXPECT_EQ(a.size(), r.size());
  double md = 0, mr = 0;
  for (size_t i = 0; i < a.size() && i < r.size(); ++i) {
    if (!std::isfinite(a[i]))
      return INFINITY;
    md = std::max(md, std::fabs(double(a[i]) - r[i]));
    mr = std::max(mr, std::fabs(r[i]));
  }
  return md / std::max(mr, 1e-30);
}

} // namespace testutil

#endif
