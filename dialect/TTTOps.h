//===- TTTOps.h - ttt operations --------------------------------*- C++ -*-===//
#ifndef TTTC_DIALECT_TTTOPS_H
#define TTTC_DIALECT_TTTOPS_H

#include "dialect/TTTDialect.h"
#include "dialect/UpdateRule.h"

#define GET_OP_CLASSES
#include "dialect/TTTOps.h.inc"

namespace mlir::ttt {
/// Number of elements per head of a spec-level type for head dimension D
/// (f32: 1, vec<m>: m*D, mat<m,n>: m*D*n*D).
int64_t numElements(Type t, int64_t headDim);
/// The shape of a spec-level type for head dimension D ({} for f32).
SmallVector<int64_t> specShape(Type t, int64_t headDim);
/// True for the primitive ops that compute per-token values (elementwise,
/// reductions, linear, norms, constants).
bool isPrimitive(Operation *op);
} // namespace mlir::ttt

#endif
