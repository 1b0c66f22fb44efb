//===- Passes.td - the GPU backend's passes ---------------*- tablegen -*-===//
//
// Passes of the GPU backend (lib/GPU/): a bufferized layer's (batch, head)
// loops mapped to a grid, its programs distributed over a block's threads
// with shared memory and barriers, scheduled, prefetched, and either lowered
// to PTX through NVVM or emulated on the CPU.
//
//===----------------------------------------------------------------------===//
#ifndef TTT_GPU_PASSES_TD
#define TTT_GPU_PASSES_TD

include "mlir/Pass/PassBase.td"

def TTTMapToGPU : Pass<"ttt-map-to-gpu", "ModuleOp"> {
  let summary = "Map a compiled layer's (batch, head) loops to a GPU grid";
  let description = [{
    On a bufferized layer function (after `ttt-bufferize`): the outer loops
    over batches and heads become one `gpu.launch` with a B x H grid, one
    program per (b, h) that loops over chunks with the states resident. The
    first mapping is one thread per program (`ttt-distribute-to-threads`
    then gives each a block of threads). A column-block loop of
    `ttt-column-blocks` inside the head loop becomes the grid's z.

    `fault` injects a known bug, for the tests that prove the emulation
    catches mapping errors: "short-grid" launches B - 1 programs along the
    batch dimension (an off-by-one in the grid).
  }];
  let options = [
    Option<"fault", "fault", "std::string", "\"\"",
           "testing only: inject a mapping bug (short-grid)">
  ];
  let dependentDialects = ["::mlir::gpu::GPUDialect"];
}

def TTTScheduleForBarriers : Pass<"ttt-schedule-for-barriers", "ModuleOp"> {
  let summary = "Reorder a GPU program's chunk step so dependent steps share barriers";
  let description = [{
    On one-thread programs (after `ttt-map-to-gpu`, before
    `ttt-distribute-to-threads`): the ops of each loop body in a `gpu.launch`
    are listed by level, an op's level being the least above every op it
    depends on through memory (a buffer one writes and the other touches)
    and not below those whose values it uses; ops of one level keep their
    order. Once distributed over threads, a barrier is needed only where a
    level reads or overwrites what an earlier level touched, so independent
    chains (e.g. the readout's q-side products beside the gradient's layer
    norm) share their barriers instead of each paying its own. Memory
    dependencies between elementwise ops over the same points through the
    same buffer view keep one level (the same thread touches the element).
    Blocks with ops whose memory effects are unknown are left as they are.

    `order`: each op at the latest level its users allow (`alap`, the
    default: buffers live about as long as in program order) or at its
    earliest (`asap`: often fewer barriers still, longer-lived buffers, so
    more shared memory). In both, loads of the layer's buffers that depend
    on nothing in the block come first (their latency overlaps the work
    before their use). Barrier counts and shared memory per layer:
    bench/RESULTS.md.
  }];
  let options = [
    Option<"order", "schedule", "std::string", "\"alap\"", "alap or asap">
  ];
}

