//===- LayerLoops.h - the loop nest of a lowered layer function -*- C++ -*-===//
//
// `ttt-lower-layer-to-func` builds each layer as func -> scf.for (batches)
// -> scf.for (heads) -> the chunk loop; the passes after it find those loops
// here.
//
//===----------------------------------------------------------------------===//
#ifndef TTTC_DIALECT_LAYERLOOPS_H
#define TTTC_DIALECT_LAYERLOOPS_H

#include "mlir/Dialect/SCF/IR/SCF.h"

namespace mlir::ttt {
/// The single scf.for among `block`'s ops, or null (none, or several).
inline scf::ForOp onlyLoop(Block &block) {
  scf::ForOp loop;
  for (Operation &op : block)
    if (auto f = dyn_cast<scf::ForOp>(op)) {
      if (loop)
        return {};
      loop = f;
    }
  return loop;
}
} // namespace mlir::ttt

#endif
