// Which chunked algorithm each spec gets (the chunk step's `algorithm`).

// Mini-batch gradient descent: the dual form (TTT).
// RUN: ttt-opt %examples/ttt_linear.mlir --ttt-to-chunked="head-dim=8" | FileCheck %s --check-prefix=DUAL
// DUAL: ttt.layer @ttt_linear attributes {chunk_size = 16 : i64, head_dim = 8 : i64, mini_batch = 16 : i64}
// DUAL: ttt.chunk_step readouts ["out"] algorithm "dual_form"

// Momentum and forgetting (Titans): coefficient matrices from cumulative
// sums of logs; E = (P . Mm) o lr, P_ir = beta_i / beta_r, Mm_rs = m_r / m_s.
// RUN: ttt-opt %examples/titans_linear.mlir --ttt-to-chunked="head-dim=8 mini-batch=4" | FileCheck %s --check-prefix=TITANS
// TITANS: ttt.chunk_step readouts ["out"] algorithm "dual_form"
// TITANS: %[[LOGB:.*]] = ttt.log %{{.*}} : tensor<4x1xf32>
// TITANS: %[[ONES:.*]] = ttt.causal_mask %{{.*}} : tensor<4x4xf32>
// TITANS: %[[CB:.*]] = ttt.matmul %[[ONES]], %[[LOGB]] : tensor<4x4xf32>, tensor<4x1xf32>
// TITANS: %[[CBT:.*]] = ttt.transpose %[[CB]]
// TITANS: %[[DB:.*]] = ttt.sub %[[CB]], %[[CBT]] : tensor<4x1xf32>, tensor<1x4xf32>
// TITANS: %[[EB:.*]] = ttt.exp %[[DB]] : tensor<4x4xf32>
// TITANS: %[[P:.*]] = ttt.causal_mask %[[EB]] : tensor<4x4xf32>
// TITANS: ttt.log
// TITANS: %[[MM:.*]] = ttt.causal_mask %{{.*}} : tensor<4x4xf32>
// TITANS: ttt.matmul %[[P]], %[[MM]] : tensor<4x4xf32>, tensor<4x4xf32>
// TITANS: ttt.yield %{{.*}}, %{{.*}}, %{{.*}} : tensor<4x8xf32>, tensor<8x8xf32>, tensor<8x8xf32>

// Exact per-token delta rule: the UT transform over chunks of 16 tokens:
// a strictly lower-triangular system solved per chunk, no per-token loop.
// RUN: ttt-opt %examples/delta.mlir --ttt-to-chunked="head-dim=8" | FileCheck %s --check-prefix=UT
// UT: ttt.layer @delta attributes {chunk_size = 16 : i64, head_dim = 8 : i64, mini_batch = 1 : i64}
// UT: ttt.chunk_step readouts ["out"] algorithm "ut_transform"
// UT: %[[KK:.*]] = ttt.matmul %[[K:.*]], %[[K]] {transpose_rhs} : tensor<16x8xf32>, tensor<16x8xf32>
// UT: %[[A:.*]] = ttt.causal_mask %{{.*}} {strict} : tensor<16x16xf32>
// UT: %[[U:.*]] = ttt.tri_solve %[[A]], %{{.*}} : tensor<16x16xf32>, tensor<16x8xf32>
// UT: ttt.matmul %[[K]], %{{.*}} {transpose_lhs} : tensor<16x8xf32>, tensor<16x8xf32>
// The gated rule folds its decay in as ratios gamma_i / gamma_j.
// RUN: ttt-opt %examples/gated_delta.mlir --ttt-to-chunked="head-dim=8" | FileCheck %s --check-prefix=GATED
// GATED: ttt.chunk_step readouts ["out"] algorithm "ut_transform"
// GATED: ttt.log
// GATED: ttt.exp
// GATED: ttt.tri_solve
// The chunk size of exact rules is an option.
// RUN: ttt-opt %examples/delta.mlir --ttt-decompose --ttt-inner-autodiff --ttt-dual-form="head-dim=8 exact-chunk=32" | FileCheck %s --check-prefix=UT32
// UT32: chunk_size = 32 : i64
// UT32: ttt.tri_solve %{{.*}}, %{{.*}} : tensor<32x32xf32>, tensor<32x8xf32>

// Mini-batch 1 with a gradient that does not depend on the state (linear
// attention): the dual form is exact at any chunk size.
// RUN: ttt-opt %examples/linear_attention.mlir --ttt-to-chunked="head-dim=8 mini-batch=1" | FileCheck %s --check-prefix=LA
// LA: chunk_size = 16 : i64, head_dim = 8 : i64, mini_batch = 1 : i64
// LA: algorithm "dual_form"

// Anything else at mini-batch 1 falls back to one token per chunk, and says so.
// RUN: ttt-opt %examples/ttt_mlp.mlir --ttt-to-chunked="head-dim=8 mini-batch=1" 2>&1 | FileCheck %s --check-prefix=SEQ
// SEQ: ttt_mlp.mlir:3:1: remark: exact per-token updates (mini-batch 1) whose gradient is not affine in a single matrix state: sequential path, one token per chunk step
// SEQ: chunk_size = 1 : i64
// SEQ: algorithm "sequential"
// Segment-wise readouts (Infini-attention) keep the segment length.
// RUN: ttt-opt %examples/infini_attention.mlir --ttt-to-chunked="head-dim=8 mini-batch=1" 2>&1 | FileCheck %s --check-prefix=SEG
// SEG: algorithm "sequential"