def TTTDistributeToThreads : Pass<"ttt-distribute-to-threads", "ModuleOp"> {
  let summary = "Run each program of a gpu.launch on a block of threads";
  let description = [{
    On one-thread programs (after `ttt-map-to-gpu` and buffer hoisting):
    the program's chunk buffers and states move to shared memory (one
    dynamic shared-memory allocation, each buffer a `memref.view` into it),
    the block gets `threads` threads, every linalg op whose outputs live in
    shared or global memory becomes a loop over its parallel points strided
    by the block size (each thread owns whole output elements and runs their
    reductions), and `gpu.barrier`s are inserted where a thread could read
    or overwrite what another thread wrote or read since the last barrier
    (read-after-write, write-after-read, write-after-write, and at the end
    of loop bodies that touch shared buffers). Buffers that escape into
    control flow stay thread-private and are computed by every thread.

    Buffers whose live ranges do not overlap share bytes, except when all of
    them fit apart within `occupancy-kb` KB (the shared memory per block that
    keeps the target number of blocks per SM): reusing bytes that other
    threads just read costs a barrier before the next buffer's first write
    (TTT-Linear at D=64: 14 block barriers packed, 10 apart, at 54 and 90 KB).

    When the shared buffers need more than `shared-kb` KB, the launch keeps
    its one-thread programs (correct, slower) and a remark says so.

    With `tensor-cores`, an f32 matmul on static buffers tiling by m16n8k8
    runs on tensor cores: each warp takes m16n8 tiles of the result and
    accumulates `nvgpu.mma.sync` (tf32) products; f32 accuracy comes from
    3xTF32 (each operand split into a tf32 part and the rest). With
    `mma-chains` 3, the products hi*hi, lo*hi and hi*lo accumulate into
    three accumulators, added at the end (corrections first): a k step's
    three mma.sync ops then depend only on the previous step's, not on each
    other (1, the default, chains all three; 2 keeps the corrections
    together). More accumulators cost registers: at D=64 and 512 threads,
    3 takes TTT-Linear to 64 registers with spills and Titans-linear from 64
    to 115 (one program per SM instead of two); which pays is for a GPU to
    tell (bench/gpu/run.sh times mc2 and mc3 beside the default).
    With `warp-rotate`, each matmul's tasks start at the warp after the
    previous matmul's last: two matmuls of 8 tiles in one barrier phase run
    on 16 warps instead of twice on the first 8.
    With `mma-k-split`, a matmul with at most half as many tasks as warps
    and at least 4 k steps takes S times as many (S a power of two, 2+ k
    steps each): task s sums k steps [s K / S, (s + 1) K / S), the first into
    C, the others from zero into an [S - 1, M, N] shared buffer, added to C
    in order by an elementwise step after a barrier; only where every
    buffer still fits apart in `occupancy-kb`. TTT-Linear at D=64: the
    chunk step's critical path (emulated) 24% shorter, 7% more ops, one
    more barrier.
    With `mma-n-tiles` R > 1, a warp computes R adjacent tiles of a row of
    tiles at once: each k step loads (and for 3xTF32 splits) the A
    fragments once for all R, and R independent accumulator chains
    interleave; fewer warps take part when the result has few tiles
    (TTT-Linear's 16 x 64 products: 8 tiles, 8 / R warps). 2 takes
    TTT-Linear's chunk loop (D=64, sm_90a) from 1397 to 1273 SASS
    instructions at the same registers.
    `mma-precision` tf32 and tf32-rz trade accuracy for work: one product
    per k step instead of three. tf32 rounds each operand to the nearest
    tf32 value first (an integer add and mask: what `cvt.rna.tf32.f32`
    does, which ptxas expands to three instructions); tf32-rz hands the
    f32 operands over as they are, and the tensor cores drop their low 13
    bits (rounded toward zero: a bias that the TTT recurrences accumulate,
    several times the error of tf32). Layer outputs at D=64 (cuda-emu): TTT-Linear 2e-4
    (tf32) and 8e-4 (tf32-rz) relative to float64, Titans-MLP's states
    6e-3 and 4e-2; tf32x3 keeps 1e-6.

    With `static-rounds`, a loop over a static number of points P runs
    ceil(P / threads) rounds, point k * threads + tid in round k (the last
    round guarded when threads do not divide P) instead of striding from
    tid by the block size: LLVM unrolls it and each index's thread part
    is loop-invariant, which removes the per-point division and remainder.
    LLVM then hoists those parts out of the chunk loop, which costs
    registers (TTT-Linear at D=64: 115 instead of 61 at 512 threads)
    unless the PTX pipeline re-reads the thread id in each chunk step
    (`ttt-thread-id-per-iteration`), as it does by default.

    With `row-warps`, an elementwise op over [R, C] points with C a multiple
    of 32 (or C = 1, or [R]) and at least a row per warp runs row
    warp + i W in round i on a block of W warps, columns lane + 32 j of it
    (lane 0 alone where C = 1); a split sum with a warp per point maps its
    points the same way. The accesses of such loops to a row are then all
    in one warp: between them a warp barrier (`nvvm.bar.warp.sync -1`)
    takes the place of a block barrier (where two steps touch an element
    from the same thread, neither is needed). A layer norm's sums, scalings
    and gradient become warp-local: TTT-Linear's kernel (D=64) goes from 27
    block barriers to 14 and 7 warp barriers. Two views of one buffer at
    the same byte offset with the same type (buffers that share bytes in
    turn) address their elements alike, which the same-thread and
    same-warp rules use.

    With `pad-rows`, a shared buffer whose row stride is a multiple of 32
    bytes (a column of consecutive rows in one bank) is stored with 16 more
    bytes per row, when every use indexes it (loads, stores, linalg ops,
    subviews): its uses see a subview of the padded rows. Tensor-core
    fragments (8 rows x 4 columns) and the row sums then read from distinct
    banks.

    `fault` injects a known bug for the tests that prove the emulation
    catches it: "drop-barrier" leaves out the barrier before the first
    tensor-core matmul (else the first reduction) inside the chunk loop; "bad-fragment" loads the A fragment of
    the tensor-core matmuls in the wrong register order; "drop-warp-sync"
    leaves out the first warp barrier inside the chunk loop (row-warps).
  }];
  let options = [
    Option<"threads", "gpu-threads", "int64_t", "512", "threads per block">,
    Option<"sharedKB", "shared-kb", "int64_t", "227",
           "shared memory available to one block (KB)">,
    Option<"tensorCores", "tensor-cores", "bool", "true",
           "f32 matmuls on tensor cores (nvgpu.mma.sync m16n8k8, 3xTF32)">,
    Option<"mmaChains", "mma-chains", "int64_t", "1",
           "independent accumulators per tensor-core tile: 1 (the 3xTF32 "
           "products chained), 2 (the two corrections apart), 3 (each product "
           "apart)">,
    Option<"mmaPrecision", "mma-precision", "std::string", "\"tf32x3\"",
           "tensor-core operands: tf32x3 (each split into a tf32 part and "
           "the rest, three products: f32 accuracy), tf32 (rounded to the "
           "nearest tf32, one product: about 3 significant digits) or tf32-rz "
           "(one product of the operands' top 19 bits as the tensor cores "
           "read them: rounded toward zero, no rounding instructions)">,
    Option<"mmaNTiles", "mma-n-tiles", "int64_t", "1",
           "adjacent m16n8 tiles a warp computes together, sharing the A "
           "fragments of each k step (fewer where they do not divide the "
           "result's columns); 0: per matmul, the most (up to 4) that still "
           "give every warp a task">,
    Option<"occupancyKB", "occupancy-kb", "int64_t", "0",
           "shared memory per block (KB) that keeps the target blocks per SM: "
           "buffers that fit apart within it share no bytes (0: always pack)">,
    Option<"mmaKSplit", "mma-k-split", "bool", "false",
           "tensor-core matmuls with fewer tasks than half the warps split "
           "their k steps over more warps (partial sums in shared memory, "
           "added to the result after a barrier), where the buffers still "
           "fit apart in occupancy-kb">,
    Option<"warpRotate", "warp-rotate", "bool", "false",
           "tensor-core matmuls take their warps round-robin, each starting "
           "after the previous one's last task (else every one at warp 0)">,
    Option<"rowWarps", "row-warps", "bool", "false",
           "elementwise ops over rows of 32k columns (or one) run a row per "
           "warp, as the split sums do, with warp barriers between row-wise "
           "steps">,
    Option<"staticRounds", "static-rounds", "bool", "false",
           "loops over a static number of points run static rounds (point "
           "k * threads + tid in round k); else they stride by the block size">,
    Option<"padRows", "pad-rows", "bool", "true",
           "pad shared buffers' rows against bank conflicts">,
    Option<"fault", "fault", "std::string", "\"\"",
           "testing only: inject a bug (drop-barrier, bad-fragment, drop-fill, "
           "drop-warp-sync)">
  ];
  let dependentDialects = ["::mlir::gpu::GPUDialect", "::mlir::scf::SCFDialect",
                           "::mlir::memref::MemRefDialect", "::mlir::affine::AffineDialect",
                           "::mlir::nvgpu::NVGPUDialect", "::mlir::vector::VectorDialect",
                           "::mlir::NVVM::NVVMDialect"];
}

