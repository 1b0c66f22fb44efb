//===- ContractFloatOps.cpp - FMA contraction in GPU kernels --------------===//

#include "dialect/GPU/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"

namespace mlir::ttt {
#define GEN_PASS_DEF_TTTCONTRACTFLOATOPS
#include "dialect/GPU/Passes.h.inc"
} // namespace mlir::ttt

using namespace mlir;

namespace {
struct TTTContractFloatOpsPass
    : ttt::impl::TTTContractFloatOpsBase<TTTContractFloatOpsPass> {
  void runOnOperation() override {
    getOperation().walk([](gpu::LaunchOp launch) {
      launch.walk([](arith::ArithFastMathInterface op) {
        arith::FastMathFlagsAttr cur = op.getFastMathFlagsAttr();
        arith::FastMathFlags flags = cur ? cur.getValue() : arith::FastMathFlags::none;
        op->setAttr(op.getFastMathAttrName(),
                    arith::FastMathFlagsAttr::get(op->getContext(),
                                                  flags | arith::FastMathFlags::contract));
      });
    });
  }
};
} // namespace
