//===- LayerToFunc.cpp - chunked layer -> func with (b, h, chunk) loops ---===//
//
// The function takes the inputs and the output destinations described by
// `getLayerSignature` as tensors with dynamic B, T, H (initial states as
// [Bi, H, ...] with Bi = 1 (shared) or B, or Bi = 0 for an omitted optional
// state) and returns the filled outputs. Per (b, h) the states are carried
// across an scf.for over chunks; each chunk's tokens are copied into
// zero-padded [C, n] tensors, the `ttt.chunk_step` body is inlined, and the
// real rows of the readouts are written back.
//
//===----------------------------------------------------------------------===//

#include "LayerLowering.h"

#include "dialect/Passes.h"

namespace mlir::ttt {
#define GEN_PASS_DEF_TTTLOWERLAYERTOFUNC
#include "dialect/TTTPasses.h.inc"
} // namespace mlir::ttt

using namespace mlir;
using namespace mlir::ttt;
using namespace mlir::ttt::detail;

LogicalResult LayerLowering::prepare() {
  for (Operation &op : layer.getBodyBlock())
    if (auto s = dyn_cast<ChunkStepOp>(op))
      step = s;
    else if (auto s = dyn_cast<ChunkBackwardOp>(op))
      bwd = s;
  if (!step || !layer.getHeadDim())
    return layer.emitOpError("run ttt-dual-form before ttt-lower-layer-to-func");
  D = *layer.getHeadDim();
  C = layer.getChunkSize() ? *layer.getChunkSize() : layer.getMiniBatch();
  f32 = b.getF32Type();

  // Declarations, in the chunk step's block-argument order.
  for (Operation &op : layer.getBodyBlock())
    if (isa<InputOp, PositionInputOp, ParamOp, StateOp>(op))
      decls.push_back(&op);
  Block &sb = step.getBody().front();
  if (sb.getNumArguments() != decls.size() + 1)
    return step.emitOpError("block arguments do not match the declarations");
  if (!llvm::any_of(decls, [](Operation *d) {
        return isa<InputOp>(d) && isa<VecType>(d->getResult(0).getType());
      }))
    return layer.emitOpError("needs at least one per-token vector input");

  // Function type.
  for (Operation *d : decls) {
    Type t = d->getResult(0).getType();
    SmallVector<int64_t> inner = specShape(t, D);
    if (isa<InputOp>(d))
      argTypes.push_back(tensor({kDyn, kDyn, kDyn}, inner, io));
    else if (isa<PositionInputOp>(d))
      argTypes.push_back(tensor({kDyn}, {}));
    else if (isa<ParamOp>(d))
      argTypes.push_back(tensor({kDyn}, inner));
    else if (cast<StateOp>(d).getInit())
      argTypes.push_back(tensor({kDyn, kDyn}, inner));
  }
  auto yield = cast<YieldOp>(sb.getTerminator());
  numReadouts = step.getReadouts().size();
  for (unsigned i = 0; i < numReadouts; ++i)
    outTypes.push_back(tensor({kDyn, kDyn, kDyn},
                              {cast<RankedTensorType>(yield.getValues()[i].getType())
                                   .getDimSize(1)},
                              io));
  SmallVector<StateOp> states;
  for (Operation *d : decls)
    if (auto s = dyn_cast<StateOp>(d))
      states.push_back(s);
  for (StateOp s : states)
    if (s.getFinal())
      outTypes.push_back(tensor({kDyn, kDyn}, specShape(s.getType(), D)));
  for (StateOp s : states)
    savedTypes.push_back(tensor({kDyn, kDyn, kDyn}, specShape(s.getType(), D)));
  return success();
}

