//===- TTTDialect.cpp - ttt dialect, types, verifiers ---------------------===//

#include "dialect/TTTOps.h"

#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "mlir/IR/OpImplementation.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::ttt;

#include "dialect/TTTDialect.cpp.inc"
#include "dialect/TTTInterfaces.cpp.inc"

#define GET_TYPEDEF_CLASSES
#include "dialect/TTTTypes.cpp.inc"

void TTTDialect::initialize() {
  addTypes<
#define GET_TYPEDEF_LIST
#include "dialect/TTTTypes.cpp.inc"
      >();
  addOperations<
#define GET_OP_LIST
#include "dialect/TTTOps.cpp.inc"
      >();
}

//===----------------------------------------------------------------------===//
// Types and helpers
//===----------------------------------------------------------------------===//

LogicalResult VecType::verify(function_ref<InFlightDiagnostic()> emitError,
                              unsigned mult) {
  if (mult == 0)
    return emitError() << "vector length multiplier must be positive";
  return success();
}

LogicalResult MatType::verify(function_ref<InFlightDiagnostic()> emitError,
                              unsigned rows, unsigned cols) {
  if (rows == 0 || cols == 0)
    return emitError() << "matrix size multipliers must be positive";
  return success();
}

SmallVector<int64_t> mlir::ttt::specShape(Type t, int64_t headDim) {
  if (auto v = dyn_cast<VecType>(t))
    return {int64_t(v.getMult()) * headDim};
  if (auto m = dyn_cast<MatType>(t))
    return {int64_t(m.getRows()) * headDim, int64_t(m.getCols()) * headDim};
  return {};
}

int64_t mlir::ttt::numElements(Type t, int64_t headDim) {
  int64_t n = 1;
  for (int64_t d : specShape(t, headDim))
    n *= d;
  return n;
}

bool mlir::ttt::isPrimitive(Operation *op) {
  return isa<ConstantOp, DimSizeOp, AddOp, SubOp, MulOp, DivOp, MaxOp, MinOp,
             NegOp, ExpOp, LogOp, TanhOp, SigmoidOp, ReluOp, StepOp, Elu1Op,
             SqrtOp, RsqrtOp, GeluOp, SiluOp, StopGradientOp, DivOrZeroOp,
             SegmentAttentionOp, SumOp, MeanOp, BroadcastOp,
             LinearOp, LayerNormOp, RMSNormOp, L2NormOp, SumSqOp, DotOp,
             MatmulOp, TransposeOp, CausalMaskOp, RowOp, PositionOp,
             ValidMaskOp>(op);
}

static bool isSpecType(Type t) { return isa<FloatType, VecType, MatType>(t); }

//===----------------------------------------------------------------------===//
// Type inference for the primitive ops
//===----------------------------------------------------------------------===//

/// Spec level: f32 o f32 -> f32, f32 o vec -> vec, vec<m> o vec<m> -> vec<m>.
/// Chunk level: numpy broadcasting of ranked tensors and f32 scalars.
static FailureOr<Type> inferBinary(std::optional<Location> loc, Type a, Type b) {
  auto fail = [&](const Twine &msg) -> FailureOr<Type> {
    if (loc)
      mlir::emitError(*loc) << msg;
    return failure();
  };
  if (isa<MatType>(a) || isa<MatType>(b))
    return fail("elementwise ops do not take fast-weight matrices");
  auto ta = dyn_cast<RankedTensorType>(a), tb = dyn_cast<RankedTensorType>(b);
  if (!ta && !tb) {
    if (a == b)
      return a;
    if (isa<FloatType>(a))
      return b;
    if (isa<FloatType>(b))
      return a;
    return fail("operand types do not broadcast: vectors of different lengths");
  }
  if (!ta)
    return isa<FloatType>(a) ? FailureOr<Type>(Type(tb))
                             : fail("cannot mix spec-level and chunk-level values");
  if (!tb)
    return isa<FloatType>(b) ? FailureOr<Type>(Type(ta))
                             : fail("cannot mix spec-level and chunk-level values");
  if (ta.getRank() != tb.getRank())
    return fail("chunk-level operands must have the same rank");
  SmallVector<int64_t> shape;
  for (auto [x, y] : llvm::zip(ta.getShape(), tb.getShape())) {
    if (x != y && x != 1 && y != 1)
      return fail("chunk-level operand shapes do not broadcast");
    shape.push_back(x == 1 ? y : x);
  }
  return Type(RankedTensorType::get(shape, ta.getElementType()));
}

