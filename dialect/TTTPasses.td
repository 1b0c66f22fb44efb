//===- TTTPasses.td - ttt passes -------------------------------------------===//
#ifndef TTT_PASSES_TD
#define TTT_PASSES_TD

include "mlir/Pass/PassBase.td"

def TTTDecompose : Pass<"ttt-decompose", "ModuleOp"> {
  let summary = "Inline model calls and expand composite primitives";
  let description = [{
    Replaces every `ttt.call_model` by the model's body, and expands
    `ttt.layer_norm`, `ttt.rms_norm`, `ttt.l2_norm`, `ttt.sum_sq`, `ttt.dot`,
    `ttt.gelu` and `ttt.silu` into elementwise ops and reductions, so that
    autodiff needs derivative rules only for the small core set.
  }];
}

def TTTInnerAutodiff : Pass<"ttt-inner-autodiff", "ModuleOp"> {
  let summary = "Derive the per-token gradient of the loss w.r.t. every state";
  let description = [{
    Reverse-mode differentiation of `ttt.loss` (after `ttt-decompose`),
    producing a `ttt.gradient` region: the forward pass at the anchor state,
    the reverse pass, and factored gradient terms (`ttt.outer_grad x, g` for
    a matrix state used by `ttt.linear`, `ttt.vec_grad g` for a vector state).
    No per-token matrix gradient is ever built.
  }];
}

