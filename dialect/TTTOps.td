//===- TTTOps.td - the ttt dialect: test-time-training layer specs -------===//
//
// A `ttt.layer` declares the inner loop of one test-time-training layer:
// per-token input streams, per-head parameters, fast-weight states, the
// hidden-state model, the self-supervised loss, the update rule and the
// readout. Everything the compiler knows is a primitive op below; no op
// names a variant.
//
// The primitive ops are used at two levels:
//  * spec level, one token at a time: scalars are `f32`, vectors are
//    `!ttt.vec<m>` (length m*D) and fast-weight matrices `!ttt.mat<m, n>`;
//  * chunk level (after `ttt-dual-form`), one mini-batch at a time on
//    ranked tensors with numpy-style broadcasting: a per-token scalar is
//    tensor<Cx1xf32>, a per-token vector tensor<Cx(mD)xf32>, a per-head
//    vector tensor<1x(mD)xf32>, a matrix tensor<(mD)x(nD)xf32>.
//
//===----------------------------------------------------------------------===//

#ifndef TTT_OPS_TD
#define TTT_OPS_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/SymbolInterfaces.td"
include "mlir/IR/RegionKindInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/ControlFlowInterfaces.td"
include "dialect/TTTInterfaces.td"

//===----------------------------------------------------------------------===//
// Dialect
//===----------------------------------------------------------------------===//

def TTT_Dialect : Dialect {
  let name = "ttt";
  let cppNamespace = "::mlir::ttt";
  let summary = "Test-time-training layer specifications";
  let description = [{
    Declarative specifications of test-time-training layers (a memory model
    trained by a few gradient steps while it reads) and the chunk-level IR
    that the dual-form pass produces from them.
  }];
  let useDefaultTypePrinterParser = 1;
  let dependentDialects = ["::mlir::tensor::TensorDialect"];
}

//===----------------------------------------------------------------------===//
// Types
//===----------------------------------------------------------------------===//

class TTT_Type<string name, string typeMnemonic> : TypeDef<TTT_Dialect, name> {
  let mnemonic = typeMnemonic;
}

def TTT_VecType : TTT_Type<"Vec", "vec"> {
  let summary = "a row vector of length mult * D (D: the head dimension)";
  let parameters = (ins "unsigned":$mult);
  let assemblyFormat = "`<` $mult `>`";
  let genVerifyDecl = 1;
}

def TTT_MatType : TTT_Type<"Mat", "mat"> {
  let summary = "a (rows * D) x (cols * D) fast-weight matrix";
  let parameters = (ins "unsigned":$rows, "unsigned":$cols);
  let assemblyFormat = "`<` $rows `,` $cols `>`";
  let genVerifyDecl = 1;
}

// A value the primitive ops accept: spec-level (f32, vec, mat) or a
// chunk-level ranked f32 tensor.
def TTT_Value : AnyTypeOf<[F32, TTT_VecType, TTT_MatType,
                           RankedTensorOf<[F32]>]>;

//===----------------------------------------------------------------------===//
// Base classes
//===----------------------------------------------------------------------===//

class TTT_Op<string mnemonic, list<Trait> traits = []>
    : Op<TTT_Dialect, mnemonic, traits>;

//===----------------------------------------------------------------------===//
// The layer and its declarations
//===----------------------------------------------------------------------===//

def TTT_LayerOp : TTT_Op<"layer", [Symbol, SymbolTable, NoTerminator,
    SingleBlock, IsolatedFromAbove, GraphRegionNoTerminator]> {
  let summary = "one test-time-training layer";
  let description = [{
    The body declares, in order, the layer's inputs (`ttt.input`,
    `ttt.position_input`, `ttt.param`), its fast-weight states
    (`ttt.state`), per-token preprocessing of inputs (primitive ops), the
    memory model (`ttt.model`), the loss (`ttt.loss`), the update rule
    (`ttt.gd`) and one or more readouts (`ttt.readout`).

    `mini_batch` is the number of tokens whose gradients are taken at the
    same (the mini-batch's first) state. After `ttt-dual-form` the layer
    also carries `head_dim`, `chunk_size` (tokens per chunk step: the
    mini-batch, or more where that is exact) and the body holds one
    `ttt.chunk_step`.
  }];
  let arguments = (ins SymbolNameAttr:$sym_name,
                       ConfinedAttr<I64Attr, [IntPositive]>:$mini_batch,
                       OptionalAttr<I64Attr>:$head_dim,
                       OptionalAttr<I64Attr>:$chunk_size);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = "$sym_name attr-dict-with-keyword $body";
  let hasVerifier = 1;
  let hasRegionVerifier = 1;
  let extraClassDeclaration = [{
    ::mlir::Block &getBodyBlock() { return getBody().front(); }
  }];
}

