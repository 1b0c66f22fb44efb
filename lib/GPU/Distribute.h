//===- Distribute.h - ttt-distribute-to-threads, internal -------*- C++ -*-===//
//
// The pieces of ttt-distribute-to-threads (DistributeToThreads.cpp, the
// pass), one file per seam:
//   SharedMemory.cpp      memory spaces, shared placement, row padding,
//                         live ranges and packing
//   PointLoops.cpp        linalg ops as loops over threads (strided, a row
//                         per warp, split sums) and their access signatures
//   TensorCoreMatmul.cpp  matmuls on mma.sync tensor cores
//   Barriers.cpp          barrier placement and fusion of adjacent loops
// Private to lib/GPU; the full contracts are at the definitions.
//
//===----------------------------------------------------------------------===//

#ifndef TTTC_LIB_GPU_DISTRIBUTE_H
#define TTTC_LIB_GPU_DISTRIBUTE_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Value.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/SmallVector.h"

#include <optional>

namespace mlir {
namespace linalg {
class GenericOp;
}
namespace memref {
class AllocaOp;
}
namespace scf {
class ForOp;
}
} // namespace mlir

namespace mlir::ttt::distribution {

//===-- SharedMemory.cpp ---------------------------------------------------===//

enum class Space { Shared, Private, Global, Unknown };

/// The buffer `v` is a view of (a shared view, an alloca, a kernel argument).
Value rootOf(Value v);
Space spaceOf(Value root, gpu::LaunchOp launch);
/// Whether the alloca `v` may live in shared memory (only viewed, read and
/// written); with `indexedOnly`, whether it may also get padded rows.
bool onlyAccessed(Value v, bool indexedOnly = false);
/// Gives `v` and its views the workgroup address space `space`.
void moveToWorkgroup(Value v, Attribute space);
/// Elements the rows of `a` are padded by against bank conflicts (0: none).
int64_t rowPadding(memref::AllocaOp a);
/// `t` with rows padded by `pad` elements, in `space`.
MemRefType paddedType(MemRefType t, int64_t pad, Attribute space);
/// Replaces `a` by `v`, retyping subviews for `v`'s layout.
void replaceRelayout(Value a, Value v);
/// A buffer's bytes, rounded up to 16.
int64_t bufferBytes(MemRefType t);

/// A buffer's live range in program order and its size.
struct Live {
  int64_t begin, end, size;
  bool wholeProgram() const { return begin == 0; }
};
SmallVector<Live> liveRanges(gpu::LaunchOp launch, ArrayRef<memref::AllocaOp> bufs,
                             ArrayRef<int64_t> sizes);
/// Byte offsets for the buffers `which` (first fit); returns the total.
int64_t pack(ArrayRef<Live> live, ArrayRef<unsigned> which, SmallVectorImpl<int64_t> &offsets);

//===-- PointLoops.cpp -----------------------------------------------------===//

/// Which thread touches which element in a distributed loop: the loop's
/// point space (its trip count and the sizes it is delinearized by) and, per
/// access, which parallel dimension each index is (-1: something else).
struct LoopInfo {
  Value total;
  SmallVector<Value> sizes;
  DenseMap<Operation *, SmallVector<int>> signature; // load/store -> dims
  /// Row-to-warp mappings (0: points strided over the threads). With W
  /// warps, row r (dimension 0) belongs to warp r mod W; dimension 1 (the
  /// columns, or a split sum's terms) to lane c mod 32 where an index uses
  /// it, else to lane 0 for the accesses in `lane0` and to any lane of the
  /// warp for the others (a row's value read by all its lanes).
  int64_t warps = 0;
  DenseSet<Operation *> lane0;
};

/// The same SSA value or the same constant.
bool sameIndex(Value a, Value b);
/// Whether point p of `a` and of `b` are the same tuple of parallel indices.
bool samePoints(const LoopInfo &a, const LoopInfo &b);
/// Whether the same indices of `a` and `b` address the same element.
bool sameView(Value a, Value b);

/// `g`'s parallel points strided over `threads` threads.
scf::ForOp distribute(linalg::GenericOp g, Value tid, Value bdim, int64_t threads,
                      bool staticRounds, LoopInfo &info);
/// Whether the elementwise `g` suits a row per warp on `warps` warps.
bool suitsRows(linalg::GenericOp g, int64_t warps);
/// `g` with row r on warp r mod `warps`, its columns over the lanes.
scf::ForOp distributeRows(linalg::GenericOp g, Value warp, Value lane, int64_t warps,
                          LoopInfo &info);

/// A sum with fewer points than threads: the summand, the op adding it to
/// the output, and the group size G of threads sharing a point.
struct SplitSum {
  arith::AddFOp add;
  Value term;
  int64_t points, extent, group;
};
std::optional<SplitSum> matchSplitSum(linalg::GenericOp g, int64_t threads);
scf::ForOp distributeSplitSum(linalg::GenericOp g, SplitSum s, Value tid, int64_t threads,
                              LoopInfo &info);

//===-- TensorCoreMatmul.cpp -----------------------------------------------===//

/// Whether `g` is an f32 C += A B on static buffers tiling by m16n8k8.
bool isTensorCoreMatmul(linalg::GenericOp g);
/// The warp tasks of a tensor-core matmul of C[M, N] (strips of `*R` tiles).
int64_t tensorCoreTasks(int64_t M, int64_t N, int64_t nTiles, int64_t warps,
                        int64_t *R = nullptr);
scf::ForOp distributeTensorCore(linalg::GenericOp g, Value tid, int64_t threads,
                                int64_t chains, StringRef precision, int64_t nTiles,
                                int64_t &firstWarp, bool rotate, int64_t kSplit,
                                Value partials, bool badFragment);

//===-- Barriers.cpp -------------------------------------------------------===//

/// One program's distributed loops and shared buffers, for barrier placement.
struct Distributor {
  explicit Distributor(gpu::LaunchOp launch) : launch(launch) {}
  gpu::LaunchOp launch;
  DenseMap<Operation *, LoopInfo> loops; // distributed loops
  /// Byte range of each shared buffer (buffers may share bytes).
  DenseMap<Value, std::pair<int64_t, int64_t>> extent;

  /// Whether `memref` is in shared or global memory (what barriers order).
  bool isRelevant(Value memref) const;
  /// Barriers (and warp barriers) between conflicting accesses of different
  /// threads of the program.
  void insertBarriers();
};

/// Merges adjacent distributed loops over the same points (no barrier
/// between them).
void fuseAdjacentLoops(gpu::LaunchOp launch, Distributor &dist);

} // namespace mlir::ttt::distribution

#endif // TTTC_LIB_GPU_DISTRIBUTE_H
