//===- NormalizedStep.td - a per-element normalised step, out of tree -----===//
//
// The `nstep` dialect: one update rule, `nstep.normalized`, that tttc's
// built-in building blocks (ttt.gd, ttt.decay, ttt.momentum) cannot express:
// a step divided element by element by the root of a running mean of the
// squared gradient (RMSprop-like), exact per token:
//   g_t = dL_t/dW (W_{t-1})
//   v_t = b2 v_{t-1} + (1 - b2) g_t o g_t
//   W_t = W_{t-1} - lr_t g_t / (sqrt(v_t) + eps)
// lr_t is the step rule's (ttt.gd lr(...)). It implements tttc's
// UpdateRuleOpInterface: no dual form, token-by-token path.
//
//===----------------------------------------------------------------------===//

#ifndef NSTEP_TD
#define NSTEP_TD

include "mlir/IR/OpBase.td"
include "dialect/TTTInterfaces.td"

def NStep_Dialect : Dialect {
  let name = "nstep";
  let summary = "a per-element normalised update rule for tttc (an example plugin)";
  let cppNamespace = "::nstep";
}

def NStep_NormalizedOp : Op<NStep_Dialect, "normalized", [
    HasParent<"::mlir::ttt::LayerOp">, AllTypesMatch<["state", "moment"]>,
    DeclareOpInterfaceMethods<TTT_UpdateRuleOpInterface,
        ["getUpdatedState", "getAuxiliaryStates", "getUpdatePath",
         "buildMaterializedUpdate"]>]> {
  let summary = "W -= lr g / (sqrt(v) + eps), v = b2 v + (1 - b2) g o g, per token";
  let description = [{
    `state` is the trained ttt.state (a matrix or a vector), `moment` a
    ttt.state of the same type holding v (its own init, e.g. optional, zeros
    by default), `beta2` a layer-level f32 (a constant or a per-token input).

    With `chunk_end` the step is taken once per mini-batch of C tokens, from
    the sum G of their gradients at the mini-batch's first state and their
    mean learning rate: v = b2 v + (1 - b2) G o G, W -= mean(lr) G /
    (sqrt(v) + eps) (the chunk-end path; readouts read W from before the
    mini-batch). Without it the rule is exact per token (mini-batch 1).
  }];
  let arguments = (ins AnyType:$state, AnyType:$moment, F32:$beta2, F32Attr:$eps,
                       UnitAttr:$chunk_end);
  let assemblyFormat = "$state `,` $moment `,` $beta2 attr-dict `:` type($state)";
  let hasVerifier = 1;
}

#endif