#define TTT_BINARY_INFER(OP)                                                   \
  LogicalResult OP::inferReturnTypes(                                          \
      MLIRContext *, std::optional<Location> loc, ValueRange operands,         \
      DictionaryAttr, OpaqueProperties, RegionRange,                           \
      SmallVectorImpl<Type> &inferred) {                                       \
    auto t = inferBinary(loc, operands[0].getType(), operands[1].getType());   \
    if (failed(t))                                                             \
      return failure();                                                        \
    inferred.push_back(*t);                                                    \
    return success();                                                          \
  }
TTT_BINARY_INFER(AddOp)
TTT_BINARY_INFER(SubOp)
TTT_BINARY_INFER(MulOp)
TTT_BINARY_INFER(DivOp)
TTT_BINARY_INFER(MaxOp)
TTT_BINARY_INFER(MinOp)
TTT_BINARY_INFER(DivOrZeroOp)
#undef TTT_BINARY_INFER

static LogicalResult inferReduce(MLIRContext *ctx, std::optional<Location> loc,
                                 Type in, SmallVectorImpl<Type> &inferred) {
  if (isa<VecType>(in)) {
    inferred.push_back(Float32Type::get(ctx));
    return success();
  }
  if (auto t = dyn_cast<RankedTensorType>(in); t && t.getRank() == 2) {
    inferred.push_back(RankedTensorType::get({t.getDimSize(0), 1}, t.getElementType()));
    return success();
  }
  if (loc)
    mlir::emitError(*loc) << "reductions take a vector (or a 2-D chunk tensor), got " << in;
  return failure();
}

LogicalResult SumOp::inferReturnTypes(MLIRContext *ctx, std::optional<Location> loc,
                                      ValueRange operands, DictionaryAttr,
                                      OpaqueProperties, RegionRange,
                                      SmallVectorImpl<Type> &inferred) {
  return inferReduce(ctx, loc, operands[0].getType(), inferred);
}
LogicalResult MeanOp::inferReturnTypes(MLIRContext *ctx, std::optional<Location> loc,
                                       ValueRange operands, DictionaryAttr,
                                       OpaqueProperties, RegionRange,
                                       SmallVectorImpl<Type> &inferred) {
  return inferReduce(ctx, loc, operands[0].getType(), inferred);
}

LogicalResult LinearOp::inferReturnTypes(MLIRContext *ctx, std::optional<Location> loc,
                                         ValueRange operands, DictionaryAttr attrs,
                                         OpaqueProperties props, RegionRange,
                                         SmallVectorImpl<Type> &inferred) {
  Type x = operands[0].getType(), w = operands[1].getType();
  bool transpose = props ? bool(props.as<Properties *>()->transpose)
                         : (attrs && attrs.get("transpose"));
  auto fail = [&](const Twine &msg) {
    if (loc)
      mlir::emitError(*loc) << msg;
    return failure();
  };
  if (auto m = dyn_cast<MatType>(w)) {
    auto v = dyn_cast<VecType>(x);
    if (!v)
      return fail("ttt.linear: the input must be a vector");
    unsigned in = transpose ? m.getCols() : m.getRows();
    unsigned out = transpose ? m.getRows() : m.getCols();
    if (v.getMult() != in)
      return fail("ttt.linear: input length does not match the matrix");
    inferred.push_back(VecType::get(ctx, out));
    return success();
  }
  auto tx = dyn_cast<RankedTensorType>(x), tw = dyn_cast<RankedTensorType>(w);
  if (!tx || !tw || tx.getRank() != 2 || tw.getRank() != 2)
    return fail("ttt.linear: the weight must be a fast-weight matrix (or, at "
                "chunk level, both operands 2-D tensors)");
  int64_t in = transpose ? tw.getDimSize(1) : tw.getDimSize(0);
  int64_t out = transpose ? tw.getDimSize(0) : tw.getDimSize(1);
  if (tx.getDimSize(1) != in)
    return fail("ttt.linear: inner dimensions do not match");
  inferred.push_back(RankedTensorType::get({tx.getDimSize(0), out}, tx.getElementType()));
  return success();
}

