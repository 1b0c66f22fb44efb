//===- TTTInterfaces.td - what ttt-dual-form asks of an update rule -------===//
//
// An update rule is an op directly in a `ttt.layer` that says how the
// states move from token to token: the step (`ttt.gd`: the gradient times a
// learning rate), and per state what shapes it (`ttt.decay`: retention,
// `ttt.momentum`: a buffer the step goes through, or a rule of a plugin's
// own dialect). `ttt-dual-form` reads every rule through this interface and
// never by op kind. A rule either composes into the dual form's coefficient
// matrices (a learning rate, a reader-side scale, a retention factor, a
// momentum decay: the building blocks the built-ins provide), or it builds
// the state's new value itself from the gradient materialised as a matrix
// (`buildMaterializedUpdate`): token by token, or once at the chunk's end.
// See docs/extending.md.
//
//===----------------------------------------------------------------------===//

#ifndef TTT_INTERFACES_TD
#define TTT_INTERFACES_TD

include "mlir/IR/OpBase.td"

def TTT_UpdateRuleOpInterface : OpInterface<"UpdateRuleOpInterface"> {
  let cppNamespace = "::mlir::ttt";
  let description = [{
    An op in a `ttt.layer` that defines part of the inner loop's update.
    With no updated state (`getUpdatedState` null) it is the layer's step
    rule, applied to every trained state (one per layer: `ttt.gd`);
    otherwise it shapes the update of that one state, and `getUpdatePath`
    says how the chunked form computes it:
      * `DualForm`: the rule composes into the mini-batch dual form through
        the coefficient methods below (retention factor, momentum);
      * `TokenByToken`: an exact per-token rule with no dual form: every
        chunk step holds one token (the layer needs mini-batch 1) and the
        state's new value comes from `buildMaterializedUpdate`;
      * `ChunkEnd`: the chunk's gradient at its first state, materialised,
        turns into the new state once at the chunk's end
        (`buildMaterializedUpdate`); readouts of the state must read it from
        before the chunk (`before_update`) unless the chunk is one token.
    The values a rule names (factors, learning rates) are layer-level
    per-token values; `ttt-dual-form` maps them to their chunk-level form.
  }];
  let methods = [
    InterfaceMethod<[{The state whose update this rule shapes; null for the
        step rule, which applies to every trained state.}],
      "::mlir::Value", "getUpdatedState", (ins), "", [{ return {}; }]>,
    InterfaceMethod<[{States the rule owns besides the one it updates (a
        momentum buffer, a second moment): carried from chunk to chunk, not
        trained by the gradient, not readable by readouts.}],
      "::llvm::SmallVector<::mlir::Value>", "getAuxiliaryStates", (ins), "",
      [{ return {}; }]>,
    InterfaceMethod<[{How the chunked form computes the updated state.}],
      "::mlir::ttt::UpdatePath", "getUpdatePath", (ins), "",
      [{ return ::mlir::ttt::UpdatePath::DualForm; }]>,

    // The step rule's building blocks.
    InterfaceMethod<[{The step rule: the per-token learning rate lr_j of
        the writing token (null: 1).}],
      "::mlir::Value", "getLearningRate", (ins), "", [{ return {}; }]>,
    InterfaceMethod<[{The step rule: a per-position scale of the reading
        token (null: 1).}],
      "::mlir::Value", "getReaderScale", (ins), "", [{ return {}; }]>,

    // The dual-form building blocks of a per-state rule.
    InterfaceMethod<[{Retention: the per-token factor f_t of
        W_t = f_t W_{t-1} + update (null: none).}],
      "::mlir::Value", "getRetentionFactor", (ins), "", [{ return {}; }]>,
    InterfaceMethod<[{Retention applied before the gradient is taken (an
        exact per-token rule) rather than beside the update.}],
      "bool", "isRetentionBeforeGradient", (ins), "", [{ return false; }]>,
    InterfaceMethod<[{Momentum: the buffer S (a state of the updated
        state's type) with S_t = eta_t S_{t-1} + step_t, the state receiving
        S_t (null: none).}],
      "::mlir::Value", "getMomentumBuffer", (ins), "", [{ return {}; }]>,
    InterfaceMethod<[{Momentum: the per-token decay eta_t.}],
      "::mlir::Value", "getMomentumDecay", (ins), "", [{ return {}; }]>,

    // A rule with no dual form.
    InterfaceMethod<[{For `TokenByToken` and `ChunkEnd` rules: builds, at
        chunk level (ttt primitives on tensors), the state's new value and
        then the new value of each auxiliary state, in order, from `step`
        (the state and auxiliary states at the chunk's start, the chunk's
        gradient, the learning rates, the chunk-level form of any
        layer-level value).}],
      "::mlir::FailureOr<::llvm::SmallVector<::mlir::Value>>",
      "buildMaterializedUpdate",
      (ins "::mlir::OpBuilder &":$b, "const ::mlir::ttt::MaterializedStep &":$step), "",
      [{ return $_op->emitOpError("has no materialised update"); }]>,
  ];
}

#endif
