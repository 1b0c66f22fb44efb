//===- ExternDynamicSharedMemory.cpp - .extern .shared for NVPTX ----------===//

#include "dialect/GPU/Passes.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"

namespace mlir::ttt {
#define GEN_PASS_DEF_TTTEXTERNDYNAMICSHAREDMEMORY
#include "dialect/GPU/Passes.h.inc"
} // namespace mlir::ttt

using namespace mlir;

namespace {
struct TTTExternDynamicSharedMemoryPass
    : ttt::impl::TTTExternDynamicSharedMemoryBase<TTTExternDynamicSharedMemoryPass> {
  void runOnOperation() override {
    getOperation().walk([](LLVM::GlobalOp g) {
      auto arr = dyn_cast<LLVM::LLVMArrayType>(g.getGlobalType());
      if (g.getAddrSpace() != int(NVVM::NVVMMemorySpace::Shared) || !arr ||
          arr.getNumElements() != 0)
        return;
      g.setLinkage(LLVM::Linkage::External);
      g.removeValueAttr();
    });
  }
};
} // namespace