LogicalResult LayerLowering::emitForward(Entry kind) {
  bool train = kind == Entry::Train, everyState = kind == Entry::Resume;
  SmallVector<Type> allArgs = argTypes, results = outTypes;
  if (everyState) {
    // The forward's inputs other than initial states, then every state's
    // value, in declaration order; the readouts and every state's final
    // value.
    allArgs.clear();
    results.assign(outTypes.begin(), outTypes.begin() + numReadouts);
    unsigned given = 0; // the forward's argument of the declaration
    for (Operation *d : decls) {
      if (auto s = dyn_cast<StateOp>(d))
        given += s.getInit() ? 1 : 0;
      else
        allArgs.push_back(argTypes[given++]);
    }
    for (Operation *d : decls)
      if (auto s = dyn_cast<StateOp>(d)) {
        allArgs.push_back(tensor({kDyn, kDyn}, specShape(s.getType(), D)));
        results.push_back(allArgs.back());
      }
  }
  allArgs.append(results);
  if (train) {
    allArgs.append(savedTypes);
    results.append(savedTypes);
  }
  b.setInsertionPoint(layer);
  std::string name = layer.getSymName().str() +
                     (train ? "_forward_train" : everyState ? "_resume" : "");
  auto func = func::FuncOp::create(b, loc, name, b.getFunctionType(allArgs, results));
  func->setAttr("llvm.emit_c_interface", b.getUnitAttr());
  Block *entry = func.addEntryBlock();
  b.setInsertionPointToStart(entry);

  // Bind declarations to function arguments.
  DenseMap<Operation *, Value> declArg;
  unsigned argNo = bindArguments(entry, declArg, everyState);
  Value firstToken = firstTokenArg(declArg);
  // Outputs, then (a training forward) the saved states.
  SmallVector<Value> outs(entry->getArguments().begin() + argNo,
                          entry->getArguments().end());
  unsigned numOuts = results.size() - (train ? savedTypes.size() : 0);

  Value c0 = idx(0), c1 = idx(1), cC = idx(C);
  Value B = tensor::DimOp::create(b, loc, firstToken, 0);
  Value T = tensor::DimOp::create(b, loc, firstToken, 1);
  Value H = tensor::DimOp::create(b, loc, firstToken, 2);
  Value numChunks = arith::CeilDivSIOp::create(b, loc, T, cC);

  // for b, for h: carry the output tensors.
  LogicalResult status = success();
  auto bLoop = scf::ForOp::create(
      b, loc, c0, B, c1, outs,
      [&](OpBuilder &, Location, Value bi, ValueRange bOuts) {
        auto hLoop = scf::ForOp::create(
            b, loc, c0, H, c1, bOuts,
            [&](OpBuilder &, Location, Value hi, ValueRange hOuts) {
              // Everything per (b, h) is computed inside the loops (device
              // code, on the GPU path): the position inputs too.
              DenseMap<Operation *, Value> positionValue;
              if (failed(positionInputs(declArg, positionValue)))
                status = failure();
              SmallVector<Value> r =
                  perHead(declArg, positionValue, bi, hi, T, numChunks, hOuts.take_front(numOuts),
                          hOuts.drop_front(numOuts), everyState);
              scf::YieldOp::create(b, loc, r);
            });
        scf::YieldOp::create(b, loc, hLoop.getResults());
      });
  if (failed(status))
    return failure();
  func::ReturnOp::create(b, loc, bLoop.getResults());
  return success();
}