def TTT_InputOp : TTT_Op<"input", [HasParent<"LayerOp">]> {
  let summary = "a per-token input stream";
  let description = [{
    `f32`: a per-token gate, laid out [B, T, H]. `!ttt.vec<m>`: a per-token
    activation, laid out [B, T, H, m*D].
  }];
  let arguments = (ins StrAttr:$name);
  let results = (outs AnyTypeOf<[F32, TTT_VecType, RankedTensorOf<[F32]>]>:$result);
  let assemblyFormat = "$name attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def TTT_PositionInputOp : TTT_Op<"position_input", [HasParent<"LayerOp">, 
    SingleBlockImplicitTerminator<"YieldOp">]> {
  let summary = "a per-position scalar of the mini-batch, overridable";
  let description = [{
    A scalar that depends on the position i = 0..C-1 inside the mini-batch
    (laid out [C]). The region computes the default from the position
    (its f32 block argument); a caller may supply the values instead.
  }];
  let arguments = (ins StrAttr:$name);
  let results = (outs F32:$result);
  let regions = (region SizedRegion<1>:$default_body);
  let assemblyFormat = "$name `default` $default_body attr-dict `:` type($result)";
  let hasRegionVerifier = 1;
}

def TTT_ParamOp : TTT_Op<"param", [HasParent<"LayerOp">]> {
  let summary = "a per-head outer-loop parameter: a vector [H, m*D] or a scalar [H]";
  let arguments = (ins StrAttr:$name);
  let results = (outs AnyTypeOf<[F32, TTT_VecType]>:$result);
  let assemblyFormat = "$name attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def TTT_StateOp : TTT_Op<"state", [HasParent<"LayerOp">]> {
  let summary = "a fast-weight state";
  let description = [{
    A state trained at test time. Its initial value is the input named by
    `init`, laid out [H, ...] (shared by the batch) or [B, H, ...]; without
    `init`, or when `init` is `optional` and not supplied, it starts at zero.
    Its final value is the output named by `final`, laid out [B, H, ...].
  }];
  let arguments = (ins StrAttr:$name, OptionalAttr<StrAttr>:$init,
                       UnitAttr:$init_optional, OptionalAttr<StrAttr>:$final);
  let results = (outs AnyTypeOf<[TTT_VecType, TTT_MatType]>:$result);
  let assemblyFormat = [{
    $name (`init` $init^ (`optional` $init_optional^)?)? (`final` $final^)?
    attr-dict `:` type($result)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Model, loss, update rule, readout
//===----------------------------------------------------------------------===//

def TTT_ModelOp : TTT_Op<"model", [HasParent<"LayerOp">, SingleBlockImplicitTerminator<"YieldOp">]> {
  let summary = "the memory model: a function of one vector and the states";
  let description = [{
    The region's one block argument is the model's input; the states are
    used by capturing the `ttt.state` values. `ttt.call_model` applies it.
  }];
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = "$body attr-dict";
  let hasRegionVerifier = 1;
}

def TTT_CallModelOp : TTT_Op<"call_model", [Pure]> {
  let summary = "apply the layer's memory model";
  let description = [{
    Inside `ttt.loss` the model sees the anchor state (the mini-batch's first
    state); inside `ttt.readout` it sees the updated per-token state.
  }];
  let arguments = (ins TTT_VecType:$input);
  let results = (outs TTT_VecType:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
}

def TTT_LossOp : TTT_Op<"loss", [HasParent<"LayerOp">, SingleBlockImplicitTerminator<"YieldOp">]> {
  let summary = "the per-token self-supervised loss (yields one f32)";
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = "$body attr-dict";
  let hasRegionVerifier = 1;
}

def TTT_GradientOp : TTT_Op<"gradient", [HasParent<"LayerOp">, SingleBlockImplicitTerminator<"YieldOp">]> {
  let summary = "per-token gradients of the loss w.r.t. the states, factored";
  let description = [{
    Produced by `ttt-inner-autodiff` from `ttt.loss`: the forward pass at the
    anchor state, the reverse pass, and one `ttt.outer_grad` (matrix state:
    dW += x^T g) or `ttt.vec_grad` (vector state: db += g) per use of a state.
  }];
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = "$body attr-dict";
}

def TTT_OuterGradOp : TTT_Op<"outer_grad", [HasParent<"GradientOp">]> {
  let summary = "a matrix state's per-token gradient term x^T g";
  let arguments = (ins TTT_MatType:$state, TTT_VecType:$x, TTT_VecType:$g);
  let assemblyFormat = "$state `,` $x `,` $g attr-dict `:` type($state) `,` type($x) `,` type($g)";
  let hasVerifier = 1;
}

def TTT_VecGradOp : TTT_Op<"vec_grad", [HasParent<"GradientOp">]> {
  let summary = "a vector state's per-token gradient term g";
  let arguments = (ins TTT_VecType:$state, TTT_VecType:$g);
  let assemblyFormat = "$state `,` $g attr-dict `:` type($state) `,` type($g)";
  let hasVerifier = 1;
}

def TTT_GDOp : TTT_Op<"gd", [HasParent<"LayerOp">, AttrSizedOperandSegments,
    DeclareOpInterfaceMethods<TTT_UpdateRuleOpInterface,
                              ["getLearningRate", "getReaderScale"]>]> {
  let summary = "mini-batch gradient descent";
  let description = [{
    Token i of a mini-batch reads the state
    W_i = W_0 - sum_{j <= i} scale_i * lr_j * grad_j(W_0),
    where W_0 is the mini-batch's first state, `lr` a per-token value of the
    writing token j and `scale` a per-position value of the reading token i
    (each 1 when absent). The next mini-batch starts from its last token's
    state.
  }];
  let arguments = (ins Optional<F32>:$lr, Optional<F32>:$scale);
  let assemblyFormat = "(`lr` `(` $lr^ `)`)? (`scale` `(` $scale^ `)`)? attr-dict";
  let hasVerifier = 1;
}

def TTT_DecayOp : TTT_Op<"decay", [HasParent<"LayerOp">,
    DeclareOpInterfaceMethods<TTT_UpdateRuleOpInterface,
                              ["getUpdatedState", "getRetentionFactor",
                               "isRetentionBeforeGradient"]>]> {
  let summary = "multiplicative retention of a state: W_t = f_t W_{t-1} + update";
  let description = [{
    `factor` is a per-token value (e.g. 1 - alpha_t). Without `pre_gradient`
    the gradient is taken at the anchor state as usual (forgetting); with it,
    at the decayed state (retention before an exact per-token step).
  }];
  let arguments = (ins AnyTypeOf<[TTT_VecType, TTT_MatType]>:$state, F32:$factor,
                       UnitAttr:$pre_gradient);
  let assemblyFormat = "$state `,` $factor attr-dict `:` type($state)";
}

def TTT_MomentumOp : TTT_Op<"momentum", [HasParent<"LayerOp">, AllTypesMatch<["state", "buffer"]>,
    DeclareOpInterfaceMethods<TTT_UpdateRuleOpInterface,
                              ["getUpdatedState", "getAuxiliaryStates",
                               "getMomentumBuffer", "getMomentumDecay"]>]> {
  let summary = "route a state's update through a momentum buffer";
  let description = [{
    S_t = decay_t S_{t-1} + step_t, and the state receives S_t instead of
    step_t, where step_t is what the update rule (ttt.gd) would add.
    `buffer` is a `ttt.state` of the same type as `state`.
  }];
  let arguments = (ins AnyTypeOf<[TTT_VecType, TTT_MatType]>:$state,
                       AnyTypeOf<[TTT_VecType, TTT_MatType]>:$buffer, F32:$decay);
  let assemblyFormat = "$state `,` $buffer `,` $decay attr-dict `:` type($state)";
  let hasVerifier = 1;
}

def TTT_ReadoutOp : TTT_Op<"readout", [HasParent<"LayerOp">, SingleBlockImplicitTerminator<"YieldOp">]> {
  let summary = "a per-token output [B, T, H, m*D] computed with the updated state";
  let description = [{
    By default token i reads the state after its own update (per-token
    weights). With `before_update`, every token of a mini-batch (segment)
    reads the state from before the segment.
  }];
  let arguments = (ins StrAttr:$name, UnitAttr:$before_update);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = "$name (`before_update` $before_update^)? $body attr-dict";
  let hasRegionVerifier = 1;
}

def TTT_YieldOp : TTT_Op<"yield", [Pure, Terminator, ReturnLike]> {
  let summary = "terminates ttt regions";
  let arguments = (ins Variadic<AnyType>:$values);
  let builders = [OpBuilder<(ins), [{ }]>];
  let assemblyFormat = "attr-dict ($values^ `:` type($values))?";
}

//===----------------------------------------------------------------------===//
// Primitive ops
//===----------------------------------------------------------------------===//

def TTT_ConstantOp : TTT_Op<"constant", [Pure, ConstantLike]> {
  let summary = "an f32 constant";
  let arguments = (ins F32Attr:$value);
  let results = (outs F32:$result);
  let assemblyFormat = "$value attr-dict";
  let hasFolder = 1;
}

def TTT_DimSizeOp : TTT_Op<"dim_size", [Pure]> {
  let summary = "the length of a vector, as an f32 (known once D is)";
  let arguments = (ins TTT_Value:$input);
  let results = (outs F32:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
}

class TTT_BinaryOp<string mnemonic> : TTT_Op<mnemonic, [Pure,
    DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = "elementwise " # mnemonic # " with broadcasting";
  let description = [{
    Spec level: f32 and vectors of the same length, a scalar broadcast to a
    vector. Chunk level: numpy broadcasting of ranked tensors.
  }];
  let arguments = (ins TTT_Value:$lhs, TTT_Value:$rhs);
  let results = (outs TTT_Value:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` type($lhs) `,` type($rhs)";
}

def TTT_AddOp : TTT_BinaryOp<"add">;
def TTT_SubOp : TTT_BinaryOp<"sub">;
def TTT_MulOp : TTT_BinaryOp<"mul">;
def TTT_DivOp : TTT_BinaryOp<"div">;
def TTT_MaxOp : TTT_BinaryOp<"max"> {
  let summary = "elementwise max(lhs, rhs) with broadcasting";
  let description = [{
    Spec level: f32 and vectors of the same length, a scalar broadcast to a
    vector. Chunk level: numpy broadcasting of ranked tensors.
    Derivative (ttt-inner-autodiff): the cotangent goes to the larger
    operand; at a tie each operand gets half of it (as torch.maximum and
    jnp.maximum), so that max(x, x) has derivative 1.
  }];
}
def TTT_DivOrZeroOp : TTT_BinaryOp<"div_or_zero"> {
  let summary = "lhs / rhs, and 0 where rhs == 0";
}
def TTT_MinOp : TTT_BinaryOp<"min"> {
  let summary = "elementwise min(lhs, rhs) with broadcasting";
  let description = [{
    Spec level: f32 and vectors of the same length, a scalar broadcast to a
    vector. Chunk level: numpy broadcasting of ranked tensors.
    Derivative (ttt-inner-autodiff): the cotangent goes to the smaller
    operand; at a tie each operand gets half of it (as torch.minimum and
    jnp.minimum), so that min(x, x) has derivative 1.
  }];
}

class TTT_UnaryOp<string mnemonic, string formula> : TTT_Op<mnemonic, [Pure,
    SameOperandsAndResultType]> {
  let summary = "elementwise " # formula;
  let arguments = (ins TTT_Value:$input);
  let results = (outs TTT_Value:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
}

def TTT_NegOp : TTT_UnaryOp<"neg", "-x">;
def TTT_ExpOp : TTT_UnaryOp<"exp", "exp(x)">;
def TTT_LogOp : TTT_UnaryOp<"log", "log(x)">;
def TTT_TanhOp : TTT_UnaryOp<"tanh", "tanh(x)">;
def TTT_SigmoidOp : TTT_UnaryOp<"sigmoid", "1 / (1 + exp(-x))">;
def TTT_ReluOp : TTT_UnaryOp<"relu", "max(x, 0)">;
def TTT_StepOp : TTT_UnaryOp<"step", "x > 0 ? 1 : 0">;
def TTT_Elu1Op : TTT_UnaryOp<"elu1", "elu(x) + 1 (x + 1 for x > 0, exp(x) otherwise)">;
def TTT_SqrtOp : TTT_UnaryOp<"sqrt", "sqrt(x)">;
def TTT_RsqrtOp : TTT_UnaryOp<"rsqrt", "1 / sqrt(x)">;
def TTT_GeluOp : TTT_UnaryOp<"gelu", "gelu, tanh form: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))">;
def TTT_SiluOp : TTT_UnaryOp<"silu", "x * sigmoid(x)">;
def TTT_StopGradientOp : TTT_UnaryOp<"stop_gradient",
    "x, treated as a constant by inner-loop differentiation"> {
  let description = [{
    The value x. `ttt-inner-autodiff` treats it as a constant (no inner
    gradient flows through it); the outer-loop backward
    (`ttt-chunk-backward`) differentiates the forward as computed, where it
    is the identity.
  }];
}

def TTT_SegmentAttentionOp : TTT_Op<"segment_attention", [Pure,
    AllTypesMatch<["query", "key", "value", "result"]>]> {
  let summary = "causal softmax attention within the current mini-batch (segment)";
  let description = [{
    Token i of a segment gets sum_{j <= i} softmax_j(q_i . k_j * scale) v_j
    over the tokens j of its own segment; scale defaults to 1/sqrt(length).
  }];
  let arguments = (ins TTT_Value:$query, TTT_Value:$key, TTT_Value:$value,
                       OptionalAttr<F32Attr>:$scale);
  let results = (outs TTT_Value:$result);
  let assemblyFormat = "$query `,` $key `,` $value attr-dict `:` type($query)";
}

def TTT_SegmentProbsOp : TTT_Op<"segment_probs", [Pure,
    AllTypesMatch<["query", "key"]>]> {
  let summary = "the causal softmax weights of segment attention (chunk level)";
  let description = [{
    P [C, C] with P_ij = softmax_{j <= i}(q_i . k_j * scale) and 0 for
    j > i: the weights `ttt.segment_attention` applies to its values
    (scale defaults to 1/sqrt(length)). Its derivative rule uses them.
  }];
  let arguments = (ins RankedTensorOf<[F32]>:$query, RankedTensorOf<[F32]>:$key,
                       OptionalAttr<F32Attr>:$scale);
  let results = (outs RankedTensorOf<[F32]>:$result);
  let assemblyFormat = "$query `,` $key attr-dict `:` type($query) `->` type($result)";
}

class TTT_ReduceOp<string mnemonic, string what> : TTT_Op<mnemonic, [Pure,
    DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = what # " of a vector's elements (chunk level: per row)";
  let arguments = (ins TTT_Value:$input);
  let results = (outs TTT_Value:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
}

def TTT_SumOp : TTT_ReduceOp<"sum", "the sum">;
def TTT_MeanOp : TTT_ReduceOp<"mean", "the mean">;

def TTT_BroadcastOp : TTT_Op<"broadcast", [Pure]> {
  let summary = "broadcast a scalar (chunk level: a column) to a vector's shape";
  let arguments = (ins TTT_Value:$input);
  let results = (outs TTT_Value:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
}

def TTT_LinearOp : TTT_Op<"linear", [Pure,
    DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = "x W (or x W^T with `transpose`)";
  let description = [{
    Spec level: a vector times a fast-weight matrix. Chunk level: a matmul of
    a [C, n] tensor with an [n, m] tensor.
  }];
  let arguments = (ins TTT_Value:$input, TTT_Value:$weight, UnitAttr:$transpose);
  let results = (outs TTT_Value:$result);
  let assemblyFormat = "$input `,` $weight attr-dict `:` type($input) `,` type($weight)";
  let hasVerifier = 1;
}

// Composite primitives: `ttt-decompose` expands them into the ops above.
def TTT_LayerNormOp : TTT_Op<"layer_norm", [Pure,
    AllTypesMatch<["input", "scale", "shift", "result"]>]> {
  let summary = "(x - mean) / sqrt(var + eps) * scale + shift (biased variance)";
  let arguments = (ins TTT_VecType:$input, TTT_VecType:$scale,
                       TTT_VecType:$shift,
                       DefaultValuedAttr<F32Attr, "1.0e-6">:$eps);
  let results = (outs TTT_VecType:$result);
  let assemblyFormat = [{
    $input `scale` $scale `shift` $shift attr-dict `:` type($input)
  }];
}

def TTT_RMSNormOp : TTT_Op<"rms_norm", [Pure,
    AllTypesMatch<["input", "scale", "result"]>]> {
  let summary = "x / sqrt(mean(x^2) + eps) * scale";
  let arguments = (ins TTT_VecType:$input, TTT_VecType:$scale,
                       DefaultValuedAttr<F32Attr, "1.0e-6">:$eps);
  let results = (outs TTT_VecType:$result);
  let assemblyFormat = "$input `scale` $scale attr-dict `:` type($input)";
}

def TTT_L2NormOp : TTT_Op<"l2_norm", [Pure, SameOperandsAndResultType]> {
  let summary = "x / sqrt(sum(x^2) + eps)";
  let arguments = (ins TTT_VecType:$input,
                       DefaultValuedAttr<F32Attr, "1.0e-6">:$eps);
  let results = (outs TTT_VecType:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
}

def TTT_SumSqOp : TTT_Op<"sum_sq", [Pure]> {
  let summary = "scale * sum(x^2): a squared-error loss with its scale";
  let arguments = (ins TTT_VecType:$input, DefaultValuedAttr<F32Attr, "1.0">:$scale);
  let results = (outs F32:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
}

def TTT_DotOp : TTT_Op<"dot", [Pure, SameTypeOperands]> {
  let summary = "sum(a * b)";
  let arguments = (ins TTT_VecType:$lhs, TTT_VecType:$rhs);
  let results = (outs F32:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` type($lhs)";
}

//===----------------------------------------------------------------------===//
// Chunk-level ops (produced by ttt-dual-form)
//===----------------------------------------------------------------------===//

def TTT_ChunkStepOp : TTT_Op<"chunk_step", [HasParent<"LayerOp">, 
    SingleBlockImplicitTerminator<"YieldOp">]> {
  let summary = "one mini-batch of one (batch, head) in dual form";
  let description = [{
    Block arguments: one per declaration of the layer, in order, with its
    chunk-level type (a per-token stream [C, n], a gate [C, 1], a position
    input [C, 1], a parameter [1, n], a state at the chunk's start), then
    `valid` (index): the number of real tokens in this chunk (rows at and
    past `valid` are padding with zero inputs and gates). Yields the
    readouts [C, n] in order (named by `readouts`), then every state at the
    chunk's end. `algorithm` names how the chunk was derived: "dual_form"
    (mini-batch gradient descent, with the coefficient matrices of retention
    and momentum), "ut_transform" (exact per-token updates of a model linear in
    its state, chunked), or "sequential" (exact per-token updates, one token
    per chunk).
  }];
  let arguments = (ins StrArrayAttr:$readouts, StrAttr:$algorithm);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = "`readouts` $readouts `algorithm` $algorithm $body attr-dict";
}

def TTT_ChunkBackwardOp : TTT_Op<"chunk_backward", [HasParent<"LayerOp">,
    SingleBlockImplicitTerminator<"YieldOp">]> {
  let summary = "the reverse-mode derivative of the layer's ttt.chunk_step";
  let description = [{
    Produced by `ttt-chunk-backward` from the layer's `ttt.chunk_step`.
    Block arguments: the chunk step's (one per declaration, then `valid`),
    then one cotangent per value the chunk step yields (its readouts [C, n],
    then every state at the chunk's end). The body recomputes the chunk's
    forward values from its inputs and starting states and runs the reverse
    pass; it yields the cotangent of every declaration's chunk-level value,
    in declaration order (per-token streams and gates [C, n], position
    inputs [C, 1], parameters [1, n], states at the chunk's start).
    `ttt-lower-layer-to-func` walks the chunks in reverse with it.
  }];
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = "$body attr-dict";
}

def TTT_MatmulOp : TTT_Op<"matmul", [Pure,
    DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = "op(A) op(B) on 2-D tensors, op = transpose when flagged";
  let arguments = (ins RankedTensorOf<[F32]>:$lhs, RankedTensorOf<[F32]>:$rhs,
                       UnitAttr:$transpose_lhs, UnitAttr:$transpose_rhs);
  let results = (outs RankedTensorOf<[F32]>:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` type($lhs) `,` type($rhs)";
}

def TTT_TransposeOp : TTT_Op<"transpose", [Pure,
    DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = "transpose a 2-D tensor";
  let arguments = (ins RankedTensorOf<[F32]>:$input);
  let results = (outs RankedTensorOf<[F32]>:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
}

def TTT_CausalMaskOp : TTT_Op<"causal_mask", [Pure, SameOperandsAndResultType]> {
  let summary = "keep entries (i, j) with j <= i (j < i if `strict`) of a square tensor, zero the rest";
  let arguments = (ins RankedTensorOf<[F32]>:$input, UnitAttr:$strict);
  let results = (outs RankedTensorOf<[F32]>:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
}

def TTT_TriSolveOp : TTT_Op<"tri_solve", [Pure, AllTypesMatch<["rhs", "result"]>]> {
  let summary = "X with (I + A) X = R, A strictly lower triangular [C, C]";
  let description = [{
    Forward substitution, row by row: x_i = r_i - sum_{j<i} A_ij x_j. The
    UT transform of exact per-token updates solves its chunk system with it.
    With `transpose`: X with (I + A)^T X = R, by backward substitution
    (x_i = r_i - sum_{j>i} A_ji x_j), as the solve's derivative needs.
  }];
  let arguments = (ins RankedTensorOf<[F32]>:$lower, RankedTensorOf<[F32]>:$rhs,
                       UnitAttr:$transpose);
  let results = (outs RankedTensorOf<[F32]>:$result);
  let assemblyFormat = "$lower `,` $rhs attr-dict `:` type($lower) `,` type($rhs)";
}

def TTT_RowOp : TTT_Op<"row", [Pure,
    DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = "row `index` of a 2-D tensor, as a [1, n] tensor";
  let arguments = (ins RankedTensorOf<[F32]>:$input, Index:$index);
  let results = (outs RankedTensorOf<[F32]>:$result);
  let assemblyFormat = "$input `[` $index `]` attr-dict `:` type($input)";
}

def TTT_PositionOp : TTT_Op<"position", [Pure]> {
  let summary = "the positions 0..C-1 of a chunk as a [C, 1] tensor";
  let results = (outs RankedTensorOf<[F32]>:$result);
  let assemblyFormat = "attr-dict `:` type($result)";
}

def TTT_ValidMaskOp : TTT_Op<"valid_mask", [Pure]> {
  let summary = "a [C, 1] tensor: 1 for rows < `valid`, 0 for padding rows";
  let arguments = (ins Index:$valid);
  let results = (outs RankedTensorOf<[F32]>:$result);
  let assemblyFormat = "$valid attr-dict `:` type($result)";
}

#endif // TTT_OPS_TD
