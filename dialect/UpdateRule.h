//===- UpdateRule.h - the update-rule interface -----------------*- C++ -*-===//
//
// What ttt-dual-form asks of an update rule (TTTInterfaces.td): built-in
// rules and plugins' rules implement UpdateRuleOpInterface.
//
//===----------------------------------------------------------------------===//
#ifndef TTTC_DIALECT_UPDATERULE_H
#define TTTC_DIALECT_UPDATERULE_H

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpDefinition.h"
#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/ADT/SmallVector.h"

namespace mlir::ttt {

/// How the chunked form computes a state's update (UpdateRuleOpInterface).
enum class UpdatePath {
  DualForm,     // composes into the dual form's coefficient matrices
  TokenByToken, // exact per token, one token per chunk step, materialised
  ChunkEnd,     // once per chunk from its first state's gradient, materialised
};

/// What `buildMaterializedUpdate` gets, at chunk level (C tokens, C = 1 on
/// the token-by-token path; tensors as in TTTOps.td).
struct MaterializedStep {
  Location loc;
  /// The updated state and the auxiliary states at the chunk's start:
  /// [m D, n D] for a matrix, [1, m D] for a vector.
  Value state;
  SmallVector<Value> auxiliary;
  /// The loss's gradient with respect to the state at the chunk's start,
  /// summed over the chunk's real tokens (padding rows excluded), in the
  /// state's shape.
  Value gradient;
  /// The step rule's learning rates per token, [C, 1], 0 on padding rows;
  /// and the chunk's number of real tokens as an f32 [1, 1].
  Value learningRate, validTokens;
  /// The chunk-level value of a layer-level value the rule names (a
  /// per-token f32 becomes [C, 1]; a constant stays f32); null if none.
  llvm::function_ref<Value(Value)> lookup;
};

} // namespace mlir::ttt

#include "dialect/TTTInterfaces.h.inc"

#endif
