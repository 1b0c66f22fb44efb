//===- Descriptors.cpp - a layer's arguments checked into memref descriptors ===//
//
// Inputs and outputs are named tensors; validation checks names, shapes
// (B, T, H taken from the first per-token vector input), optional inputs
// and overlaps, and builds the memref descriptors the compiled entry point
// (or the cuda kernel) takes, in signature order.
//
//===----------------------------------------------------------------------===//

#include "Frontend.h"
#include "LayerImpl.h"

#include "llvm/ADT/STLFunctionalExtras.h"

#include <set>

using namespace mlir::ttt;

namespace tttc {

Descriptor::Descriptor(void *data, const std::vector<int64_t> &shape) {
  words.push_back(reinterpret_cast<int64_t>(data));
  words.push_back(reinterpret_cast<int64_t>(data));
  words.push_back(0);
  for (int64_t d : shape)
    words.push_back(d);
  std::vector<int64_t> strides(shape.size(), 1);
  for (int i = int(shape.size()) - 2; i >= 0; --i)
    strides[i] = strides[i + 1] * shape[i + 1];
  words.insert(words.end(), strides.begin(), strides.end());
}

std::vector<int64_t> extentsOf(const Descriptor &d) {
  size_t rank = (d.words.size() - 3) / 2;
  return std::vector<int64_t>(d.words.begin() + 3, d.words.begin() + 3 + rank);
}

const Tensor *findByName(const std::vector<Tensor> &ts, const std::string &n) {
  for (const Tensor &t : ts)
    if (t.name == n)
      return &t;
  return nullptr;
}

namespace {

bool checkNames(const std::vector<Tensor> &given, const std::vector<ArgInfo> &expected,
                const char *what, std::string &error) {
  std::set<std::string> seen;
  for (const Tensor &t : given) {
    if (!seen.insert(t.name).second) {
      error = std::string(what) + " '" + t.name + "' is given twice";
      return false;
    }
    bool known = false;
    for (const ArgInfo &a : expected)
      known |= a.name == t.name;
    if (!known) {
      error = std::string("unknown ") + what + " '" + t.name + "'; the layer's " + what +
              "s are:";
      for (const ArgInfo &a : expected)
        error += " " + a.name;
      return false;
    }
    if (!t.data) {
      error = std::string(what) + " '" + t.name + "' has no data";
      return false;
    }
  }
  return true;
}
/// Descriptors from `first` on are written while every one is read: none
/// may share a byte with another. `bytes(i)`: descriptor i's extent in
/// bytes; `name(i)`: how an error names it; `rule`: what the error adds.
bool checkWritesApart(const std::vector<Descriptor> &descs, size_t first,
                      llvm::function_ref<size_t(size_t)> bytes,
                      llvm::function_ref<std::string(size_t)> name, const char *rule,
                      std::string &error) {
  auto range = [&](size_t i) {
    auto begin = uintptr_t(descs[i].words[1]);
    return std::make_pair(begin, begin + bytes(i));
  };
  for (size_t o = first; o < descs.size(); ++o) {
    auto [ob, oe] = range(o);
    for (size_t i = 0; i < o && ob != oe; ++i) {
      auto [ib, ie] = range(i);
      if (ib == ie || ie <= ob || oe <= ib)
        continue;
      error = name(o) + " overlaps " + name(i) + ": " + rule;
      return false;
    }
  }
  return true;
}
} // namespace

bool CompiledLayer::validateInputs(const std::vector<Tensor> &inputs, int64_t &B,
                                   int64_t &T, int64_t &H, std::vector<Descriptor> *descs,
                                   std::string &error) const {
  if (!checkNames(inputs, sig.inputs, "input", error))
    return false;
  // B, T, H from the first per-token vector input.
  B = -1, T = -1, H = -1;
  for (const ArgInfo &a : sig.inputs) {
    if (a.kind != ArgKind::TokenVector)
      continue;
    const Tensor *t = findByName(inputs, a.name);
    if (!t) {
      error = "missing input '" + a.name + "' (expected shape " +
              describeShape(a, sig.miniBatch) + ")";
      return false;
    }
    if (t->shape.size() != 4) {
      error = "input '" + a.name + "' has shape " + shapeStr(t->shape) + ", expected " +
              describeShape(a, sig.miniBatch);
      return false;
    }
    B = t->shape[0];
    T = t->shape[1];
    H = t->shape[2];
    break;
  }
  if (B < 0) {
    error = "the layer has no per-token vector input to take B, T, H from";
    return false;
  }
  if (B < 1 || H < 1 || T < 0) {
    error = "B and H must be at least 1 and T at least 0, got B=" + std::to_string(B) +
            " T=" + std::to_string(T) + " H=" + std::to_string(H);
    return false;
  }
  int64_t C = sig.miniBatch;
  static float dummy[1];
  for (const ArgInfo &a : sig.inputs) {
    const Tensor *t = findByName(inputs, a.name);
    std::vector<int64_t> want = shapeOf(a, B, T, H, C);
    if (!t) {
      if (!a.optional) {
        error = "missing input '" + a.name + "' (expected shape " +
                describeShape(a, C) + " = " + shapeStr(want) + ")";
        return false;
      }
      std::vector<int64_t> empty = want;
      if (a.kind == ArgKind::StateInit)
        empty.insert(empty.begin(), 0);
      else
        empty[0] = 0;
      if (descs)
        descs->emplace_back(dummy, empty);
      continue;
    }
    std::vector<int64_t> got = t->shape;
    if (a.kind == ArgKind::StateInit) {
      std::vector<int64_t> batched = shapeOf({a.name, ArgKind::StateFinal, a.inner}, B, T, H, C);
      if (got == want)
        got.insert(got.begin(), 1);
      else if (got == batched)
        ;
      else {
        error = "input '" + a.name + "' has shape " + shapeStr(t->shape) + ", expected " +
                shapeStr(want) + " or " + shapeStr(batched) + " (" + describeShape(a, C) + ")";
        return false;
      }
      if (descs)
        descs->emplace_back(t->data, got);
      continue;
    }
    if (got != want) {
      error = "input '" + a.name + "' has shape " + shapeStr(t->shape) + ", expected " +
              shapeStr(want) + " (" + describeShape(a, C) + ")";
      return false;
    }
    if (descs)
      descs->emplace_back(t->data, got);
  }
  return true;
}

bool CompiledLayer::validate(const std::vector<Tensor> &inputs,
                             const std::vector<Tensor> &outputs, int64_t &B, int64_t &T,
                             int64_t &H, std::vector<Descriptor> &descs,
                             std::string &error) const {
  int64_t C = sig.miniBatch;
  if (!validateInputs(inputs, B, T, H, &descs, error) ||
      !checkNames(outputs, sig.outputs, "output", error))
    return false;
  for (const ArgInfo &a : sig.outputs) {
    const Tensor *t = findByName(outputs, a.name);
    std::vector<int64_t> want = shapeOf(a, B, T, H, C);
    if (!t) {
      error = "missing output '" + a.name + "' (expected shape " + shapeStr(want) + ")";
      return false;
    }
    if (t->shape != want) {
      error = "output '" + a.name + "' has shape " + shapeStr(t->shape) + ", expected " +
              shapeStr(want) + " (" + describeShape(a, C) + ")";
      return false;
    }
    descs.emplace_back(t->data, want);
  }
  // Outputs are written while inputs are read (in another order than the
  // per-token one): an output may share no byte with an input or another
  // output, on the host or the device.
  size_t nIn = sig.inputs.size();
  return checkWritesApart(
      descs, nIn, [&](size_t i) { return bytesOf(descs[i], i); },
      [&](size_t i) { return (i < nIn ? "input '" : "output '") + argAt(i).name + "'"; },
      "outputs must not share memory with inputs or other outputs (no in-place updates)",
      error);
}

int64_t CompiledLayer::savedSlots(int64_t T) const {
  int64_t chunks = (T + chunk - 1) / chunk;
  int64_t n = impl->options.backwardCheckpoint;
  return (chunks + n - 1) / n;
}

namespace {
size_t elementsOf(const std::vector<int64_t> &shape) {
  size_t n = 1;
  for (int64_t d : shape)
    n *= size_t(d);
  return n;
}
} // namespace

size_t CompiledLayer::savedBytes(int64_t B, int64_t T, int64_t H) const {
  if (!hasBackward())
    return 0;
  size_t n = 0;
  for (const ArgInfo &s : sig.states)
    n += size_t(B) * size_t(H) * size_t(savedSlots(T)) * elementsOf(s.inner);
  return 4 * n;
}

bool CompiledLayer::savedDescriptors(const void *saved, size_t bytes, int64_t B, int64_t T,
                                     int64_t H, std::vector<Descriptor> &descs,
                                     std::string &error) const {
  size_t want = savedBytes(B, T, H);
  if (bytes != want) {
    error = "the saved states have " + std::to_string(bytes) + " bytes, expected " +
            std::to_string(want) + " (tttc_saved_bytes for B=" + std::to_string(B) +
            ", T=" + std::to_string(T) + ", H=" + std::to_string(H) + ")";
    return false;
  }
  if (!saved || uintptr_t(saved) % 4) {
    error = "the saved states' buffer is NULL or not 4-byte aligned";
    return false;
  }
  auto *p = static_cast<float *>(const_cast<void *>(saved));
  for (const ArgInfo &s : sig.states) {
    std::vector<int64_t> shape{B, H, savedSlots(T)};
    shape.insert(shape.end(), s.inner.begin(), s.inner.end());
    descs.emplace_back(p, shape);
    p += elementsOf(shape);
  }
  return true;
}

bool CompiledLayer::validateTrain(const std::vector<Tensor> &inputs,
                                  const std::vector<Tensor> &outputs, void *saved,
                                  size_t savedBytes, int64_t &B, int64_t &T, int64_t &H,
                                  std::vector<Descriptor> &descs, std::string &error) const {
  if (!validate(inputs, outputs, B, T, H, descs, error))
    return false;
  size_t first = descs.size();
  if (!savedDescriptors(saved, savedBytes, B, T, H, descs, error))
    return false;
  return checkWritesApart(
      descs, first,
      [&](size_t i) { return i < first ? bytesOf(descs[i], i) : 4 * elementsOf(extentsOf(descs[i])); },
      [&](size_t i) {
        return i < first ? (i < sig.inputs.size() ? "input '" : "output '") + argAt(i).name + "'"
                         : "the saved state '" + sig.states[i - first].name + "'";
      },
      "the saved states must not share memory with inputs or outputs", error);
}

bool CompiledLayer::validateBackward(const std::vector<Tensor> &inputs, const void *saved,
                                     size_t savedBytes, const std::vector<Tensor> &cotangents,
                                     const std::vector<Tensor> &grads, int64_t &B, int64_t &T,
                                     int64_t &H, std::vector<Descriptor> &descs,
                                     const std::function<void *(size_t)> &zeroed,
                                     std::string &error) const {
  int64_t C = sig.miniBatch;
  if (!validateInputs(inputs, B, T, H, &descs, error) ||
      !checkNames(cotangents, sig.outputs, "cotangent", error) ||
      !checkNames(grads, sig.inputs, "gradient", error))
    return false;
  std::vector<Descriptor> inDescs = descs;
  if (!savedDescriptors(saved, savedBytes, B, T, H, descs, error))
    return false;
  // Missing cotangents are zero; a missing gradient is computed into
  // scratch and dropped.
  bool outOfMemory = false;
  auto zeros = [&](const std::vector<int64_t> &shape, size_t elemBytes) {
    void *p = zeroed(std::max<size_t>(elemBytes * elementsOf(shape), 1));
    outOfMemory |= !p;
    return p;
  };
  for (const ArgInfo &a : sig.outputs) {
    const Tensor *t = findByName(cotangents, a.name);
    std::vector<int64_t> want = shapeOf(a, B, T, H, C);
    if (t && t->shape != want) {
      error = "cotangent '" + a.name + "' has shape " + shapeStr(t->shape) + ", expected " +
              shapeStr(want) + " (the shape of output '" + a.name + "')";
      return false;
    }
    descs.emplace_back(t ? t->data : zeros(want, elementBytes(a)), want);
  }
  for (size_t i = 0; i < sig.inputs.size(); ++i) {
    const ArgInfo &a = sig.inputs[i];
    const Tensor *in = findByName(inputs, a.name);
    const Tensor *g = findByName(grads, a.name);
    std::vector<int64_t> extents = extentsOf(inDescs[i]);
    if (g && !in) {
      error = "gradient '" + a.name + "' of an input that was not given (an omitted optional "
              "input has no gradient)";
      return false;
    }
    if (g && g->shape != in->shape) {
      error = "gradient '" + a.name + "' has shape " + shapeStr(g->shape) + ", expected " +
              shapeStr(in->shape) + " (the shape of input '" + a.name + "')";
      return false;
    }
    descs.emplace_back(g    ? g->data
                       : in ? zeros(extents, elementBytes(a))
                            : reinterpret_cast<void *>(inDescs[i].words[1]),
                       extents);
  }
  if (outOfMemory) {
    error = "cannot allocate the backward's scratch buffers";
    return false;
  }
  // Gradients are written while inputs, saved states and cotangents are
  // read.
  size_t nIn = sig.inputs.size(), nSaved = sig.states.size();
  size_t first = nIn + nSaved + sig.outputs.size();
  return checkWritesApart(
      descs, first, [&](size_t i) { return backwardBytesOf(descs, i); },
      [&](size_t i) {
        return i < nIn            ? "input '" + sig.inputs[i].name + "'"
               : i < nIn + nSaved ? "the saved state '" + sig.states[i - nIn].name + "'"
               : i < first        ? "cotangent '" + sig.outputs[i - nIn - nSaved].name + "'"
                                  : "gradient '" + sig.inputs[i - first].name + "'";
      },
      "gradients must not share memory with inputs, saved states, cotangents or other gradients",
      error);
}

size_t CompiledLayer::backwardBytesOf(const std::vector<Descriptor> &descs, size_t i) const {
  size_t nIn = sig.inputs.size(), nSaved = sig.states.size(), nOut = sig.outputs.size();
  size_t elem = i < nIn            ? elementBytes(sig.inputs[i])
                : i < nIn + nSaved ? 4
                : i < nIn + nSaved + nOut ? elementBytes(sig.outputs[i - nIn - nSaved])
                                          : elementBytes(sig.inputs[i - nIn - nSaved - nOut]);
  return elem * elementsOf(extentsOf(descs[i]));
}

const ArgInfo &CompiledLayer::argAt(size_t i) const {
  return i < sig.inputs.size() ? sig.inputs[i] : sig.outputs[i - sig.inputs.size()];
}

size_t CompiledLayer::bytesOf(const Descriptor &d, size_t i) const {
  size_t bytes = elementBytes(argAt(i));
  for (int64_t e : extentsOf(d))
    bytes *= size_t(e);
  return bytes;
}

} // namespace tttc
