//===- LayerBackward.cpp - the layer's outer-loop backward function -------===//
//
// `<layer>_backward(inputs..., saved..., cotangents..., grads...) -> grads`:
// given the forward's inputs, the states `<layer>_forward_train` saved (per
// state [B, H, S, ...]: the starting values of every checkpointEvery-th
// chunk) and a cotangent for each of the forward's outputs (readouts
// [B, T, H, n] in the I/O type, final states [B, H, ...]), fills the
// gradient of every input (same shapes and types as the inputs; an omitted
// optional input, of dimension 0 of size 0, gets none). Per (b, h), a
// reverse sweep walks the chunks from the last, calling the layer's
// `ttt.chunk_backward` (the chunk recomputed from its starting states, then
// its reverse pass), carrying the states' cotangents backwards from the
// final-state cotangents; per-token gradients are written per chunk, those
// of parameters, position inputs and initial states summed over chunks and
// added to the (zero-filled) gradients. With checkpointEvery N > 1 the
// reverse sweep first recomputes a segment's N chunk-start states from its
// checkpoint (into an N-slot buffer), then reverses the segment's chunks.
// The chunk backward (and the chunk step that recomputes a segment) are
// private functions of their own (`<layer>_backward_chunk`,
// `<layer>_backward_step`).
//
//===----------------------------------------------------------------------===//

#include "LayerLowering.h"

using namespace mlir;
using namespace mlir::ttt;
using namespace mlir::ttt::detail;

namespace {
/// Clones `block`'s ops (not its terminator) with `m`, then erases the
/// clones that neither the values `keep` of the block map to nor other live
/// clones use (forward values only outputs not needed here would read).
void cloneLive(OpBuilder &b, Block &block, IRMapping &m, ValueRange keep) {
  SmallVector<Operation *> clones;
  for (Operation &op : block.without_terminator())
    clones.push_back(b.clone(op, m));
  llvm::SmallPtrSet<Value, 8> kept;
  for (Value v : keep)
    kept.insert(m.lookupOrDefault(v));
  for (Operation *op : llvm::reverse(clones))
    if (op->use_empty() && isPure(op) &&
        llvm::none_of(op->getResults(), [&](Value r) { return kept.contains(r); }))
      op->erase();
}
} // namespace

func::FuncOp LayerLowering::outline(Block &blk, ArrayRef<Value> results, StringRef name) {
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPoint(layer);
  SmallVector<Type> resultTypes;
  for (Value v : results)
    resultTypes.push_back(v.getType());
  auto f = func::FuncOp::create(b, loc, name,
                                b.getFunctionType(blk.getArgumentTypes(), resultTypes));
  f.setPrivate();
  f->setAttr("passthrough", b.getArrayAttr({b.getStringAttr("noinline")}));
  Block *entry = f.addEntryBlock();
  b.setInsertionPointToStart(entry);
  IRMapping m;
  for (auto [from, to] : llvm::zip(blk.getArguments(), entry->getArguments()))
    m.map(from, to);
  cloneLive(b, blk, m, results);
  SmallVector<Value> values;
  for (Value v : results)
    values.push_back(m.lookupOrDefault(v));
  func::ReturnOp::create(b, loc, values);
  return f;
}

