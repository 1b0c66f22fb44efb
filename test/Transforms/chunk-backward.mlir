// ttt-chunk-backward: a ttt.chunk_backward beside the chunk step, from one
// derivative rule per chunk-level primitive. The step below is a UT-style
// solve (matmul, broadcast mul, strict causal mask, tri_solve), a linear
// readout, a row reduction and a row of the solve.
// RUN: ttt-opt %s --ttt-chunk-backward | FileCheck %s
// RUN: ttt-opt %s --ttt-chunk-backward --ttt-chunk-backward | FileCheck %s --check-prefix=ONCE

ttt.layer @solve attributes {chunk_size = 4 : i64, head_dim = 4 : i64, mini_batch = 4 : i64} {
  %0 = ttt.input "k" : !ttt.vec<1>
  %1 = ttt.input "beta" : f32
  %2 = ttt.state "w" init "w_init" final "w_final" : !ttt.mat<1, 1>
  ttt.chunk_step readouts ["out"] algorithm "ut_transform" {
  ^bb0(%k: tensor<4x4xf32>, %beta: tensor<4x1xf32>, %w: tensor<4x4xf32>, %valid: index):
    %kk = ttt.matmul %k, %k {transpose_rhs} : tensor<4x4xf32>, tensor<4x4xf32>
    %a = ttt.mul %beta, %kk : tensor<4x1xf32>, tensor<4x4xf32>
    %l = ttt.causal_mask %a {strict} : tensor<4x4xf32>
    %u = ttt.tri_solve %l, %k : tensor<4x4xf32>, tensor<4x4xf32>
    %o = ttt.linear %u, %w : tensor<4x4xf32>, tensor<4x4xf32>
    %m = ttt.mean %o : tensor<4x4xf32>
    %s = ttt.stop_gradient %m : tensor<4x1xf32>
    %r = ttt.sub %o, %s : tensor<4x4xf32>, tensor<4x1xf32>
    %c1 = arith.constant 1 : index
    %last = arith.subi %valid, %c1 : index
    %row = ttt.row %u[%last] : tensor<4x4xf32>
    %upd = ttt.matmul %row, %row {transpose_lhs} : tensor<1x4xf32>, tensor<1x4xf32>
    %w2 = ttt.sub %w, %upd : tensor<4x4xf32>, tensor<4x4xf32>
    ttt.yield %r, %w2 : tensor<4x4xf32>, tensor<4x4xf32>
  }
}

// The block: the step's arguments, then a cotangent per yielded value.
// CHECK: ttt.chunk_step
// CHECK: ttt.chunk_backward {
// CHECK-NEXT: ^bb0(%{{.*}}: tensor<4x4xf32>, %{{.*}}: tensor<4x1xf32>, %{{.*}}: tensor<4x4xf32>, %{{.*}}: index, %[[COUT:.*]]: tensor<4x4xf32>, %[[CW:.*]]: tensor<4x4xf32>):
// The recomputed forward, then the reverse pass.
// CHECK: %[[U:.*]] = ttt.tri_solve
// CHECK: ttt.row %[[U]]
// Row i of X: its cotangent on the one-hot column valid_mask(i + 1) - valid_mask(i).
// CHECK: ttt.valid_mask
// CHECK: ttt.valid_mask
// The solve's rule: the transposed solve, and -dR X^T below the diagonal.
// CHECK: %[[DR:.*]] = ttt.tri_solve %{{.*}}, %{{.*}} {transpose}
// CHECK: %[[DRX:.*]] = ttt.matmul %[[DR]], %[[U]] {transpose_rhs}
// CHECK: %[[NEG:.*]] = ttt.neg %[[DRX]]
// CHECK: ttt.causal_mask %[[NEG]] {strict}
// The broadcast operand's cotangent summed over the broadcast columns.
// CHECK: ttt.sum %{{.*}} : tensor<4x4xf32>
// One cotangent per declaration: k [4, 4], beta [4, 1], w at the chunk's start [4, 4].
// CHECK: ttt.yield %{{.*}}, %{{.*}}, %{{.*}} : tensor<4x4xf32>, tensor<4x1xf32>, tensor<4x4xf32>

// A layer that already has its backward gets no second one.
// ONCE-COUNT-1: ttt.chunk_backward