def TTTEmulateGPU : Pass<"ttt-emulate-gpu", "ModuleOp"> {
  let summary = "CPU emulation of GPU kernels: the mapped kernel IR run on the CPU";
  let description = [{
    Runs the kernel IR as mapped for the GPU on the CPU. A launch of
    one-thread programs without barriers becomes loops over its grid. Any
    other launch is outlined into a function of (context, block id, thread
    id) that the emulation runtime (`tttc_emu_launch`) runs for every block
    with one cooperative fiber per thread: `gpu.barrier` switches to the
    next thread, and a block's threads resume together once all of them have
    reached it (a thread that returns while others wait is reported as
    barrier divergence). Shared memory is one buffer per launch (blocks run
    one after the other); thread-private buffers are heap buffers. A
    tensor-core `nvgpu.mma.sync` (m16n8k8, tf32) is a collective of its
    warp: the runtime gathers the 32 lanes' fragments, computes the tile
    with the PTX fragment layout and tf32 operands, and hands each lane its
    part of the result (lanes of a warp that do not all arrive are an
    error).

    Shared memory is filled with NaN bytes before each block and scratch
    before each launch (a GPU leaves both uninitialised): a read before a
    write reaches the outputs.

    With `check-races`, every load and store of shared memory, scratch and
    the layer's buffers reports its address to the runtime, which reports
    two threads of a block touching the same element between two barriers,
    one of them writing (a missing barrier), and, for the layer's buffers,
    two blocks touching an element one of them writes (blocks cannot
    synchronise: e.g. column blocks that overlap).
  }];
  let options = [
    Option<"checkRaces", "check-races", "bool", "false",
           "report conflicting accesses (threads between barriers, blocks)">,
    Option<"countOps", "count-ops", "bool", "false",
           "count the IR ops each thread runs and print, per launch, the "
           "warp-ops per block (each warp's busiest lane, summed over warps): "
           "a proxy, without a GPU, for the instructions the block issues">,
    Option<"countPhases", "count-phases", "bool", "false",
           "with count-ops: also print, for each launch's first block, each "
           "barrier phase's warp-ops and busiest lane">
  ];
  let dependentDialects = ["::mlir::scf::SCFDialect", "::mlir::arith::ArithDialect",
                           "::mlir::memref::MemRefDialect", "::mlir::func::FuncDialect",
                           "::mlir::LLVM::LLVMDialect", "::mlir::linalg::LinalgDialect",
                           "::mlir::vector::VectorDialect"];
}