def TTTDualForm : Pass<"ttt-dual-form", "ModuleOp"> {
  let summary = "Rewrite the per-token recurrence into the mini-batch dual form";
  let description = [{
    Replaces the model, gradient, update rule and readouts of each layer by
    one `ttt.chunk_step`: the gradients of a whole mini-batch at its first
    state, the outputs as masked chunk-sized matmuls
    (A W_0 - (E o tril(A X^T)) G for each linear use of a matrix state), and
    the state update at the chunk end. Specialises the layer to `head-dim`
    and `mini-batch` (0: the spec's own mini_batch).
  }];
  let options = [
    Option<"headDim", "head-dim", "int64_t", "64", "the head dimension D">,
    Option<"miniBatch", "mini-batch", "int64_t", "0",
           "mini-batch size C (0: the spec's mini_batch attribute)">,
    Option<"exactChunk", "exact-chunk", "int64_t", "16", // ttt::kDefaultExactChunk
           "chunk size for mini-batch-1 layers computed exactly in chunks (UT "
           "transform, or gradients that do not depend on the state)">
  ];
  let dependentDialects = ["::mlir::tensor::TensorDialect",
                           "::mlir::arith::ArithDialect"];
}

def TTTChunkBackward : Pass<"ttt-chunk-backward", "ModuleOp"> {
  let summary = "Derive the reverse-mode derivative of each chunk step";
  let description = [{
    Adds a `ttt.chunk_backward` beside each layer's `ttt.chunk_step` (after
    `ttt-dual-form`): the chunk's forward recomputed, then the reverse pass
    built from one derivative rule per chunk-level primitive, mapping the
    cotangents of the step's readouts and end states to those of its inputs,
    gates, position inputs, parameters and starting states. An op without a
    rule is a located error. `ttt.stop_gradient` marks an inner-loop
    constant: the outer loop differentiates the forward as it computes,
    through it (the identity).
    `ttt-lower-layer-to-func` then also emits `<layer>_backward`, which
    walks the chunks in reverse.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect"];
}

def TTTLowerLayerToFunc : Pass<"ttt-lower-layer-to-func", "ModuleOp"> {
  let summary = "Turn each chunked layer into a function looping over (b, h, chunk)";
  let description = [{
    Produces `func.func @<layer>` with the signature described by
    `tttc::LayerSignature` (inputs, then outputs as destination tensors, all
    with dynamic B, T, H and static head dimension), looping over batches,
    heads and chunks with the states carried across chunks; the chunk body is
    the `ttt.chunk_step` region, inlined. The last, shorter chunk is padded
    with zero tokens and gates and only its real rows are written back.

    `io-dtype` (f32, bf16, f16) is the element type of the per-token inputs
    and the readouts in memory: they are widened to f32 as a chunk is loaded
    and rounded as its rows are stored; parameters, states and all
    arithmetic stay f32.

    With `resume`, `func.func @<layer>_resume` too: the same loops from a
    required `[Bi, H, ...]` value of every state (after the other inputs,
    which keep their order; in place of the inits), writing the final value
    of every state after the readouts. A decoder calls it from a chunk boundary on the tokens of the
    unfinished chunk.
  }];
  let options = [
    Option<"checkpointEvery", "checkpoint-every", "int64_t", "1",
           "the backward's memory strategy: a forward sweep stores the states at "
           "the start of every this many chunks (1: of every chunk); the reverse "
           "sweep recomputes the others, one segment at a time">,
    Option<"ioType", "io-dtype", "std::string", "\"f32\"",
           "element type of per-token inputs and readouts (f32, bf16, f16)">,
    Option<"partialSums", "partial-sums", "bool", "false",
           "the backward writes the gradients its (b, h) programs share (parameters "
           "[B, H, ...], position inputs [B, H, C], initial states [B, H, ...]) per "
           "program, for the caller to sum (GPU kernels: no two programs write one "
           "element)">,
    Option<"resume", "resume", "bool", "false",
           "also emit `<layer>_resume`: the forward from a given value of every "
           "state, returning the final value of every state (what a decoder "
           "advances its state with)">
  ];
  let dependentDialects = ["::mlir::func::FuncDialect", "::mlir::scf::SCFDialect",
                           "::mlir::tensor::TensorDialect", "::mlir::arith::ArithDialect",
                           "::mlir::linalg::LinalgDialect"];
}

def ConvertTTTToLinalg : Pass<"convert-ttt-to-linalg", "ModuleOp"> {
  let summary = "Lower chunk-level ttt ops to linalg, tensor, arith and math";
  let description = [{
    Matmuls become `linalg.matmul` (kept as matmuls for tiling and the GPU
    path), elementwise ops and row reductions `linalg.generic`s.
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect", "::mlir::tensor::TensorDialect",
                           "::mlir::arith::ArithDialect", "::mlir::math::MathDialect"];
}

def TTTFuseElementwise : Pass<"ttt-fuse-elementwise", "ModuleOp"> {
  let summary = "Elementwise fusion that keeps loop-invariant producers out of loops";
  let description = [{
    `linalg-fuse-elementwise-ops` (fusion of single-use elementwise producers
    into their consumers, reshape propagation, constant folding), except that
    a producer outside a loop is not fused into a consumer inside it: the
    fused op would recompute it on every iteration. A layer's position
    inputs and per-program setup stay before the chunk loop.
  }];
  let dependentDialects = ["::mlir::affine::AffineDialect", "::mlir::linalg::LinalgDialect",
                           "::mlir::memref::MemRefDialect"];
}

def TTTMatmulLoopOrder : Pass<"ttt-matmul-loop-order", "ModuleOp"> {
  let summary = "CPU: rewrite linalg.matmul as a generic iterating (i, k, j)";
  let description = [{
    With the reduction dimension in the middle, `convert-linalg-to-loops`
    produces an innermost loop that walks rows of B and C with unit stride,
    which LLVM vectorises. Both paths run it (in the bufferization steps),
    after the matmuls have served as named ops (ttt-fold-matmul-accumulate);
    the GPU backend's tensor-core mapping matches this (i, k, j) form.
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect"];
}

def TTTColumnBlocks : Pass<"ttt-column-blocks", "ModuleOp"> {
  let summary = "Split each (b, h) program over column blocks of its state";
  let description = [{
    On a layer function in linalg on tensors (after `convert-ttt-to-linalg`):
    finds the dimensions that flow together through the per-(b, h) body
    (union of tensor dimensions tied by indexing maps, slices, loop-carried
    values) and picks a class that contains a dimension of a loop-carried
    state and that nothing reduces over, slices partially or reshapes, e.g.
    the output columns of a linear memory W (k W - v, q W). Such a class is
    independent across its indices, so the program is split into `blocks`
    programs, each owning `size / blocks` of those columns: an
    `scf.for {ttt.column_blocks}` loop inside the head loop (a third grid
    dimension after `ttt-map-to-gpu`). Work that does not carry the class
    (e.g. the chunk's q k^T products) is recomputed by every block; outputs
    that carry none of it are written by block 0 only.

    A class that a layer norm, an MLP hidden layer or a softmax reduces over
    cannot be split: with `required` the pass then fails with the reason,
    located at the op that prevents it; otherwise it leaves the layer as it
    is and says why in a remark.
  }];
  let options = [
    Option<"blocks", "column-blocks", "int64_t", "1", "column blocks per (b, h) program">,
    Option<"required", "required", "bool", "true",
           "fail (instead of a remark) when the layer cannot be split">,
    Option<"fault", "fault", "std::string", "\"\"",
           "testing only: inject a bug (column-offset: every block reads and "
           "writes the first block's columns of the layer's buffers)">
  ];
  let dependentDialects = ["::mlir::scf::SCFDialect", "::mlir::arith::ArithDialect"];
}

def TTTFoldMatmulAccumulate : Pass<"ttt-fold-matmul-accumulate", "ModuleOp"> {
  let summary = "C + A B and C - A B as one matmul accumulating into C";
  let description = [{
    On tensors: an elementwise `linalg.generic` (identity maps) whose body
    is one `arith.addf` of its two inputs, or an `arith.subf` whose
    subtrahend is the product, where one input is an f32 `linalg.matmul`
    into a zero `linalg.fill` used only there, becomes that matmul with
    the other input as its init: `matmul(A, B, C)` for C + A B, and
    `matmul(A, -B, C)` for C - A B (the negation an elementwise op on B,
    which elementwise fusion folds into B's producer). The dual form's
    state updates take this shape (W - X^T G, S + K^T V): the fill and
    the pass over the product go, and the product accumulates into the
    state's own buffer. The sum's rounding changes (C is the first term,
    not the last), not its terms.
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect", "::mlir::arith::ArithDialect",
                           "::mlir::tensor::TensorDialect"];
}

def TTTBufferize : Pass<"ttt-bufferize", "ModuleOp"> {
  let summary = "One-shot bufferization for compiled layers";
  let description = [{
    One-shot module bufferization with identity-layout function boundaries,
    copies as `linalg.copy` (lowered to plain loops: no runtime library
    needed), and, once the loops that only carry the destination buffers
    have folded away, functions returning their own output arguments
    rewritten to return nothing.

    With `states-in-place`, empty-tensor elimination runs first: an op
    whose result is copied over a loop-carried state (the chunk loop's next
    states) and whose init is a `tensor.empty` writes the carried buffer
    directly where the analysis finds it safe, so no copy and no second
    state buffer remain (TTT-Linear at D=64: a 64 x 64 copy per chunk step;
    one-thread Titans-MLP programs at D=32: 347 -> 267 KB of buffers). The
    GPU kernel pipeline sets it; the CPU pipeline does not (it made the CPU
    Infini-attention 1.6x slower, mostly because the updates then write
    through pointer arguments LLVM must assume alias the inputs; with them
    marked noalias it was still no faster than the copy).
  }];
  let options = [
    Option<"statesInPlace", "states-in-place", "bool", "true",
           "eliminate empty tensors first: next states written over the "
           "carried ones">
  ];
  let dependentDialects = ["::mlir::memref::MemRefDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::bufferization::BufferizationDialect"];
}

def TTTForwardFills : Pass<"ttt-forward-fills", "ModuleOp"> {
  let summary = "Copies of a buffer last written by a fill become fills";
  let description = [{
    After bufferization, each use of a constant tile (zero padding, zero
    accumulators) is a `linalg.fill` of one buffer and a `linalg.copy` of it
    into the user's buffer. A copy whose source's last write in the block is
    a fill of it becomes a fill of the destination (a write per element
    instead of a read and a write), and buffers that are only ever filled
    are removed with their fills. A fill followed by a copy of the layer's
    arguments into the buffer's leading rows (a chunk padded with zeros)
    becomes one op writing each element once, `i < n ? src[i] : pad`: no
    separate padding pass, and on a GPU no barrier between the two.
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect", "::mlir::scf::SCFDialect",
                           "::mlir::arith::ArithDialect"];
}

#endif // TTT_PASSES_TD
