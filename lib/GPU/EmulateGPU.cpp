//===- EmulateGPU.cpp - the mapped kernel IR run on the CPU ---------------===//
//
// The kernel IR exactly as mapped for the GPU (block and thread ids, grid and
// block sizes, shared memory, barriers) runs on the CPU. One-thread programs
// without barriers become nested loops; any other launch is outlined into a
// function the emulation runtime (lib/Runtime/EmuRuntime.cpp) runs with one
// fiber per thread, switching threads at barriers.
//
//===----------------------------------------------------------------------===//

#include "dialect/GPU/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/MemRef/Utils/MemRefUtils.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/ViewLikeInterface.h"
#include "mlir/Transforms/RegionUtils.h"
#include "llvm/ADT/SetVector.h"

namespace mlir::ttt {
#define GEN_PASS_DEF_TTTEMULATEGPU
#include "dialect/GPU/Passes.h.inc"
} // namespace mlir::ttt

using namespace mlir;

namespace {
bool isOne(Value v) {
  auto c = v.getDefiningOp<arith::ConstantIndexOp>();
  return c && c.value() == 1;
}

/// A program's thread-local (stack) buffers become heap buffers on the CPU (a
/// CPU stack is much smaller than a GPU's local memory); the deallocation
/// pipeline frees them when the program ends.
void allocasToAllocs(Block &body) {
  for (Operation &op : llvm::make_early_inc_range(body))
    if (auto a = dyn_cast<memref::AllocaOp>(op)) {
      OpBuilder b(a);
      auto alloc = memref::AllocOp::create(b, a.getLoc(), a.getType(), a.getDynamicSizes(),
                                           a.getAlignmentAttr());
      a.getResult().replaceAllUsesWith(alloc.getResult());
      a.erase();
    }
}

/// One-thread programs, no barriers: loops over the grid.
void emulateWithLoops(gpu::LaunchOp launch) {
  OpBuilder b(launch);
  Location loc = launch.getLoc();
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  gpu::KernelDim3 gs = launch.getGridSizeOperandValues();
  gpu::KernelDim3 bs = launch.getBlockSizeOperandValues();
  SmallVector<Value> bounds = {gs.z, gs.y, gs.x};
  SmallVector<Value> ivs;
  for (Value ub : bounds) {
    auto loop = scf::ForOp::create(b, loc, zero, ub, one);
    ivs.push_back(loop.getInductionVar());
    b.setInsertionPointToStart(loop.getBody());
  }
  IRMapping map;
  gpu::KernelDim3 bid = launch.getBlockIds(), tid = launch.getThreadIds(),
                  gsz = launch.getGridSize(), bsz = launch.getBlockSize();
  map.map(bid.z, ivs[0]);
  map.map(bid.y, ivs[1]);
  map.map(bid.x, ivs[2]);
  for (Value t : {tid.x, tid.y, tid.z})
    map.map(t, zero);
  map.map(gsz.z, gs.z);
  map.map(gsz.y, gs.y);
  map.map(gsz.x, gs.x);
  map.map(bsz.z, bs.z);
  map.map(bsz.y, bs.y);
  map.map(bsz.x, bs.x);
  Block &body = launch.getBody().front();
  for (Operation &op : body)
    if (!isa<gpu::TerminatorOp>(op))
      b.clone(op, map);
  launch.erase();
}

/// The LLVM type a captured value travels as through the launch context.
Type slotType(Type t) {
  MLIRContext *ctx = t.getContext();
  auto i64 = IntegerType::get(ctx, 64);
  if (auto m = dyn_cast<MemRefType>(t)) {
    auto ptr = LLVM::LLVMPointerType::get(ctx);
    SmallVector<Type> fields = {ptr, ptr, i64};
    if (m.getRank()) {
      auto arr = LLVM::LLVMArrayType::get(i64, m.getRank());
      fields.push_back(arr);
      fields.push_back(arr);
    }
    return LLVM::LLVMStructType::getLiteral(ctx, fields);
  }
  if (isa<IndexType>(t))
    return i64;
  if (isa<IntegerType, FloatType>(t))
    return t;
  return {};
}

/// Drops the workgroup address space (shared memory is an ordinary buffer on
/// the CPU) from every memref type in `op`.
void dropAddressSpaces(Operation *op) {
  auto strip = [](Value v) {
    auto t = dyn_cast<MemRefType>(v.getType());
    if (t && t.getMemorySpace())
      v.setType(MemRefType::get(t.getShape(), t.getElementType(), t.getLayout()));
  };
  op->walk([&](Operation *o) {
    for (Value r : o->getResults())
      strip(r);
    for (Region &reg : o->getRegions())
      for (Block &blk : reg)
        for (BlockArgument a : blk.getArguments())
          strip(a);
  });
}

/// Reports the byte address of every shared-memory access (`shared`) and of
/// every access to the layer's buffers (`global`) to the runtime.
void instrumentAccesses(Block &body, func::FuncOp shared, func::FuncOp global) {
  // Shared memory, and the per-program global scratch buffers
  // (ttt-distribute-to-threads) the threads of a block also exchange data in.
  auto isShared = [](Value m) {
    auto t = cast<MemRefType>(m.getType());
    auto as = dyn_cast_or_null<gpu::AddressSpaceAttr>(t.getMemorySpace());
    if (as && as.getValue() == gpu::AddressSpace::Workgroup)
      return true;
    while (auto view = m.getDefiningOp<ViewLikeOpInterface>()) {
      m = view.getViewSource();
      Operation *def = m.getDefiningOp();
      if (def && def->hasAttr("ttt.scratch"))
        return true;
    }
    return false;
  };
  // The kernel's buffers: views of values from outside the launch.
  Region *kernel = body.getParent();
  auto isGlobal = [&](Value m) {
    return !kernel->isAncestor(
        memref::skipViewLikeOps(cast<MemrefValue>(m)).getParentRegion());
  };
  auto report = [&](Operation *op, Value m, ValueRange idx, bool write, func::FuncOp hook) {
    OpBuilder b(op);
    Location loc = op->getLoc();
    auto md = memref::ExtractStridedMetadataOp::create(b, loc, m);
    Value lin = md.getOffset();
    for (auto [i, s] : llvm::zip(idx, md.getStrides()))
      lin = arith::AddIOp::create(b, loc, lin, arith::MulIOp::create(b, loc, i, s));
    Value base = memref::ExtractAlignedPointerAsIndexOp::create(b, loc, m);
    auto t = cast<MemRefType>(m.getType());
    Value eb = arith::ConstantIndexOp::create(b, loc, (t.getElementTypeBitWidth() + 7) / 8);
    Value addr = arith::AddIOp::create(b, loc, base, arith::MulIOp::create(b, loc, lin, eb));
    Value w = arith::ConstantIndexOp::create(b, loc, write ? 1 : 0);
    func::CallOp::create(b, loc, hook, ValueRange{addr, w});
  };
  auto visit = [&](Operation *op, Value m, ValueRange idx, bool write) {
    if (isShared(m))
      report(op, m, idx, write, shared);
    else if (isGlobal(m))
      report(op, m, idx, write, global);
  };
  body.walk([&](Operation *op) {
    if (auto l = dyn_cast<memref::LoadOp>(op))
      visit(op, l.getMemRef(), l.getIndices(), false);
    else if (auto s = dyn_cast<memref::StoreOp>(op))
      visit(op, s.getMemRef(), s.getIndices(), true);
  });
}

func::FuncOp declare(ModuleOp m, StringRef name, FunctionType type) {
  if (auto f = m.lookupSymbol<func::FuncOp>(name))
    return f;
  OpBuilder b = OpBuilder::atBlockEnd(m.getBody());
  auto f = func::FuncOp::create(b, m.getLoc(), name, type);
  f.setPrivate();
  return f;
}

struct TTTEmulateGPUPass : ttt::impl::TTTEmulateGPUBase<TTTEmulateGPUPass> {
  using Base::Base;

