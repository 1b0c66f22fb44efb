//===- Decode.cpp - advancing a layer's state a few tokens at a time ------===//

#include "Decode.h"
#include "Frontend.h"
#include "LayerImpl.h"

#include <cstring>

using namespace mlir::ttt;

namespace tttc {
namespace {

/// The first 64 bytes of a decoder state.
struct Header {
  char magic[8];
  int64_t B, H, C;
  int64_t pending;  // tokens of the unfinished chunk, < C
  int64_t position; // tokens seen
  uint64_t layout;  // which layer's states these are
  int64_t reserved;
};
static_assert(sizeof(Header) == 64);
constexpr char kMagic[8] = {'t', 't', 't', 'c', 'd', 'e', 'c', '1'};

int64_t elements(const std::vector<int64_t> &s, size_t from = 0) {
  int64_t n = 1;
  for (size_t i = from; i < s.size(); ++i)
    n *= s[i];
  return n;
}

bool perToken(const ArgInfo &a) {
  return a.kind == ArgKind::TokenVector || a.kind == ArgKind::TokenScalar;
}

/// Tokens per chunk step: what the lowering recorded (cpu, cuda-emu).
int64_t chunkOf(const CompiledLayer &l) { return l.chunkSize(); }

/// A fingerprint of what the state's layout depends on: the layer's name,
/// D, C, I/O type and its states' and per-token inputs' shapes.
uint64_t layoutOf(const CompiledLayer &l) {
  const LayerSignature &sig = l.signature();
  std::string s = sig.name + "/" + std::to_string(sig.headDim) + "/" +
                  std::to_string(chunkOf(l)) + "/" + l.ioType();
  for (const ArgInfo &a : sig.states)
    s += "/" + a.name + shapeStr(a.inner);
  for (const ArgInfo &a : sig.inputs)
    if (perToken(a))
      s += "/" + a.name + shapeStr(a.inner);
  uint64_t h = 1469598103934665603ull; // FNV-1a
  for (unsigned char c : s)
    h = (h ^ c) * 1099511628211ull;
  return h;
}

/// The sections after the header: every state [B, H, ...] float32, then per
/// per-token input [B, C, H, ...] in the I/O type.
struct Section {
  size_t offset;
  std::vector<int64_t> shape;
  size_t elemBytes;
  size_t bytes() const { return size_t(elements(shape)) * elemBytes; }
};
std::vector<Section> sectionsOf(const CompiledLayer &l, int64_t B, int64_t H) {
  const LayerSignature &sig = l.signature();
  std::vector<Section> r;
  size_t at = sizeof(Header);
  for (const ArgInfo &a : sig.states) {
    std::vector<int64_t> shape{B, H};
    shape.insert(shape.end(), a.inner.begin(), a.inner.end());
    r.push_back({at, shape, 4});
    at += r.back().bytes();
  }
  for (const ArgInfo &a : sig.inputs)
    if (perToken(a)) {
      std::vector<int64_t> shape{B, chunkOf(l), H};
      shape.insert(shape.end(), a.inner.begin(), a.inner.end());
      r.push_back({at, shape, l.elementBytes(a)});
      // Keep the next section 4-byte aligned.
      at += (r.back().bytes() + 3) & ~size_t(3);
    }
  return r;
}
size_t totalBytes(const std::vector<Section> &s) {
  if (s.empty())
    return sizeof(Header);
  return (s.back().offset + s.back().bytes() + 3) & ~size_t(3);
}

bool checkState(const CompiledLayer &l, const void *state, size_t bytes, std::string &error) {
  if (!l.hasResume()) {
    error = "the layer was compiled without its decode step (pipeline option 'decode')";
    return false;
  }
  if (!state || uintptr_t(state) % 8 || bytes < sizeof(Header)) {
    error = "the decoder state is NULL, not 8-byte aligned or smaller than its header";
    return false;
  }
  return true;
}

/// `what`'s bytes [p, p + n) apart from every range in `taken`; adds it.
bool apart(std::vector<std::pair<uintptr_t, uintptr_t>> &taken, const void *p, size_t n,
           const std::string &what, std::string &error) {
  auto b = uintptr_t(p), e = b + n;
  for (auto [tb, te] : taken)
    if (b != e && tb != te && b < te && tb < e) {
      error = what + " shares memory with an input, the decoder state or another output";
      return false;
    }
  taken.push_back({b, e});
  return true;
}

} // namespace

size_t decodeStateBytes(const CompiledLayer &l, int64_t B, int64_t H) {
  if (!l.hasResume() || B < 1 || H < 1)
    return 0;
  return totalBytes(sectionsOf(l, B, H));
}

int64_t decodePosition(const void *state, size_t bytes) {
  if (!state || bytes < sizeof(Header))
    return -1;
  const auto *h = static_cast<const Header *>(state);
  return std::memcmp(h->magic, kMagic, 8) ? -1 : h->position;
}

bool decodeInit(const CompiledLayer &l, const std::vector<Tensor> &inits, int64_t B, int64_t H,
                void *state, size_t bytes, std::string &error) {
  if (!checkState(l, state, bytes, error))
    return false;
  if (B < 1 || H < 1) {
    error = "a decoder needs B and H of at least 1, got B=" + std::to_string(B) +
            " H=" + std::to_string(H);
    return false;
  }
  const LayerSignature &sig = l.signature();
  std::vector<Section> secs = sectionsOf(l, B, H);
  if (bytes != totalBytes(secs)) {
    error = "the decoder state has " + std::to_string(bytes) + " bytes, expected " +
            std::to_string(totalBytes(secs)) + " (tttc_decode_state_bytes for B=" +
            std::to_string(B) + ", H=" + std::to_string(H) + ")";
    return false;
  }
  for (const Tensor &t : inits) {
    bool known = false;
    for (int i : sig.stateInit)
      known |= i >= 0 && sig.inputs[i].name == t.name;
    if (!known) {
      error = "'" + t.name + "' is not an initial state of the layer; its initial states are:";
      for (int i : sig.stateInit)
        if (i >= 0)
          error += " " + sig.inputs[i].name;
      return false;
    }
    if (!t.data) {
      error = "initial state '" + t.name + "' has no data";
      return false;
    }
  }
  auto *base = static_cast<char *>(state);
  for (size_t s = 0; s < sig.states.size(); ++s) {
    float *dst = reinterpret_cast<float *>(base + secs[s].offset);
    size_t per = size_t(elements(secs[s].shape, 2)) * size_t(H); // one row
    const Tensor *t = sig.stateInit[s] >= 0 ? findByName(inits, sig.inputs[sig.stateInit[s]].name)
                                            : nullptr;
    if (!t) {
      if (sig.stateInit[s] >= 0 && !sig.inputs[sig.stateInit[s]].optional) {
        error = "missing initial state '" + sig.inputs[sig.stateInit[s]].name + "'";
        return false;
      }
      std::memset(dst, 0, secs[s].bytes());
      continue;
    }
    std::vector<int64_t> row(secs[s].shape.begin() + 1, secs[s].shape.end());
    std::vector<int64_t> one = row, all = secs[s].shape;
    one.insert(one.begin(), 1);
    if (t->shape == row || t->shape == one) {
      for (int64_t b = 0; b < B; ++b)
        std::memcpy(dst + b * per, t->data, per * 4);
    } else if (t->shape == all) {
      std::memcpy(dst, t->data, secs[s].bytes());
    } else {
      error = "initial state '" + t->name + "' has shape " + shapeStr(t->shape) + ", expected " +
              shapeStr(row) + " or " + shapeStr(all);
      return false;
    }
  }
  Header h{};
  std::memcpy(h.magic, kMagic, 8);
  h.B = B;
  h.H = H;
  h.C = chunkOf(l);
  h.layout = layoutOf(l);
  std::memcpy(state, &h, sizeof h);
  return true;
}

bool decodeStep(CompiledLayer &l, const std::vector<Tensor> &inputs, void *state, size_t bytes,
                const std::vector<Tensor> &outputs, std::string &error) {
  if (!checkState(l, state, bytes, error))
    return false;
  Header h;
  std::memcpy(&h, state, sizeof h);
  if (std::memcmp(h.magic, kMagic, 8)) {
    error = "the decoder state was not started (tttc_decode_init)";
    return false;
  }
  if (h.layout != layoutOf(l)) {
    error = "the decoder state belongs to another layer (or other options)";
    return false;
  }
  const LayerSignature &sig = l.signature();
  int64_t B = h.B, H = h.H, C = h.C, p = h.pending;
  std::vector<Section> secs = sectionsOf(l, B, H);
  if (bytes != totalBytes(secs) || p < 0 || p >= C) {
    error = "the decoder state is corrupt (its size or pending count does not match B=" +
            std::to_string(B) + ", H=" + std::to_string(H) + ")";
    return false;
  }

  // Inputs: the forward's, without initial states; n from the first
  // per-token vector.
  for (const Tensor &t : inputs) {
    const ArgInfo *a = nullptr;
    for (const ArgInfo &x : sig.inputs)
      if (x.name == t.name)
        a = &x;
    if (!a) {
      error = "unknown input '" + t.name + "'";
      return false;
    }
    if (a->kind == ArgKind::StateInit) {
      error = "initial state '" + t.name + "' is given to the decoder's start "
              "(tttc_decode_init), not to a step";
      return false;
    }
    if (!t.data) {
      error = "input '" + t.name + "' has no data";
      return false;
    }
    if (findByName(inputs, t.name) != &t) {
      error = "input '" + t.name + "' is given twice";
      return false;
    }
  }
  int64_t n = -1;
  for (const ArgInfo &a : sig.inputs)
    if (a.kind == ArgKind::TokenVector)
      if (const Tensor *t = findByName(inputs, a.name); t && t->shape.size() == 4) {
        n = t->shape[1];
        break;
      }
  if (n < 1) {
    error = "a decode step needs its per-token inputs as [B, n, H, ...] with n >= 1";
    return false;
  }
  std::vector<std::pair<uintptr_t, uintptr_t>> taken{
      {uintptr_t(state), uintptr_t(state) + bytes}};
  for (const ArgInfo &a : sig.inputs) {
    if (a.kind == ArgKind::StateInit)
      continue;
    const Tensor *t = findByName(inputs, a.name);
    std::vector<int64_t> want = CompiledLayer::shapeOf(a, B, n, H, sig.miniBatch);
    if (!t && a.optional)
      continue;
    if (!t || t->shape != want) {
      error = (t ? "input '" + a.name + "' has shape " + shapeStr(t->shape) + ", expected "
                 : "missing input '" + a.name + "' (expected shape ") +
              shapeStr(want) + (t ? "" : ")") + " (decoder of B=" + std::to_string(B) +
              ", H=" + std::to_string(H) + ", " + std::to_string(n) + " tokens)";
      return false;
    }
    taken.push_back({uintptr_t(t->data),
                     uintptr_t(t->data) + size_t(elements(want)) * l.elementBytes(a)});
  }
  for (const Tensor &t : outputs) {
    const ArgInfo *a = nullptr;
    for (const ArgInfo &x : sig.outputs)
      if (x.name == t.name)
        a = &x;
    if (!a) {
      error = "unknown output '" + t.name + "'";
      return false;
    }
    std::vector<int64_t> want = CompiledLayer::shapeOf(*a, B, n, H, sig.miniBatch);
    if (t.shape != want || !t.data) {
      error = "output '" + t.name + "' has shape " + shapeStr(t.shape) + ", expected " +
              shapeStr(want) + (t.data ? "" : " (and data)");
      return false;
    }
    if (!apart(taken, t.data, size_t(elements(want)) * l.elementBytes(*a),
               "output '" + t.name + "'", error))
      return false;
  }

  // Tokens [0, tot) of the unfinished chunk: pending ones, then the new
  // ones; [0, L) complete chunks, [L, tot) the new unfinished one.
  int64_t tot = p + n, L = tot / C * C, rem = tot - L;
  auto *base = static_cast<char *>(state);
  size_t nStates = sig.states.size();
  std::vector<const ArgInfo *> tokenArgs;
  for (const ArgInfo &a : sig.inputs)
    if (perToken(a))
      tokenArgs.push_back(&a);
  // Per call: token buffers, readouts, final states.
  struct Call {
    int64_t t0, len;
    std::vector<std::vector<uint8_t>> tokens, readouts;
    std::vector<std::vector<float>> finals;
  };
  std::vector<Call> calls;
  if (L > 0)
    calls.push_back({0, L, {}, {}, {}});
  if (rem > 0)
    calls.push_back({L, rem, {}, {}, {}});
  static float dummy[1];
  for (Call &c : calls) {
    // Gather the call's tokens.
    for (size_t k = 0; k < tokenArgs.size(); ++k) {
      const ArgInfo &a = *tokenArgs[k];
      const Section &pend = secs[nStates + k];
      size_t rowBytes = size_t(H) * size_t(elements(a.inner)) * l.elementBytes(a);
      const char *fresh = static_cast<const char *>(findByName(inputs, a.name)->data);
      std::vector<uint8_t> buf(std::max<size_t>(size_t(B * c.len) * rowBytes, 1));
      for (int64_t b = 0; b < B; ++b)
        for (int64_t j = 0; j < c.len; ++j) {
          int64_t t = c.t0 + j;
          const char *src = t < p ? base + pend.offset + (b * C + t) * rowBytes
                                  : fresh + (b * n + (t - p)) * rowBytes;
          std::memcpy(buf.data() + (b * c.len + j) * rowBytes, src, rowBytes);
        }
      c.tokens.push_back(std::move(buf));
    }
    std::vector<Descriptor> descs;
    size_t tk = 0;
    for (const ArgInfo &a : sig.inputs) {
      if (a.kind == ArgKind::StateInit)
        continue;
      std::vector<int64_t> shape = CompiledLayer::shapeOf(a, B, c.len, H, sig.miniBatch);
      if (perToken(a)) {
        descs.emplace_back(c.tokens[tk++].data(), shape);
        continue;
      }
      const Tensor *t = findByName(inputs, a.name);
      if (!t)
        shape[0] = 0; // an omitted optional input
      descs.emplace_back(t ? t->data : dummy, shape);
    }
    for (size_t s = 0; s < nStates; ++s)
      descs.emplace_back(base + secs[s].offset, secs[s].shape);
    for (const ArgInfo &a : sig.outputs) {
      if (a.kind != ArgKind::Readout)
        continue;
      std::vector<int64_t> shape = CompiledLayer::shapeOf(a, B, c.len, H, sig.miniBatch);
      c.readouts.emplace_back(std::max<size_t>(size_t(elements(shape)) * l.elementBytes(a), 1));
      descs.emplace_back(c.readouts.back().data(), shape);
    }
    for (size_t s = 0; s < nStates; ++s) {
      c.finals.emplace_back(std::max<size_t>(secs[s].bytes() / 4, 1));
      descs.emplace_back(c.finals.back().data(), secs[s].shape);
    }
    if (!l.runResume(descs, B, error))
      return false;
    if (c.len % C == 0) // complete chunks: the new chunk-start states
      for (size_t s = 0; s < nStates; ++s)
        std::memcpy(base + secs[s].offset, c.finals[s].data(), secs[s].bytes());
  }

  // Readout rows [p, tot), and the final states after the last call.
  size_t r = 0;
  for (const ArgInfo &a : sig.outputs) {
    if (a.kind != ArgKind::Readout)
      continue;
    size_t rowBytes = size_t(H) * size_t(elements(a.inner)) * l.elementBytes(a);
    if (const Tensor *t = findByName(outputs, a.name))
      for (const Call &c : calls)
        for (int64_t b = 0; b < B; ++b)
          for (int64_t j = std::max(c.t0, p); j < c.t0 + c.len; ++j)
            std::memcpy(static_cast<char *>(t->data) + (b * n + (j - p)) * rowBytes,
                        c.readouts[r].data() + (b * c.len + (j - c.t0)) * rowBytes, rowBytes);
    ++r;
  }
  for (size_t s = 0; s < nStates; ++s)
    if (sig.stateFinal[s] >= 0)
      if (const Tensor *t = findByName(outputs, sig.outputs[sig.stateFinal[s]].name))
        std::memcpy(t->data, calls.back().finals[s].data(), secs[s].bytes());
  // The unfinished chunk's tokens stay pending.
  for (size_t k = 0; k < tokenArgs.size(); ++k) {
    const Section &pend = secs[nStates + k];
    size_t rowBytes = size_t(H) * size_t(elements(tokenArgs[k]->inner)) *
                      l.elementBytes(*tokenArgs[k]);
    if (rem > 0)
      for (int64_t b = 0; b < B; ++b)
        std::memcpy(base + pend.offset + b * C * rowBytes,
                    calls.back().tokens[k].data() + b * rem * rowBytes, rem * rowBytes);
  }
  h.pending = rem;
  h.position += n;
  std::memcpy(state, &h, sizeof h);
  return true;
}

} // namespace tttc