LogicalResult LinearOp::verify() {
  if (isSpecType(getInput().getType()) && !isa<MatType>(getWeight().getType()))
    return emitOpError("weight must be a fast-weight matrix (!ttt.mat)");
  return success();
}

LogicalResult MatmulOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                         ValueRange operands, DictionaryAttr attrs,
                                         OpaqueProperties props, RegionRange,
                                         SmallVectorImpl<Type> &inferred) {
  auto a = cast<RankedTensorType>(operands[0].getType());
  auto b = cast<RankedTensorType>(operands[1].getType());
  auto *p = props.as<Properties *>();
  bool ta = p ? bool(p->transpose_lhs) : (attrs && attrs.get("transpose_lhs"));
  bool tb = p ? bool(p->transpose_rhs) : (attrs && attrs.get("transpose_rhs"));
  if (a.getRank() != 2 || b.getRank() != 2) {
    if (loc)
      mlir::emitError(*loc) << "ttt.matmul takes 2-D tensors";
    return failure();
  }
  int64_t m = ta ? a.getDimSize(1) : a.getDimSize(0);
  int64_t ka = ta ? a.getDimSize(0) : a.getDimSize(1);
  int64_t kb = tb ? b.getDimSize(1) : b.getDimSize(0);
  int64_t n = tb ? b.getDimSize(0) : b.getDimSize(1);
  if (ka != kb) {
    if (loc)
      mlir::emitError(*loc) << "ttt.matmul: inner dimensions do not match";
    return failure();
  }
  inferred.push_back(RankedTensorType::get({m, n}, a.getElementType()));
  return success();
}

LogicalResult TransposeOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                            ValueRange operands, DictionaryAttr,
                                            OpaqueProperties, RegionRange,
                                            SmallVectorImpl<Type> &inferred) {
  auto a = cast<RankedTensorType>(operands[0].getType());
  if (a.getRank() != 2) {
    if (loc)
      mlir::emitError(*loc) << "ttt.transpose takes a 2-D tensor";
    return failure();
  }
  inferred.push_back(RankedTensorType::get({a.getDimSize(1), a.getDimSize(0)},
                                           a.getElementType()));
  return success();
}

LogicalResult RowOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                      ValueRange operands, DictionaryAttr,
                                      OpaqueProperties, RegionRange,
                                      SmallVectorImpl<Type> &inferred) {
  auto a = cast<RankedTensorType>(operands[0].getType());
  if (a.getRank() != 2) {
    if (loc)
      mlir::emitError(*loc) << "ttt.row takes a 2-D tensor";
    return failure();
  }
  inferred.push_back(RankedTensorType::get({1, a.getDimSize(1)}, a.getElementType()));
  return success();
}

OpFoldResult ConstantOp::fold(FoldAdaptor) { return getValueAttr(); }

//===----------------------------------------------------------------------===//
// Declaration verifiers
//===----------------------------------------------------------------------===//

LogicalResult InputOp::verify() {
  if (getName().empty())
    return emitOpError("needs a non-empty name");
  return success();
}

LogicalResult ParamOp::verify() {
  if (getName().empty())
    return emitOpError("needs a non-empty name");
  return success();
}