def TTTContractFloatOps : Pass<"ttt-contract-float-ops", "ModuleOp"> {
  let summary = "Let the float multiplies and adds of GPU kernels fuse into FMAs";
  let description = [{
    Adds the `contract` fast-math flag to every float arithmetic op inside a
    `gpu.launch`, so that the NVPTX backend fuses a multiply feeding an add
    into one `fma.rn` (one instruction, one rounding). Without it the backend
    emits `mul.rn` and `add.rn`, which ptxas must not fuse: the kernels ran
    no FMA at all. Contraction only drops an intermediate rounding; no
    reassociation or other fast-math freedom is granted.
  }];
}

def TTTOccupancyHint : Pass<"ttt-occupancy-hint", "ModuleOp"> {
  let summary = "Ask ptxas for registers that let several programs share an SM";
  let description = [{
    After kernel outlining: for each `gpu.launch_func` with constant block
    size and dynamic shared memory, if `programs` blocks fit on one SM by
    threads (`max-threads-per-sm`) and shared memory (`shared-kb-per-sm`,
    with the 1 KB each block reserves), its kernel gets
    `nvvm.minctasm = programs` (PTX `.minnctapersm`), so that ptxas keeps
    the registers per thread within 65536 / (programs x threads) (64 at
    512 threads and 2 programs). Without it, ptxas may take up to
    65536 / threads and leave room for one block: the GPU then idles while
    the block waits at each of the chunk step's barriers. Kernels whose
    shared memory admits one block are left alone.
  }];
  let options = [
    Option<"programs", "min-programs", "int64_t", "2",
           "blocks per SM to budget registers for (< 2: no hint)">,
    Option<"sharedKBPerSM", "shared-kb-per-sm", "int64_t", "228",
           "shared memory of one SM (KB): 228 on sm_90, 164 on sm_80">,
    Option<"maxThreadsPerSM", "max-threads-per-sm", "int64_t", "2048",
           "resident threads of one SM">
  ];
  let dependentDialects = ["::mlir::gpu::GPUDialect"];
}

