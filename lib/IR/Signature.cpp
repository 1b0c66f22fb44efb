//===- Signature.cpp - the calling convention of a compiled layer ---------===//

#include "dialect/Signature.h"
#include "dialect/TTTOps.h"

using namespace mlir;
using namespace mlir::ttt;

LayerSignature mlir::ttt::getLayerSignature(LayerOp layer, int64_t D, int64_t C) {
  LayerSignature sig;
  sig.name = layer.getSymName().str();
  sig.headDim = D;
  sig.miniBatch = C;
  auto inner = [&](Type t) {
    SmallVector<int64_t> s = specShape(t, D);
    return std::vector<int64_t>(s.begin(), s.end());
  };
  std::vector<ArgInfo> finals;
  for (Operation &op : layer.getBodyBlock()) {
    if (auto in = dyn_cast<InputOp>(op)) {
      bool vec = isa<VecType>(in.getType());
      sig.inputs.push_back({in.getName().str(),
                            vec ? ArgKind::TokenVector : ArgKind::TokenScalar,
                            inner(in.getType()), false});
    } else if (auto p = dyn_cast<PositionInputOp>(op)) {
      sig.inputs.push_back({p.getName().str(), ArgKind::PositionScalar, {}, true});
    } else if (auto p = dyn_cast<ParamOp>(op)) {
      bool vec = isa<VecType>(p.getType());
      sig.inputs.push_back({p.getName().str(),
                            vec ? ArgKind::ParamVector : ArgKind::ParamScalar,
                            inner(p.getType()), false});
    } else if (auto s = dyn_cast<StateOp>(op)) {
      sig.states.push_back({s.getName().str(), ArgKind::StateFinal, inner(s.getType()), false});
      sig.stateInit.push_back(s.getInit() ? int(sig.inputs.size()) : -1);
      if (s.getInit())
        sig.inputs.push_back({s.getInit()->str(), ArgKind::StateInit,
                              inner(s.getType()), s.getInitOptional()});
      // Final values come after the readouts: indices fixed below.
      sig.stateFinal.push_back(s.getFinal() ? int(finals.size()) : -1);
      if (s.getFinal())
        finals.push_back({s.getFinal()->str(), ArgKind::StateFinal, inner(s.getType()), false});
    } else if (auto r = dyn_cast<ReadoutOp>(op)) {
      Type t = cast<YieldOp>(r.getBody().front().getTerminator()).getValues()[0].getType();
      sig.outputs.push_back({r.getName().str(), ArgKind::Readout, inner(t), false});
    } else if (auto cs = dyn_cast<ChunkStepOp>(op)) {
      // After ttt-dual-form the readouts are the chunk step's first results.
      auto y = cast<YieldOp>(cs.getBody().front().getTerminator());
      for (auto [i, n] : llvm::enumerate(cs.getReadouts().getAsValueRange<StringAttr>())) {
        auto t = cast<RankedTensorType>(y.getValues()[i].getType());
        sig.outputs.push_back({n.str(), ArgKind::Readout, {t.getDimSize(1)}, false});
      }
    }
  }
  for (int &f : sig.stateFinal)
    if (f >= 0)
      f += int(sig.outputs.size());
  sig.outputs.insert(sig.outputs.end(), finals.begin(), finals.end());
  return sig;
}

std::string mlir::ttt::describeShape(const ArgInfo &a, int64_t C) {
  std::string s = "[";
  switch (a.kind) {
  case ArgKind::TokenVector:
  case ArgKind::TokenScalar:
  case ArgKind::Readout:
    s += "B, T, H";
    break;
  case ArgKind::PositionScalar:
    s += std::to_string(C);
    break;
  case ArgKind::ParamVector:
  case ArgKind::ParamScalar:
    s += "H";
    break;
  case ArgKind::StateInit:
    s += "H or B, H";
    break;
  case ArgKind::StateFinal:
    s += "B, H";
    break;
  }
  for (int64_t d : a.inner)
    s += ", " + std::to_string(d);
  return s + "]";
}

std::vector<EntryArg> mlir::ttt::entryArguments(const LayerSignature &sig, EntryPoint e) {
  std::vector<EntryArg> r;
  auto add = [&](const std::vector<ArgInfo> &args, const std::string &prefix,
                 EntryArg::Role role = EntryArg::Value) {
    for (const ArgInfo &a : args)
      r.push_back({prefix + a.name, &a, role});
  };
  switch (e) {
  case EntryPoint::Forward:
    add(sig.inputs, "");
    add(sig.outputs, "");
    break;
  case EntryPoint::Train:
    add(sig.inputs, "");
    add(sig.outputs, "");
    add(sig.states, "saved_", EntryArg::Saved);
    break;
  case EntryPoint::Backward:
    add(sig.inputs, "");
    add(sig.states, "saved_", EntryArg::Saved);
    add(sig.outputs, "cotangent_");
    add(sig.inputs, "grad_");
    break;
  case EntryPoint::Resume:
    for (const ArgInfo &a : sig.inputs)
      if (a.kind != ArgKind::StateInit)
        r.push_back({a.name, &a});
    add(sig.states, "", EntryArg::State);
    for (const ArgInfo &a : sig.outputs)
      if (a.kind == ArgKind::Readout)
        r.push_back({a.name, &a});
    add(sig.states, "final_", EntryArg::State);
    break;
  }
  return r;
}