LogicalResult StateOp::verify() {
  if (getName().empty())
    return emitOpError("needs a non-empty name");
  if (getInitOptional() && !getInit())
    return emitOpError("'optional' needs an 'init' input name");
  return success();
}

LogicalResult OuterGradOp::verify() {
  auto m = cast<MatType>(getState().getType());
  if (cast<VecType>(getX().getType()).getMult() != m.getRows() ||
      cast<VecType>(getG().getType()).getMult() != m.getCols())
    return emitOpError("factor lengths do not match the state's shape");
  if (!getState().getDefiningOp<StateOp>())
    return emitOpError("first operand must be a ttt.state");
  return success();
}

LogicalResult VecGradOp::verify() {
  if (getState().getType() != getG().getType())
    return emitOpError("gradient type must match the state's type");
  if (!getState().getDefiningOp<StateOp>())
    return emitOpError("first operand must be a ttt.state");
  return success();
}

//===----------------------------------------------------------------------===//
// The built-in update rules (UpdateRuleOpInterface)
//===----------------------------------------------------------------------===//

Value GDOp::getLearningRate() { return getLr(); }
Value GDOp::getReaderScale() { return getScale(); }

Value DecayOp::getUpdatedState() { return getState(); }
Value DecayOp::getRetentionFactor() { return getFactor(); }
bool DecayOp::isRetentionBeforeGradient() { return getPreGradient(); }

Value MomentumOp::getUpdatedState() { return getState(); }
SmallVector<Value> MomentumOp::getAuxiliaryStates() { return {getBuffer()}; }
Value MomentumOp::getMomentumBuffer() { return getBuffer(); }
Value MomentumOp::getMomentumDecay() { return getDecay(); }

LogicalResult MomentumOp::verify() {
  if (getState().getType() != getBuffer().getType())
    return emitOpError("buffer must have the state's type");
  if (!getState().getDefiningOp<StateOp>() || !getBuffer().getDefiningOp<StateOp>())
    return emitOpError("state and buffer must be ttt.state values");
  if (getState() == getBuffer())
    return emitOpError("buffer must be a different state");
  return success();
}

LogicalResult GDOp::verify() {
  // The learning rate is a layer-level value; the layer verifier ensures
  // those never depend on a state.
  if (Value s = getScale()) {
    // The reader-side scale depends on the position only.
    SmallVector<Value> work{s};
    while (!work.empty()) {
      Value x = work.pop_back_val();
      Operation *def = x.getDefiningOp();
      if (!def || isa<InputOp, ParamOp, StateOp>(def))
        return emitOpError("scale must be computed from ttt.position_input "
                           "values and constants only");
      for (Value o : def->getOperands())
        work.push_back(o);
    }
  }
  return success();
}

//===----------------------------------------------------------------------===//
// Region verifiers
//===----------------------------------------------------------------------===//

static LogicalResult verifyYield(Operation *op, Region &r, ArrayRef<Type> want,
                                 StringRef what) {
  auto y = cast<YieldOp>(r.front().getTerminator());
  if (y.getValues().size() != want.size())
    return op->emitOpError() << "must yield " << what;
  for (auto [v, t] : llvm::zip(y.getValues(), want))
    if (t && v.getType() != t)
      return op->emitOpError() << "must yield " << what << ", got " << v.getType();
  return success();
}

LogicalResult PositionInputOp::verifyRegions() {
  Block &b = getDefaultBody().front();
  if (b.getNumArguments() != 1 || !isa<FloatType>(b.getArgument(0).getType()))
    return emitOpError("default region takes one f32 argument (the position)");
  for (Operation &op : b.without_terminator())
    if (!isPrimitive(&op))
      return op.emitOpError("is not allowed in a position_input default");
  return verifyYield(*this, getDefaultBody(), {Float32Type::get(getContext())},
                     "one f32");
}