LogicalResult LayerLowering::emitBackward() {
  Block &bb = bwd.getBody().front();
  Block &sb = step.getBody().front();
  if (bb.getNumArguments() != sb.getNumArguments() + numReadouts +
                                  llvm::count_if(decls, [](Operation *d) { return isa<StateOp>(d); }))
    return bwd.emitOpError("block arguments do not match the chunk step's");
  // The chunk step (its end states) and its backward as functions of their
  // own, called per chunk and kept out of line. Inlined into one function,
  // -O3 took superlinear time (TTT-MLP at D=64: 42 s to JIT, IndVarSimplify
  // over fully unrolled loops); out of line 12 s. Optimising for size
  // instead: 4 s to JIT, but forward + backward at B=4 T=256 H=4 D=64 on 2
  // threads ran slower (TTT-Linear 20.3 ms against 14.4, TTT-MLP 126 against
  // 107; the chunk backward alone for size: TTT-MLP 140, Titans-MLP 320
  // against 166).
  auto y = cast<YieldOp>(sb.getTerminator());
  if (checkpointEvery > 1)
    stepFn = outline(sb, SmallVector<Value>(y.getValues().drop_front(numReadouts)),
                     (layer.getSymName() + "_backward_step").str());
  chunkFn = outline(bb, SmallVector<Value>(cast<YieldOp>(bb.getTerminator()).getValues()),
                    (layer.getSymName() + "_backward_chunk").str());
  // Gradients: the inputs' types; with partialSums those of parameters and
  // position inputs per (b, h) program, [B, H, ...].
  SmallVector<Type> gradTypes = argTypes;
  if (partialSums) {
    unsigned a = 0;
    for (Operation *d : decls) {
      if (auto s = dyn_cast<StateOp>(d); s && !s.getInit())
        continue;
      if (isa<ParamOp>(d)) {
        SmallVector<int64_t> inner = specShape(d->getResult(0).getType(), D);
        gradTypes[a] = tensor({kDyn, kDyn}, isa<VecType>(d->getResult(0).getType())
                                                ? ArrayRef<int64_t>(inner)
                                                : ArrayRef<int64_t>{});
      } else if (isa<PositionInputOp>(d)) {
        gradTypes[a] = tensor({kDyn, kDyn, C}, {});
      }
      ++a;
    }
  }
  SmallVector<Type> allArgs = argTypes;
  allArgs.append(savedTypes);
  allArgs.append(outTypes);
  allArgs.append(gradTypes);
  b.setInsertionPoint(layer);
  auto func = func::FuncOp::create(b, loc, (layer.getSymName() + "_backward").str(),
                                   b.getFunctionType(allArgs, gradTypes));
  func->setAttr("llvm.emit_c_interface", b.getUnitAttr());
  Block *entry = func.addEntryBlock();
  b.setInsertionPointToStart(entry);

  DenseMap<Operation *, Value> declArg;
  unsigned argNo = bindArguments(entry, declArg);
  Value firstToken = firstTokenArg(declArg);
  auto args = entry->getArguments();
  SmallVector<Value> saved(args.begin() + argNo, args.begin() + argNo + savedTypes.size());
  argNo += savedTypes.size();
  SmallVector<Value> cotangents(args.begin() + argNo, args.begin() + argNo + outTypes.size());
  SmallVector<Value> grads(args.begin() + argNo + outTypes.size(), args.end());
  // Summed gradients start at zero; per-token ones (and partials) are
  // written whole.
  unsigned gi = 0;
  for (Operation *d : decls) {
    if (!declArg.count(d))
      continue;
    if (!isa<InputOp>(d) && !partialSums) {
      Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0));
      grads[gi] = linalg::FillOp::create(b, loc, zero, grads[gi]).getResult(0);
    }
    ++gi;
  }

  Value c0 = idx(0), c1 = idx(1);
  Value B = tensor::DimOp::create(b, loc, firstToken, 0);
  Value T = tensor::DimOp::create(b, loc, firstToken, 1);
  Value H = tensor::DimOp::create(b, loc, firstToken, 2);
  Value numChunks = arith::CeilDivSIOp::create(b, loc, T, idx(C));
  LogicalResult status = success();
  auto bLoop = scf::ForOp::create(
      b, loc, c0, B, c1, grads, [&](OpBuilder &, Location, Value bi, ValueRange bGrads) {
        auto hLoop = scf::ForOp::create(
            b, loc, c0, H, c1, bGrads, [&](OpBuilder &, Location, Value hi, ValueRange hGrads) {
              DenseMap<Operation *, Value> positionValue;
              if (failed(positionInputs(declArg, positionValue)))
                status = failure();
              scf::YieldOp::create(b, loc,
                                   perHeadBackward(declArg, positionValue, saved, cotangents, bi,
                                                   hi, T, numChunks, hGrads));
            });
        scf::YieldOp::create(b, loc, hLoop.getResults());
      });
  if (failed(status))
    return failure();
  func::ReturnOp::create(b, loc, bLoop.getResults());
  return success();
}