def TTTThreadIdPerIteration : Pass<"ttt-thread-id-per-iteration", "ModuleOp"> {
  let summary = "Re-read the thread id in each iteration of a kernel's chunk loop";
  let description = [{
    On outlined kernels (`gpu.func`), before the NVVM lowering: inside each
    outermost `scf.for` of the kernel body that contains a barrier, uses of
    `gpu.thread_id x` take a value read at the top of the iteration by an
    inline `mov.u32 %0, %tid.x` with side effects, which LLVM neither
    hoists nor merges. What is computed from the thread id (row and lane
    parts, per-buffer addresses) is then recomputed in each iteration
    rather than hoisted out of the loop by LICM and held in registers for
    the whole kernel.
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect", "::mlir::arith::ArithDialect"];
}

def TTTPrefetchNextChunk : Pass<"ttt-prefetch-next-chunk", "ModuleOp"> {
  let summary = "Load the next chunk's inputs during the current chunk step";
  let description = [{
    After `ttt-distribute-to-threads`, in each outermost `scf.for` of a
    `gpu.launch` body that contains a barrier (a chunk loop): the loads of
    the layer's inputs that start a chunk step (global memory the launch
    never writes; static round loops holding them are unrolled first) move
    one step ahead. The values of chunk c + 1 are loaded at the top of step
    c, before its `ahead`-th last block barrier (at its top when it has
    fewer), under the same guards (scf.if chains whose conditions, like the
    loads' indices, are pure arithmetic of the chunk index and values from
    outside the loop; pure ops inside those guards are hoisted out of them
    first) and under `c + 1 < upper bound`, and carried to step c + 1 as
    loop-carried values; the first chunk's are loaded before the loop. A
    step then no longer begins by waiting for global memory: the loads'
    latency overlaps the previous step's last phases, for a register per
    load. Loads that depend on anything else (what the step computes,
    memory the launch writes) or not on the chunk index stay where they are.

    The later the loads, the fewer registers they hold: at the top of the
    step TTT-Linear's kernel (D=64, sm_90a) spills 8 bytes at 64 registers;
    2 barriers ahead it keeps 64 with no spill (and every example layer
    stays within its programs per SM with none).
  }];
  let options = [
    Option<"ahead", "prefetch", "int64_t", "2",
           "block barriers between the next chunk's loads and the end of the "
           "step (at its top when it has fewer)">,
    Option<"fault", "fault", "std::string", "\"\"",
           "testing only: stale-prefetch (each step loads its own chunk's "
           "inputs for the next step, which then computes on stale data)">
  ];
  let dependentDialects = ["::mlir::scf::SCFDialect", "::mlir::arith::ArithDialect"];
}

def TTTExternDynamicSharedMemory : Pass<"ttt-extern-dynamic-shared-memory", "ModuleOp"> {
  let summary = "Declare dynamic shared memory as extern for the NVPTX backend";
  let description = [{
    After `convert-gpu-to-nvvm`: the global standing for dynamic shared memory
    (a zero-length array in address space 3) gets external linkage, so the
    NVPTX backend emits `.extern .shared .align A .b8 NAME[]` (the launch's
    dynamic shared memory) rather than demoting it to a one-byte static
    shared variable inside the kernel.
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect"];
}

def TTTCheckGPULocalMemory : Pass<"ttt-check-gpu-local-memory", "ModuleOp"> {
  let summary = "Reject kernels whose buffers a GPU cannot hold";
  let description = [{
    Sums the thread-local buffers (memref.alloca) of each gpu.launch and
    reports, at compile time, a kernel that needs more than `max-kb` KB per
    thread: the driver reserves that much for every thread that can be
    resident (~270k on an H100), and the launch would fail.

    Also rejects, at its location, any heap buffer (memref.alloc) or buffer
    of dynamic size inside a kernel: it would be a device `malloc` per
    program (per chunk inside the chunk loop), slow, and failing once the
    device heap (8 MB by default) is spent. Runs at the end of the GPU
    kernel pipeline, so the emulated (cuda-emu) and the real kernels are
    held to it alike.
  }];
  let options = [
    Option<"maxKB", "max-kb", "int64_t", "256", "per-thread local memory bound (KB)">
  ];
}

#endif // TTT_GPU_PASSES_TD