SmallVector<Value> LayerLowering::perHead(DenseMap<Operation *, Value> &declArg,
                                          DenseMap<Operation *, Value> &positionValue,
                                          Value bi, Value hi, Value T, Value numChunks,
                                          ValueRange outs, ValueRange saved, bool everyState) {
  Block &sb = step.getBody().front();
  IRMapping fixed = bindFixed(sb, declArg, positionValue, hi);
  SmallVector<Value> stateInit;
  for (auto [i, d] : llvm::enumerate(decls))
    if (auto s = dyn_cast<StateOp>(d))
      stateInit.push_back(initialState(s, cast<RankedTensorType>(sb.getArgument(i).getType()),
                                       declArg.lookup(d), bi, hi, everyState));

  // The chunk loop carries the states, the readout outputs and the saved
  // states.
  SmallVector<Value> iter = stateInit;
  iter.append(outs.begin(), outs.begin() + numReadouts);
  iter.append(saved.begin(), saved.end());
  unsigned numStates = stateInit.size();
  auto cLoop = scf::ForOp::create(
      b, loc, idx(0), numChunks, idx(1), iter,
      [&](OpBuilder &, Location, Value ci, ValueRange args) {
        // A training forward saves the states a checkpoint's chunk starts
        // from (every checkpointEvery-th chunk).
        SmallVector<Value> savedNext(args.drop_front(numStates + numReadouts));
        auto save = [&] {
          Value slot = arith::DivUIOp::create(b, loc, ci, idx(checkpointEvery));
          SmallVector<Value> r;
          for (unsigned s = 0; s < numStates; ++s)
            r.push_back(storeState(args[s], savedNext[s], bi, hi, slot));
          return r;
        };
        if (!saved.empty() && checkpointEvery == 1) {
          savedNext = save();
        } else if (!saved.empty()) {
          Value rem = arith::RemUIOp::create(b, loc, ci, idx(checkpointEvery));
          Value at = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, rem, idx(0));
          auto ifOp = scf::IfOp::create(b, loc, ValueRange(savedNext).getTypes(), at, true);
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPointToStart(&ifOp.getThenRegion().front());
          scf::YieldOp::create(b, loc, save());
          b.setInsertionPointToStart(&ifOp.getElseRegion().front());
          scf::YieldOp::create(b, loc, savedNext);
          savedNext = SmallVector<Value>(ifOp.getResults());
        }
        Value t0 = arith::MulIOp::create(b, loc, ci, idx(C));
        Value valid = arith::MinSIOp::create(
            b, loc, idx(C), arith::SubIOp::create(b, loc, T, t0));
        IRMapping m = fixed;
        unsigned stateNo = 0;
        for (auto [i, d] : llvm::enumerate(decls)) {
          Value arg = sb.getArgument(i);
          if (auto in = dyn_cast<InputOp>(d))
            m.map(arg, loadTokens(declArg[d], cast<RankedTensorType>(arg.getType()),
                                  bi, hi, t0, valid, isa<VecType>(in.getType())));
          else if (isa<StateOp>(d))
            m.map(arg, args[stateNo++]);
        }
        m.map(sb.getArgument(sb.getNumArguments() - 1), valid);
        for (Operation &op : sb.without_terminator())
          b.clone(op, m);
        auto y = cast<YieldOp>(sb.getTerminator());
        SmallVector<Value> next;
        // The next states are written over the carried ones (a copy that
        // bufferizes in place), so the loop needs no new state buffer per
        // chunk.
        for (unsigned s = 0; s < numStates; ++s)
          next.push_back(linalg::CopyOp::create(b, loc, m.lookup(y.getValues()[numReadouts + s]),
                                                args[s])
                             .getResult(0));
        for (unsigned r = 0; r < numReadouts; ++r)
          next.push_back(storeTokens(m.lookup(y.getValues()[r]), args[numStates + r],
                                     bi, hi, t0, valid));
        next.append(savedNext);
        scf::YieldOp::create(b, loc, next);
      });

  SmallVector<Value> result;
  for (unsigned r = 0; r < numReadouts; ++r)
    result.push_back(cLoop.getResult(numStates + r));
  unsigned finalNo = numReadouts, stateNo = 0;
  for (Operation *d : decls) {
    auto s = dyn_cast<StateOp>(d);
    if (!s)
      continue;
    Value v = cLoop.getResult(stateNo++);
    if (!s.getFinal() && !everyState)
      continue;
    result.push_back(storeState(v, outs[finalNo++], bi, hi));
  }
  for (unsigned s = 0; s < saved.size(); ++s)
    result.push_back(cLoop.getResult(numStates + numReadouts + s));
  return result;
}

namespace {
struct TTTLowerLayerToFuncPass
    : ttt::impl::TTTLowerLayerToFuncBase<TTTLowerLayerToFuncPass> {
  using Base::Base;
  void runOnOperation() override {
    MLIRContext *ctx = &getContext();
    Type io;
    if (ioType == "f32")
      io = Float32Type::get(ctx);
    else if (ioType == "bf16")
      io = BFloat16Type::get(ctx);
    else if (ioType == "f16")
      io = Float16Type::get(ctx);
    else {
      getOperation().emitError("ttt-lower-layer-to-func: io-dtype must be f32, bf16 or f16, got '")
          << ioType << "'";
      return signalPassFailure();
    }
    if (checkpointEvery < 1) {
      getOperation().emitError("ttt-lower-layer-to-func: checkpoint-every must be at least 1, got ")
          << checkpointEvery;
      return signalPassFailure();
    }
    SmallVector<LayerOp> layers;
    getOperation().walk([&](LayerOp l) { layers.push_back(l); });
    for (LayerOp l : layers)
      if (failed(LayerLowering(l, io, checkpointEvery, resume, partialSums).run()))
        return signalPassFailure();
  }
};
} // namespace
