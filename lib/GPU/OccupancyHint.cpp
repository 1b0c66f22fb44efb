//===- OccupancyHint.cpp - programs per SM for ptxas's register budget ----===//
//
// ptxas sizes a kernel's registers for the block size alone (.maxntid): at
// 512 threads it may use up to 128 registers per thread, which leaves room
// for one block per SM. A kernel whose blocks synchronize often wants
// another block resident to run while one waits at a barrier. Where the
// launch's shared memory and threads allow `programs` blocks per SM, the
// kernel gets `nvvm.minctasm` (PTX .minnctapersm): ptxas then keeps its
// registers within 65536 / (programs x threads).
//
//===----------------------------------------------------------------------===//

#include "dialect/GPU/Passes.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/SymbolTable.h"

namespace mlir::ttt {
#define GEN_PASS_DEF_TTTOCCUPANCYHINT
#include "dialect/GPU/Passes.h.inc"
} // namespace mlir::ttt

using namespace mlir;

namespace {
struct TTTOccupancyHintPass : ttt::impl::TTTOccupancyHintBase<TTTOccupancyHintPass> {
  using Base::Base;
  void runOnOperation() override {
    if (programs < 2)
      return;
    ModuleOp module = getOperation();
    module.walk([&](gpu::LaunchFuncOp launch) {
      gpu::KernelDim3 bs = launch.getBlockSizeOperandValues();
      int64_t threads = 1;
      for (Value v : {bs.x, bs.y, bs.z}) {
        std::optional<int64_t> c = getConstantIntValue(v);
        if (!c)
          return;
        threads *= *c;
      }
      int64_t smem = 0;
      if (Value d = launch.getDynamicSharedMemorySize()) {
        std::optional<int64_t> c = getConstantIntValue(d);
        if (!c)
          return;
        smem = *c;
      }
      // 1 KB of shared memory per block is reserved by the system (sm_80+).
      if (programs * threads > maxThreadsPerSM ||
          programs * (smem + 1024) > int64_t(sharedKBPerSM) * 1024)
        return;
      auto kernel = SymbolTable::lookupNearestSymbolFrom<gpu::GPUFuncOp>(
          launch, launch.getKernelAttr());
      if (!kernel)
        return;
      kernel->setAttr("nvvm.minctasm",
                      IntegerAttr::get(IntegerType::get(&getContext(), 32), programs));
    });
  }
};
} // namespace