LogicalResult ModelOp::verifyRegions() {
  Block &b = getBody().front();
  if (b.getNumArguments() != 1 || !isa<VecType>(b.getArgument(0).getType()))
    return emitOpError("region takes one vector argument (the model's input)");
  auto y = cast<YieldOp>(b.getTerminator());
  if (y.getValues().size() != 1 || !isa<VecType>(y.getValues()[0].getType()))
    return emitOpError("must yield one vector (the model's output)");
  WalkResult r = getBody().walk([&](Operation *op) {
    if (isa<CallModelOp>(op)) {
      op->emitOpError("cannot be used inside the model itself");
      return WalkResult::interrupt();
    }
    return WalkResult::advance();
  });
  return failure(r.wasInterrupted());
}

LogicalResult LossOp::verifyRegions() {
  if (getBody().front().getNumArguments() != 0)
    return emitOpError("region takes no arguments");
  return verifyYield(*this, getBody(), {Float32Type::get(getContext())},
                     "one f32 (the loss)");
}

LogicalResult ReadoutOp::verifyRegions() {
  if (getBody().front().getNumArguments() != 0)
    return emitOpError("region takes no arguments");
  auto y = cast<YieldOp>(getBody().front().getTerminator());
  if (y.getValues().size() != 1 || !isa<VecType>(y.getValues()[0].getType()))
    return emitOpError("must yield one vector (the output row)");
  return success();
}

LogicalResult LayerOp::verify() { return success(); }