SmallVector<Value> LayerLowering::perHeadBackward(DenseMap<Operation *, Value> &declArg,
                                                  DenseMap<Operation *, Value> &positionValue,
                                                  ArrayRef<Value> saved, ArrayRef<Value> cotangents,
                                                  Value bi, Value hi, Value T, Value numChunks,
                                                  ValueRange gradsIn) {
  Block &sb = step.getBody().front();
  Block &bb = bwd.getBody().front();
  SmallVector<Value> grads(gradsIn);
  // Per declaration: its block argument number, its gradient's index (-1:
  // no argument), and its state number.
  SmallVector<int> gradOf(decls.size(), -1);
  SmallVector<RankedTensorType> stateTypes;
  int numGrads = 0;
  for (auto [i, d] : llvm::enumerate(decls)) {
    if (declArg.count(d))
      gradOf[i] = numGrads++;
    if (isa<StateOp>(d))
      stateTypes.push_back(cast<RankedTensorType>(sb.getArgument(i).getType()));
  }
  unsigned numStates = stateTypes.size();
  auto storeSlice = [&](RankedTensorType ct, Value ci) {
    SmallVector<OpFoldResult> off{ci}, sizes{b.getIndexAttr(1)}, strides{b.getIndexAttr(1)};
    for (int64_t n : ct.getShape()) {
      off.push_back(b.getIndexAttr(0));
      sizes.push_back(b.getIndexAttr(n));
      strides.push_back(b.getIndexAttr(1));
    }
    return std::make_tuple(off, sizes, strides);
  };
  auto chunkRange = [&](Value ci) {
    Value t0 = arith::MulIOp::create(b, loc, ci, idx(C));
    Value valid = arith::MinSIOp::create(b, loc, idx(C), arith::SubIOp::create(b, loc, T, t0));
    return std::make_pair(t0, valid);
  };
  /// Block arguments for chunk `ci` of (b, h): the per-token inputs, the
  /// states `states`, and `valid`.
  auto bindChunk = [&](Block &blk, IRMapping &m, Value t0, Value valid, ValueRange states) {
    unsigned stateNo = 0;
    for (auto [i, d] : llvm::enumerate(decls)) {
      Value arg = blk.getArgument(i);
      if (auto in = dyn_cast<InputOp>(d))
        m.map(arg, loadTokens(declArg[d], cast<RankedTensorType>(arg.getType()), bi, hi, t0, valid,
                              isa<VecType>(in.getType())));
      else if (isa<StateOp>(d))
        m.map(arg, states[stateNo++]);
    }
    m.map(blk.getArgument(decls.size()), valid);
  };

  /// A buffer of `slots` states of type `ct` (a segment's recomputed
  /// chunk-start states).
  auto storeOf = [&](RankedTensorType ct, int64_t slots) {
    SmallVector<int64_t> shape{slots};
    shape.append(ct.getShape().begin(), ct.getShape().end());
    return tensor::EmptyOp::create(b, loc, shape, f32).getResult();
  };
  auto insertAt = [&](ValueRange states, ValueRange stores, Value slot) {
    SmallVector<Value> r;
    for (unsigned s = 0; s < numStates; ++s) {
      auto [off, sizes, strides] = storeSlice(stateTypes[s], slot);
      r.push_back(tensor::InsertSliceOp::create(b, loc, states[s], stores[s], off, sizes, strides));
    }
    return r;
  };
  auto extractAt = [&](ValueRange stores, Value slot) {
    SmallVector<Value> r;
    for (unsigned s = 0; s < numStates; ++s) {
      auto [off, sizes, strides] = storeSlice(stateTypes[s], slot);
      r.push_back(tensor::ExtractSliceOp::create(b, loc, stateTypes[s], stores[s], off, sizes,
                                                 strides));
    }
    return r;
  };
  /// The arguments of a call to an outlined chunk block: its block
  /// arguments as `m` maps them.
  auto callArgs = [&](Block &blk, IRMapping &m) {
    SmallVector<Value> args;
    for (BlockArgument a : blk.getArguments())
      args.push_back(m.lookup(a));
    return args;
  };
  /// Chunk `ci` from `states`: the states at its end.
  IRMapping fixedF = bindFixed(sb, declArg, positionValue, hi);
  auto stepForward = [&](Value ci, ValueRange states) {
    auto [t0, valid] = chunkRange(ci);
    IRMapping m = fixedF;
    bindChunk(sb, m, t0, valid, states);
    return SmallVector<Value>(
        func::CallOp::create(b, loc, stepFn, callArgs(sb, m)).getResults());
  };
  /// Segments of `checkpointEvery` chunks: chunk range [c0, c0 + len).
  Value K = idx(checkpointEvery);
  Value numSegments = arith::CeilDivSIOp::create(b, loc, numChunks, K);
  auto segment = [&](Value s) {
    Value c0 = arith::MulIOp::create(b, loc, s, K);
    Value len = arith::MinSIOp::create(b, loc, K, arith::SubIOp::create(b, loc, numChunks, c0));
    return std::make_pair(c0, len);
  };
  /// numberOf(reversed index k of n): n - 1 - k.
  auto reversed = [&](Value n, Value k) {
    return arith::SubIOp::create(b, loc, arith::SubIOp::create(b, loc, n, idx(1)), k).getResult();
  };

  /// The saved starting states of segment `s`.
  auto savedAt = [&](Value s) {
    SmallVector<Value> r;
    for (unsigned i = 0; i < numStates; ++i)
      r.push_back(stateSlice(saved[i], stateTypes[i], bi, hi, s));
    return r;
  };

  // 1. Reverse sweep, carrying the states' cotangents, the sums of the
  // per-head gradients (parameters, position inputs) and the per-token
  // gradients.
  SmallVector<Value> carried;
  unsigned finalNo = numReadouts, stateNo = 0;
  for (Operation *d : decls)
    if (auto s = dyn_cast<StateOp>(d)) {
      RankedTensorType ct = stateTypes[stateNo++];
      carried.push_back(s.getFinal() ? stateSlice(cotangents[finalNo++], ct, bi, hi)
                                     : zeros(ct.getShape()));
    }
  SmallVector<unsigned> summed; // declaration numbers of the summed gradients
  for (auto [i, d] : llvm::enumerate(decls))
    if (isa<ParamOp, PositionInputOp>(d)) {
      summed.push_back(i);
      carried.push_back(zeros(cast<RankedTensorType>(sb.getArgument(i).getType()).getShape()));
    }
  SmallVector<unsigned> perToken; // declaration numbers of the per-token gradients
  for (auto [i, d] : llvm::enumerate(decls))
    if (isa<InputOp>(d)) {
      perToken.push_back(i);
      carried.push_back(grads[gradOf[i]]);
    }
  IRMapping fixedB = bindFixed(bb, declArg, positionValue, hi);
  /// The reverse step of chunk `ci` from its starting states: `args` carried.
  auto reverseChunk = [&](Value ci, ValueRange starts, ValueRange args) {
    auto [t0, valid] = chunkRange(ci);
    IRMapping m = fixedB;
    bindChunk(bb, m, t0, valid, starts);
    unsigned cot = decls.size() + 1;
    for (unsigned r = 0; r < numReadouts; ++r, ++cot)
      m.map(bb.getArgument(cot),
            loadTokens(cotangents[r], cast<RankedTensorType>(bb.getArgument(cot).getType()), bi, hi,
                       t0, valid, /*vector=*/true));
    for (unsigned s = 0; s < numStates; ++s, ++cot)
      m.map(bb.getArgument(cot), args[s]);
    auto call = func::CallOp::create(b, loc, chunkFn, callArgs(bb, m));
    auto yielded = [&](unsigned i) { return call.getResult(i); };
    // The states' cotangents and the sums are written over the carried
    // values (a copy that bufferizes in place): one buffer each for the whole
    // sweep, not one per chunk (in a GPU kernel a heap allocation per chunk).
    auto over = [&](Value v, Value carried) {
      return linalg::CopyOp::create(b, loc, v, carried).getResult(0);
    };
    SmallVector<Value> next;
    unsigned st = 0;
    for (auto [i, d] : llvm::enumerate(decls))
      if (isa<StateOp>(d)) {
        next.push_back(over(yielded(i), args[st]));
        ++st;
      }
    for (auto [j, i] : llvm::enumerate(summed))
      next.push_back(over(AddOp::create(b, loc, args[numStates + j], yielded(i)),
                          args[numStates + j]));
    for (auto [j, i] : llvm::enumerate(perToken)) {
      Value dest = args[numStates + summed.size() + j];
      next.push_back(isa<VecType>(decls[i]->getResult(0).getType())
                         ? storeTokens(yielded(i), dest, bi, hi, t0, valid)
                         : storeScalarTokens(yielded(i), dest, bi, hi, t0, valid));
    }
    return next;
  };
  auto rLoop = scf::ForOp::create(
      b, loc, idx(0), numSegments, idx(1), carried,
      [&](OpBuilder &, Location, Value k, ValueRange args) {
        Value s = reversed(numSegments, k);
        SmallVector<Value> start = savedAt(s);
        if (checkpointEvery == 1) {
          scf::YieldOp::create(b, loc, reverseChunk(s, start, args));
          return;
        }
        // The segment's chunk-start states recomputed from its checkpoint
        // into a buffer of checkpointEvery states, then its chunks reversed.
        auto [c0, len] = segment(s);
        SmallVector<Value> local;
        for (RankedTensorType ct : stateTypes)
          local.push_back(storeOf(ct, checkpointEvery));
        local = insertAt(start, local, idx(0));
        // Only the slot buffers are carried: chunk j - 1's end states go
        // straight into slot j (carrying the states too would yield a fresh
        // buffer per chunk, in a GPU kernel a heap allocation each).
        auto re = scf::ForOp::create(
            b, loc, idx(1), len, idx(1), local,
            [&](OpBuilder &, Location, Value j, ValueRange st) {
              Value prev = arith::SubIOp::create(b, loc, j, idx(1));
              Value ci = arith::AddIOp::create(b, loc, c0, prev);
              SmallVector<Value> next = stepForward(ci, extractAt(st, prev));
              scf::YieldOp::create(b, loc, insertAt(next, st, j));
            });
        SmallVector<Value> starts(re.getResults());
        auto inner = scf::ForOp::create(
            b, loc, idx(0), len, idx(1), args,
            [&](OpBuilder &, Location, Value kj, ValueRange a) {
              Value j = reversed(len, kj);
              scf::YieldOp::create(
                  b, loc,
                  reverseChunk(arith::AddIOp::create(b, loc, c0, j), extractAt(starts, j), a));
            });
        scf::YieldOp::create(b, loc, inner.getResults());
      });

  // 2. Per-token gradients as written; the sums added to the gradients.
  for (auto [j, i] : llvm::enumerate(perToken))
    grads[gradOf[i]] = rLoop.getResult(numStates + summed.size() + j);
  for (auto [j, i] : llvm::enumerate(summed)) {
    Value sum = rLoop.getResult(numStates + j);
    Value &g = grads[gradOf[i]];
    if (partialSums) // program (b, h)'s own partial
      g = isa<ParamOp>(decls[i]) ? storePartial(sum, g, bi, hi)
                                 : ifPresent(g, [&, gv = g] {
                                     return storePartial(sum, gv, bi, hi);
                                   });
    else if (isa<ParamOp>(decls[i]))
      g = addParam(g, sum, hi);
    else // a position input: none when omitted (dimension 0 of size 0)
      g = ifPresent(g, [&] { return addPosition(g, sum); });
  }
  stateNo = 0;
  for (auto [i, d] : llvm::enumerate(decls)) {
    auto s = dyn_cast<StateOp>(d);
    if (!s)
      continue;
    Value cot = rLoop.getResult(stateNo++);
    if (gradOf[i] < 0)
      continue;
    Value &g = grads[gradOf[i]];
    auto add = [&, gv = g] {
      if (partialSums) // row b of a [B, H, ...] partial
        return storeState(cot, gv, bi, hi);
      Value dim0 = tensor::DimOp::create(b, loc, gv, 0);
      Value shared = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, dim0, idx(1));
      Value row = arith::SelectOp::create(b, loc, shared, idx(0), bi);
      Value sum = AddOp::create(b, loc, stateSlice(gv, cast<RankedTensorType>(cot.getType()), row, hi), cot);
      return storeState(sum, gv, row, hi);
    };
    g = s.getInitOptional() ? ifPresent(g, add) : add();
  }
  return grads;
}
