//===- NormalizedStep.cpp - the nstep plugin: dialect, rule, pass ---------===//
//
// Built out of tree against the installed tttc (find_package(tttc)); loaded
// by `ttt-opt --load-dialect-plugin=` / `--load-pass-plugin=`, `tttc
// --plugin=`, tttc_load_plugin() and tttc.load_plugin().
//
//===----------------------------------------------------------------------===//

#include "dialect/TTTOps.h"
#include "tttc/Plugin.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassRegistry.h"

// The dialect and its op (generated from NormalizedStep.td).
#include "NormalizedStepDialect.h.inc"
#define GET_OP_CLASSES
#include "NormalizedStepOps.h.inc"

#include "NormalizedStepDialect.cpp.inc"
#define GET_OP_CLASSES
#include "NormalizedStepOps.cpp.inc"

using namespace mlir;

void nstep::NStepDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "NormalizedStepOps.cpp.inc"
      >();
}

namespace nstep {

LogicalResult NormalizedOp::verify() {
  if (!isa<ttt::VecType, ttt::MatType>(getState().getType()))
    return emitOpError("updates a !ttt.vec or !ttt.mat state, got ") << getState().getType();
  if (!getState().getDefiningOp<ttt::StateOp>() || !getMoment().getDefiningOp<ttt::StateOp>())
    return emitOpError("state and moment must be ttt.state values");
  if (getState() == getMoment())
    return emitOpError("moment must be a state of its own");
  if (!(getEps().convertToFloat() > 0))
    return emitOpError("eps must be positive, got ") << getEps().convertToFloat();
  return success();
}

// What tttc's ttt-dual-form asks of an update rule.
Value NormalizedOp::getUpdatedState() { return getState(); }
SmallVector<Value> NormalizedOp::getAuxiliaryStates() { return {getMoment()}; }
ttt::UpdatePath NormalizedOp::getUpdatePath() {
  return getChunkEnd() ? ttt::UpdatePath::ChunkEnd : ttt::UpdatePath::TokenByToken;
}

FailureOr<SmallVector<Value>>
NormalizedOp::buildMaterializedUpdate(OpBuilder &b, const ttt::MaterializedStep &s) {
  // Token by token: one token per chunk step, so gradient, lr and beta2
  // are this token's. At the chunk end: the chunk's summed gradient, the
  // mean learning rate of its real tokens, beta2 of its first token.
  Location loc = s.loc;
  Value b2 = s.lookup(getBeta2());
  if (!b2)
    return emitOpError("beta2 has no chunk-level value");
  Value lr = s.learningRate;
  auto rows = cast<RankedTensorType>(lr.getType()).getDimSize(0);
  if (rows != 1) {
    Value ones = ttt::BroadcastOp::create(b, loc, lr.getType(),
                                          ttt::ConstantOp::create(b, loc, b.getF32FloatAttr(1.0f)));
    Value sum = ttt::MatmulOp::create(b, loc, lr, ones, /*transposeLhs=*/true, false);
    lr = ttt::DivOp::create(b, loc, sum, s.validTokens);
    if (isa<RankedTensorType>(b2.getType()))
      b2 = ttt::RowOp::create(b, loc, b2, arith::ConstantIndexOp::create(b, loc, 0));
  }
  Value one = ttt::ConstantOp::create(b, loc, b.getF32FloatAttr(1.0f));
  Value eps = ttt::ConstantOp::create(b, loc, getEpsAttr());
  Value g = s.gradient;
  // v = b2 v + (1 - b2) g o g
  Value v = ttt::AddOp::create(
      b, loc, ttt::MulOp::create(b, loc, b2, s.auxiliary[0]),
      ttt::MulOp::create(b, loc, ttt::SubOp::create(b, loc, one, b2),
                         ttt::MulOp::create(b, loc, g, g)));
  // W = W - lr g / (sqrt(v) + eps)
  Value denom = ttt::AddOp::create(b, loc, ttt::SqrtOp::create(b, loc, v), eps);
  Value step = ttt::MulOp::create(b, loc, lr, ttt::DivOp::create(b, loc, g, denom));
  Value w = ttt::SubOp::create(b, loc, s.state, step);
  return SmallVector<Value>{w, v};
}

namespace {
/// nstep-set-eps: sets eps of every nstep.normalized (an experiment's knob,
/// and a plugin pass ttt-opt runs).
struct SetEpsPass : PassWrapper<SetEpsPass, OperationPass<>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(SetEpsPass)
  SetEpsPass() = default;
  SetEpsPass(const SetEpsPass &o) : PassWrapper(o) {}
  StringRef getArgument() const override { return "nstep-set-eps"; }
  StringRef getDescription() const override {
    return "Set eps of every nstep.normalized update rule";
  }
  Option<double> eps{*this, "eps", llvm::cl::desc("the new eps (> 0)"), llvm::cl::init(1e-3)};
  void runOnOperation() override {
    if (!(eps > 0)) {
      getOperation()->emitError("nstep-set-eps: eps must be positive");
      return signalPassFailure();
    }
    getOperation()->walk([&](NormalizedOp op) {
      op.setEpsAttr(Builder(op).getF32FloatAttr(float(eps)));
    });
  }
};
} // namespace
} // namespace nstep

TTTC_DIALECT_PLUGIN("nstep", [](DialectRegistry *registry) {
  registry->insert<nstep::NStepDialect>();
})
TTTC_PASS_PLUGIN("nstep", [] { PassRegistration<nstep::SetEpsPass>(); })