LogicalResult LayerOp::verifyRegions() {
  Block &body = getBodyBlock();
  llvm::StringSet<> inputNames, outputNames;
  auto addIn = [&](Operation *op, StringRef n) -> LogicalResult {
    if (!inputNames.insert(n).second)
      return op->emitOpError() << "duplicate input name '" << n << "'";
    return success();
  };
  auto addOut = [&](Operation *op, StringRef n) -> LogicalResult {
    if (!outputNames.insert(n).second)
      return op->emitOpError() << "duplicate output name '" << n << "'";
    return success();
  };
  ModelOp model;
  int numLoss = 0, numGD = 0, numReadout = 0, numChunk = 0, numBackward = 0;
  for (Operation &op : body) {
    LogicalResult ok = success();
    if (auto in = dyn_cast<InputOp>(op))
      ok = addIn(&op, in.getName());
    else if (auto pi = dyn_cast<PositionInputOp>(op))
      ok = addIn(&op, pi.getName());
    else if (auto p = dyn_cast<ParamOp>(op))
      ok = addIn(&op, p.getName());
    else if (auto s = dyn_cast<StateOp>(op)) {
      if (s.getInit())
        ok = addIn(&op, *s.getInit());
      if (succeeded(ok) && s.getFinal())
        ok = addOut(&op, *s.getFinal());
      // A matrix state is only read through ttt.linear (so its per-token
      // gradient factors as x^T g and the dual form applies).
      if (isa<MatType>(s.getType()))
        for (OpOperand &use : s.getResult().getUses()) {
          Operation *user = use.getOwner();
          bool ok2 = (isa<LinearOp>(user) && use.getOperandNumber() == 1) ||
                     (isa<OuterGradOp>(user) && use.getOperandNumber() == 0) ||
                     isa<UpdateRuleOpInterface>(user);
          if (!ok2)
            return user->emitOpError("uses fast-weight matrix state '")
                   << s.getName() << "' other than as the weight of ttt.linear";
        }
    } else if (auto m = dyn_cast<ModelOp>(op)) {
      if (model)
        return op.emitOpError("a layer has at most one model");
      model = m;
    } else if (isa<LossOp, GradientOp>(op)) {
      ++numLoss;
    } else if (auto rule = dyn_cast<UpdateRuleOpInterface>(op)) {
      // The step rule (ttt.gd), or a rule shaping one state's update; its
      // factors are layer-level values (never state-dependent, see below).
      if (!rule.getUpdatedState())
        ++numGD;
      else if (!rule.getUpdatedState().getDefiningOp<StateOp>())
        return op.emitOpError("updates a value that is not a ttt.state");
    } else if (auto r = dyn_cast<ReadoutOp>(op)) {
      ++numReadout;
      ok = addOut(&op, r.getName());
    } else if (isa<ChunkStepOp>(op)) {
      ++numChunk;
    } else if (isa<ChunkBackwardOp>(op)) {
      ++numBackward;
    } else if (isPrimitive(&op)) {
      for (Value v : op.getOperands())
        if (v.getDefiningOp<StateOp>())
          return op.emitOpError("layer-level per-token computations cannot use "
                                "fast-weight states");
      if (isa<LinearOp>(op))
        return op.emitOpError("layer-level per-token computations cannot use "
                              "fast-weight states");
    } else {
      return op.emitOpError("is not allowed directly in a ttt.layer");
    }
    if (failed(ok))
      return failure();
  }
  for (StringRef n : outputNames.keys())
    if (inputNames.contains(n))
      return emitOpError() << "name '" << n << "' is both an input and an output";

  if (numBackward && (numChunk != 1 || numBackward != 1))
    return emitOpError("a ttt.chunk_backward needs exactly one ttt.chunk_step "
                       "beside it (and there is at most one)");
  if (numChunk) {
    if (numChunk != 1 || model || numLoss || numGD || numReadout)
      return emitOpError("a chunked layer holds exactly one ttt.chunk_step and "
                         "no model, loss, update rule or readout");
    if (!getHeadDim())
      return emitOpError("a chunked layer needs a head_dim attribute");
    return success();
  }
  if (numLoss != 1)
    return emitOpError("needs exactly one ttt.loss (or ttt.gradient)");
  if (numGD != 1)
    return emitOpError("needs exactly one step rule (ttt.gd)");
  if (numReadout < 1)
    return emitOpError("needs at least one ttt.readout");
  bool anyState = llvm::any_of(body, [](Operation &op) { return isa<StateOp>(op); });
  if (!anyState)
    return emitOpError("needs at least one ttt.state");

  // call_model: only in loss and readout, with the model's signature.
  WalkResult wr = walk([&](CallModelOp call) {
    Operation *parent = call->getParentOp();
    while (parent && !isa<LossOp, ReadoutOp, ModelOp, LayerOp>(parent))
      parent = parent->getParentOp();
    if (!isa_and_nonnull<LossOp, ReadoutOp>(parent)) {
      call.emitOpError("may only appear inside ttt.loss or ttt.readout");
      return WalkResult::interrupt();
    }
    if (!model) {
      call.emitOpError("needs a ttt.model in the layer");
      return WalkResult::interrupt();
    }
    Block &mb = model.getBody().front();
    Type in = mb.getArgument(0).getType();
    Type out = cast<YieldOp>(mb.getTerminator()).getValues()[0].getType();
    if (call.getInput().getType() != in || call.getResult().getType() != out) {
      call.emitOpError("type does not match the model: expected ")
          << in << " -> " << out;
      return WalkResult::interrupt();
    }
    return WalkResult::advance();
  });
  if (wr.wasInterrupted())
    return failure();

  // Only primitives and model calls inside model, loss and readout regions.
  wr = walk([&](Operation *op) {
    Operation *parent = op->getParentOp();
    if (!isa<ModelOp, LossOp, ReadoutOp>(parent) || isa<YieldOp>(op))
      return WalkResult::advance();
    if (!isPrimitive(op) && !isa<CallModelOp>(op)) {
      op->emitOpError("is not allowed in a ttt.")
          << parent->getName().stripDialect() << " region";
      return WalkResult::interrupt();
    }
    if (isa<LossOp>(parent) || isa<ReadoutOp>(parent))
      if (isa<LinearOp>(op))
        for (Value v : op->getOperands())
          if (v.getDefiningOp<StateOp>())
            return WalkResult::advance();
    return WalkResult::advance();
  });
  return failure(wr.wasInterrupted());
}

#define GET_OP_CLASSES
#include "dialect/TTTOps.cpp.inc"
