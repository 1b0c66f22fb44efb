//===- ChunkUtils.h - spec-level to chunk-level helpers ---------*- C++ -*-===//
#ifndef TTTC_DIALECT_CHUNKUTILS_H
#define TTTC_DIALECT_CHUNKUTILS_H

#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"

namespace mlir::ttt {
/// The chunk-level type of a spec-level value for head dimension `headDim`
/// and `rows` rows (C for per-token values, 1 for per-head values; matrices
/// ignore `rows`).
Type chunkType(Type specType, int64_t rows, int64_t headDim);

/// Clones a spec-level primitive `op` with its operands remapped through
/// `map` to chunk-level values, and re-derives its result types (numpy
/// broadcasting). `ttt.dim_size` becomes a constant. Returns null (after
/// emitting an error) if the op cannot be cloned at chunk level.
Operation *cloneAtChunkLevel(OpBuilder &b, Operation *op, IRMapping &map,
                             int64_t headDim);
} // namespace mlir::ttt

#endif
