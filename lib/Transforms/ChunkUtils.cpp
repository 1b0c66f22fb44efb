//===- ChunkUtils.cpp - spec-level to chunk-level helpers -----------------===//

#include "dialect/ChunkUtils.h"
#include "dialect/TTTOps.h"

using namespace mlir;
using namespace mlir::ttt;

Type mlir::ttt::chunkType(Type t, int64_t rows, int64_t headDim) {
  auto f32 = Float32Type::get(t.getContext());
  if (isa<FloatType>(t))
    return RankedTensorType::get({rows, 1}, f32);
  if (auto v = dyn_cast<VecType>(t))
    return RankedTensorType::get({rows, int64_t(v.getMult()) * headDim}, f32);
  if (auto m = dyn_cast<MatType>(t))
    return RankedTensorType::get(
        {int64_t(m.getRows()) * headDim, int64_t(m.getCols()) * headDim}, f32);
  return t;
}

Operation *mlir::ttt::cloneAtChunkLevel(OpBuilder &b, Operation *op,
                                        IRMapping &map, int64_t headDim) {
  if (auto ds = dyn_cast<DimSizeOp>(op)) {
    Type in = map.lookupOrDefault(ds.getInput()).getType();
    auto t = dyn_cast<RankedTensorType>(in);
    if (!t || t.getRank() != 2) {
      op->emitOpError("cannot take the length of ") << in;
      return nullptr;
    }
    Operation *c = ConstantOp::create(b, op->getLoc(),
                                      b.getF32FloatAttr(double(t.getDimSize(1))));
    map.map(ds.getResult(), c->getResult(0));
    return c;
  }
  Operation *c = b.clone(*op, map);
  if (auto inf = dyn_cast<InferTypeOpInterface>(c)) {
    SmallVector<Type> types;
    if (failed(inf.inferReturnTypes(c->getContext(), c->getLoc(), c->getOperands(),
                                    c->getAttrDictionary(), c->getPropertiesStorage(),
                                    c->getRegions(), types))) {
      c->erase();
      return nullptr;
    }
    for (auto [r, t] : llvm::zip(c->getResults(), types))
      r.setType(t);
  } else if (auto bc = dyn_cast<BroadcastOp>(c)) {
    Type in = bc.getInput().getType();
    int64_t rows = isa<RankedTensorType>(in) ? cast<RankedTensorType>(in).getDimSize(0) : 1;
    bc.getResult().setType(chunkType(op->getResult(0).getType(), rows, headDim));
  } else if (c->getNumResults() == 1 && c->getNumOperands() >= 1 &&
             !isa<ConstantOp>(c)) {
    // Unary ops and segment attention: the result has the first operand's type.
    c->getResult(0).setType(c->getOperand(0).getType());
  }
  return c;
}