  LogicalResult emulateWithFibers(gpu::LaunchOp launch, unsigned index) {
    ModuleOp module = getOperation();
    MLIRContext *ctx = module.getContext();
    Location loc = launch.getLoc();
    if (!launch.getBody().hasOneBlock())
      return launch.emitError("ttt-emulate-gpu: expected a single-block kernel body");
    Block &body = launch.getBody().front();
    IRRewriter rw(ctx);
    // Every access a plain load or store (the race check sees all of them).
    SmallVector<linalg::LinalgOp> linalgOps;
    body.walk([&](linalg::LinalgOp op) { linalgOps.push_back(op); });
    for (linalg::LinalgOp op : linalgOps) {
      rw.setInsertionPoint(op);
      if (failed(linalg::linalgOpToLoops(rw, op)))
        return op.emitError("ttt-emulate-gpu: cannot lower to loops");
      rw.eraseOp(op);
    }
    auto ptrT = LLVM::LLVMPointerType::get(ctx);
    auto indexT = IndexType::get(ctx);
    if (countOps) {
      // Each block of the kernel counts its ops (constants aside) when it
      // runs: a proxy for the instructions a warp issues.
      auto countFn = declare(module, "tttc_emu_count", FunctionType::get(ctx, {indexT}, {}));
      SmallVector<Block *> blocks = {&body};
      body.walk([&](Operation *op) {
        for (Region &r : op->getRegions())
          for (Block &blk : r)
            blocks.push_back(&blk);
      });
      // A block's ops are counted where they run between block barriers:
      // at the start of each run of ops that neither is nor holds a barrier
      // (so the critical path charges each barrier phase its own ops).
      auto holdsBarrier = [](Operation &op) {
        return op.walk([](gpu::BarrierOp) { return WalkResult::interrupt(); })
            .wasInterrupted();
      };
      for (Block *blk : blocks) {
        SmallVector<std::pair<Operation *, int64_t>> runs; // first op, ops
        bool startRun = true;
        for (Operation &op : *blk) {
          if (op.hasTrait<OpTrait::ConstantLike>())
            continue;
          if (startRun)
            runs.push_back({&op, 0});
          runs.back().second += 1;
          startRun = holdsBarrier(op);
        }
        for (auto [first, n] : runs) {
          OpBuilder cb(first);
          func::CallOp::create(cb, loc, countFn,
                               ValueRange{arith::ConstantIndexOp::create(cb, loc, n)});
        }
      }
    }
    if (checkRaces) {
      auto hookT = FunctionType::get(ctx, {indexT, indexT}, {});
      instrumentAccesses(body, declare(module, "tttc_emu_access", hookT),
                         declare(module, "tttc_emu_global_access", hookT));
    }
    allocasToAllocs(body);

    // Shared memory: one buffer per launch (blocks run one at a time).
    OpBuilder b(launch);
    Value smem;
    if (Value bytes = launch.getDynamicSharedMemorySize()) {
      Value n = arith::IndexCastOp::create(b, loc, indexT, bytes);
      smem = memref::AllocOp::create(b, loc,
                                     MemRefType::get({ShapedType::kDynamic}, b.getI8Type()),
                                     ValueRange{n}, b.getI64IntegerAttr(64));
    }
    SmallVector<gpu::DynamicSharedMemoryOp> dsm;
    body.walk([&](gpu::DynamicSharedMemoryOp d) { dsm.push_back(d); });
    for (gpu::DynamicSharedMemoryOp d : dsm) {
      if (!smem)
        return d.emitError("dynamic shared memory in a launch that reserves none");
      d.getResult().replaceAllUsesWith(smem);
      d.erase();
    }
    dropAddressSpaces(launch);

    // The kernel function: (context, block id x y z, thread id x y z).
    SmallVector<Type> kargs = {ptrT};
    kargs.append(6, indexT);
    auto kType = FunctionType::get(ctx, kargs, {});
    std::string name = "__tttc_emu_kernel_" + std::to_string(index);
    OpBuilder mb = OpBuilder::atBlockEnd(module.getBody());
    auto kernel = func::FuncOp::create(mb, loc, name, kType);
    kernel.setPrivate();
    Block *entry = kernel.addEntryBlock();
    OpBuilder kb = OpBuilder::atBlockEnd(entry);

    llvm::SetVector<Value> captured;
    getUsedValuesDefinedAbove(launch.getBody(), captured);
    gpu::KernelDim3 gs = launch.getGridSizeOperandValues();
    gpu::KernelDim3 bs = launch.getBlockSizeOperandValues();
    for (Value v : {gs.x, gs.y, gs.z, bs.x, bs.y, bs.z})
      captured.insert(v);

    // Constants (hoisted out of the launch by canonicalization) are cloned
    // into the kernel, as GPU kernel outlining sinks them.
    IRMapping map;
    SmallVector<Value> passed;
    for (Value v : captured) {
      Operation *def = v.getDefiningOp();
      if (def && def->hasTrait<OpTrait::ConstantLike>() && def->getNumResults() == 1)
        map.map(v, kb.clone(*def)->getResult(0));
      else
        passed.push_back(v);
    }
    // Launch site: each other captured value stored in a slot, the context
    // an array of slot pointers.
    Value count = LLVM::ConstantOp::create(b, loc, b.getI64Type(), passed.size());
    Value ctxArr = LLVM::AllocaOp::create(b, loc, ptrT, ptrT, count);
    Value one = LLVM::ConstantOp::create(b, loc, b.getI64Type(), 1);
    for (auto [k, v] : llvm::enumerate(passed)) {
      Type st = slotType(v.getType());
      if (!st)
        return launch.emitError("ttt-emulate-gpu: cannot pass a value of type ")
               << v.getType() << " to an emulated kernel";
      Value slot = LLVM::AllocaOp::create(b, loc, ptrT, st, one);
      Value stored = v;
      if (isa<MemRefType>(v.getType()))
        stored = UnrealizedConversionCastOp::create(b, loc, st, v).getResult(0);
      else if (isa<IndexType>(v.getType()))
        stored = arith::IndexCastOp::create(b, loc, st, v);
      LLVM::StoreOp::create(b, loc, stored, slot);
      Value at = LLVM::GEPOp::create(b, loc, ptrT, ptrT, ctxArr,
                                     ArrayRef<LLVM::GEPArg>{int32_t(k)});
      LLVM::StoreOp::create(b, loc, slot, at);
      // In the kernel: load it back.
      Value kat = LLVM::GEPOp::create(kb, loc, ptrT, ptrT, entry->getArgument(0),
                                      ArrayRef<LLVM::GEPArg>{int32_t(k)});
      Value kslot = LLVM::LoadOp::create(kb, loc, ptrT, kat);
      Value kv = LLVM::LoadOp::create(kb, loc, st, kslot);
      if (isa<MemRefType>(v.getType()))
        kv = UnrealizedConversionCastOp::create(kb, loc, v.getType(), kv).getResult(0);
      else if (isa<IndexType>(v.getType()))
        kv = arith::IndexCastOp::create(kb, loc, indexT, kv);
      map.map(v, kv);
    }
    gpu::KernelDim3 bid = launch.getBlockIds(), tid = launch.getThreadIds(),
                    gsz = launch.getGridSize(), bsz = launch.getBlockSize();
    Value ids[] = {bid.x, bid.y, bid.z, tid.x, tid.y, tid.z};
    for (int i = 0; i < 6; ++i)
      map.map(ids[i], entry->getArgument(1 + i));
    Value sizes[] = {gsz.x, gsz.y, gsz.z, bsz.x, bsz.y, bsz.z};
    Value outer[] = {gs.x, gs.y, gs.z, bs.x, bs.y, bs.z};
    for (int i = 0; i < 6; ++i)
      map.map(sizes[i], map.lookup(outer[i]));
    auto barrierFn = declare(module, "tttc_emu_barrier", FunctionType::get(ctx, {}, {}));
    for (Operation &op : body) {
      if (isa<gpu::TerminatorOp>(op))
        continue;
      kb.clone(op, map);
    }
    func::ReturnOp::create(kb, loc);
    // Warp-level tensor-core MMAs: a collective of the warp's 32 lanes that
    // the runtime computes from the lanes' fragments (PTX fragment layout).
    SmallVector<nvgpu::MmaSyncOp> mmas;
    kernel.walk([&](nvgpu::MmaSyncOp m) { mmas.push_back(m); });
    if (!mmas.empty()) {
      auto f32 = Float32Type::get(ctx);
      SmallVector<Type> margs(10, f32);
      margs.push_back(ptrT);
      auto mmaFn = declare(module, "tttc_emu_mma_m16n8k8_tf32", FunctionType::get(ctx, margs, {}));
      OpBuilder eb = OpBuilder::atBlockBegin(entry);
      Value four = LLVM::ConstantOp::create(eb, loc, eb.getI64Type(), 4);
      Value buf = LLVM::AllocaOp::create(eb, loc, ptrT, f32, four);
      for (nvgpu::MmaSyncOp m : mmas) {
        auto shape = m.getMmaShapeAsArray();
        auto at = cast<VectorType>(m.getMatrixA().getType());
        if (shape != std::array<int64_t, 3>{16, 8, 8} || !m.getTf32Enabled() ||
            at.getShape() != ArrayRef<int64_t>{4, 1})
          return m.emitError("ttt-emulate-gpu: only m16n8k8 tf32 MMAs are emulated");
        OpBuilder mb(m);
        SmallVector<Value> args;
        auto pull = [&](Value v, int64_t rows, int64_t cols) {
          for (int64_t i = 0; i < rows; ++i)
            for (int64_t j = 0; j < cols; ++j)
              args.push_back(vector::ExtractOp::create(mb, loc, v, ArrayRef<int64_t>{i, j}));
        };
        pull(m.getMatrixA(), 4, 1);
        pull(m.getMatrixB(), 2, 1);
        pull(m.getMatrixC(), 2, 2);
        args.push_back(buf);
        func::CallOp::create(mb, loc, mmaFn, args);
        SmallVector<Value> d;
        for (int32_t i = 0; i < 4; ++i) {
          Value at = LLVM::GEPOp::create(mb, loc, ptrT, f32, buf, ArrayRef<LLVM::GEPArg>{i});
          d.push_back(LLVM::LoadOp::create(mb, loc, f32, at));
        }
        m.replaceAllUsesWith(
            vector::FromElementsOp::create(mb, loc, m.getType(), d).getResult());
        m.erase();
      }
    }
    // Warp shuffles: also collectives of the warp.
    SmallVector<gpu::ShuffleOp> shuffles;
    kernel.walk([&](gpu::ShuffleOp s) { shuffles.push_back(s); });
    if (!shuffles.empty()) {
      auto f32 = Float32Type::get(ctx);
      auto i32 = IntegerType::get(ctx, 32);
      auto shflFn =
          declare(module, "tttc_emu_shuffle_xor_f32", FunctionType::get(ctx, {f32, i32, i32}, {f32}));
      for (gpu::ShuffleOp s : shuffles) {
        if (s.getMode() != gpu::ShuffleMode::XOR || !s.getValue().getType().isF32())
          return s.emitError("ttt-emulate-gpu: only f32 xor shuffles are emulated");
        OpBuilder sb(s);
        Value r = func::CallOp::create(sb, s.getLoc(), shflFn,
                                       ValueRange{s.getValue(), s.getOffset(), s.getWidth()})
                      .getResult(0);
        s.getShuffleResult().replaceAllUsesWith(r);
        s.getValid().replaceAllUsesWith(
            arith::ConstantIntOp::create(sb, s.getLoc(), sb.getI1Type(), 1).getResult());
        s.erase();
      }
    }
    // Warp barriers (all 32 lanes): collectives too.
    SmallVector<NVVM::SyncWarpOp> warpSyncs;
    kernel.walk([&](NVVM::SyncWarpOp w) { warpSyncs.push_back(w); });
    if (!warpSyncs.empty()) {
      auto syncFn = declare(module, "tttc_emu_syncwarp", FunctionType::get(ctx, {}, {}));
      for (NVVM::SyncWarpOp w : warpSyncs) {
        std::optional<int64_t> mask = getConstantIntValue(w.getMask());
        if (!mask || int32_t(*mask) != -1)
          return w.emitError("ttt-emulate-gpu: only whole-warp barriers (mask -1) are emulated");
        OpBuilder wb(w);
        func::CallOp::create(wb, w.getLoc(), syncFn, ValueRange{});
        w.erase();
      }
    }
    SmallVector<gpu::BarrierOp> barriers;
    kernel.walk([&](gpu::BarrierOp bar) { barriers.push_back(bar); });
    for (gpu::BarrierOp bar : barriers) {
      OpBuilder bb(bar);
      func::CallOp::create(bb, bar.getLoc(), barrierFn, ValueRange{});
      bar.erase();
    }

    // The launch: the runtime runs every block's threads. It poisons the
    // shared memory (NaN bytes) before each block, as a GPU leaves it
    // uninitialised: a read before a write shows in the outputs.
    Value smemPtr = arith::ConstantIndexOp::create(b, loc, 0);
    Value smemBytes = smemPtr;
    if (smem) {
      smemPtr = memref::ExtractAlignedPointerAsIndexOp::create(b, loc, smem);
      smemBytes = memref::DimOp::create(b, loc, smem, 0);
    }
    // Global scratch likewise, once per launch.
    for (Value v : captured)
      if (Operation *def = v.getDefiningOp(); def && def->hasAttr("ttt.scratch")) {
        Value poison = arith::ConstantIntOp::create(b, loc, b.getI8Type(), -1);
        linalg::FillOp::create(b, loc, poison, v);
      }
    SmallVector<Type> largs = {ptrT, ptrT};
    largs.append(9, indexT);
    auto launchFn = declare(module, "tttc_emu_launch", FunctionType::get(ctx, largs, {}));
    Value fn = func::ConstantOp::create(b, loc, kType, SymbolRefAttr::get(kernel));
    Value fnPtr = UnrealizedConversionCastOp::create(b, loc, ptrT, fn).getResult(0);
    Value check =
        arith::ConstantIndexOp::create(b, loc, (checkRaces ? 1 : 0) | (countOps ? 2 : 0) |
                                               (countOps && countPhases ? 4 : 0));
    func::CallOp::create(b, loc, launchFn,
                         ValueRange{fnPtr, ctxArr, gs.x, gs.y, gs.z, bs.x, bs.y, bs.z, check,
                                    smemPtr, smemBytes});
    launch.erase();
    return success();
  }

  void runOnOperation() override {
    SmallVector<gpu::LaunchOp> launches;
    getOperation().walk([&](gpu::LaunchOp l) { launches.push_back(l); });
    unsigned index = 0;
    for (gpu::LaunchOp launch : launches) {
      bool barrier = false;
      launch.walk([&](gpu::BarrierOp) { barrier = true; });
      gpu::KernelDim3 bs = launch.getBlockSizeOperandValues();
      if (!barrier && !launch.getDynamicSharedMemorySize() && isOne(bs.x) && isOne(bs.y) &&
          isOne(bs.z)) {
        allocasToAllocs(launch.getBody().front());
        emulateWithLoops(launch);
        continue;
      }
      if (failed(emulateWithFibers(launch, index++)))
        return signalPassFailure();
    }
  }
};
} // namespace
