//===- Signature.h - the calling convention of a compiled layer -*- C++ -*-===//
//
// A compiled layer is a function of its inputs, in declaration order, then
// its outputs (destinations), in order: readouts, then the final value of
// every state that names one. B, T and H are dynamic; the head dimension D
// and the mini-batch size C are fixed at compile time.
//
//===----------------------------------------------------------------------===//
#ifndef TTTC_DIALECT_SIGNATURE_H
#define TTTC_DIALECT_SIGNATURE_H

#include <cstdint>
#include <string>
#include <vector>

namespace mlir::ttt {
class LayerOp;

enum class ArgKind {
  TokenVector,    // [B, T, H, n]
  TokenScalar,    // [B, T, H]
  PositionScalar, // [C], or omitted (the spec's default)
  ParamVector,    // [H, n]
  ParamScalar,    // [H]
  StateInit,      // [H, ...] or [B, H, ...]; omitted if optional
  Readout,        // [B, T, H, n]
  StateFinal,     // [B, H, ...]
};

struct ArgInfo {
  std::string name;
  ArgKind kind;
  /// Trailing dimensions (n for vectors; rows, cols for matrices).
  std::vector<int64_t> inner;
  /// Whether the caller may omit this input.
  bool optional = false;
};

struct LayerSignature {
  std::string name;
  int64_t headDim = 0, miniBatch = 0;
  std::vector<ArgInfo> inputs, outputs;
  /// Every state, in declaration order (name, trailing dimensions): what a
  /// training forward saves for the backward, per state [B, H, S, ...].
  std::vector<ArgInfo> states;
  /// Per state: the index of its initial value in `inputs` and of its final
  /// value in `outputs` (-1: the spec names none).
  std::vector<int> stateInit, stateFinal;
};

/// The entry points ttt-lower-layer-to-func emits: `<layer>`, and with the
/// backward `<layer>_forward_train` and `<layer>_backward`, and with decode
/// `<layer>_resume`.
enum class EntryPoint { Forward, Train, Backward, Resume };

/// One argument of an entry point.
struct EntryArg {
  /// As the generated header spells it: "q", "saved_w", "cotangent_out",
  /// "grad_q", "final_w".
  std::string name;
  const ArgInfo *arg;
  /// A saved state ([B, H, S, ...]) or a state's value ([B, H, ...]) rather
  /// than `arg` itself.
  enum Role { Value, Saved, State } role = Value;
};

/// The arguments of entry point `e` of `sig`, in order.
std::vector<EntryArg> entryArguments(const LayerSignature &sig, EntryPoint e);

/// The calling convention of `layer` for the given D and C.
LayerSignature getLayerSignature(LayerOp layer, int64_t headDim, int64_t miniBatch);
/// A human-readable shape, e.g. "[B, T, H, 64]".
std::string describeShape(const ArgInfo &a, int64_t miniBatch);
} // namespace mlir::ttt

#endif
