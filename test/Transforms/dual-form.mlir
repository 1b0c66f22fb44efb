// RUN: ttt-opt %examples/ttt_linear.mlir --ttt-to-chunked="head-dim=16 mini-batch=8" | FileCheck %s
// RUN: ttt-opt %examples/ttt_mlp.mlir --ttt-to-chunked="head-dim=16" | FileCheck %s --check-prefix=MLP
// RUN: ttt-opt %s --split-input-file --ttt-to-chunked="head-dim=16" --verify-diagnostics

// The per-token description becomes one chunk step over [C, D] tensors:
// gradients of the whole chunk at the anchor state, the learning-rate matrix
// E = tril(scale_i lr_j) with padding columns masked, the readout's linear
// use of W as A W0 - (E o A X^T) G, and the chunk-end update W0 - X^T (e o G).
// CHECK-LABEL: ttt.layer @ttt_linear attributes {chunk_size = 8 : i64, head_dim = 16 : i64, mini_batch = 8 : i64}
// CHECK-NOT: ttt.gradient
// CHECK-NOT: ttt.readout
// CHECK: ttt.chunk_step readouts ["out"] algorithm "dual_form" {
// CHECK-NEXT: ^bb0(%[[Q:.*]]: tensor<8x16xf32>, %[[K:.*]]: tensor<8x16xf32>, %{{.*}}: tensor<8x16xf32>, %[[LR:.*]]: tensor<8x1xf32>, %[[S:.*]]: tensor<8x1xf32>, %{{.*}}: tensor<1x16xf32>, %{{.*}}: tensor<1x16xf32>, %[[W0:.*]]: tensor<16x16xf32>, %[[B0:.*]]: tensor<1x16xf32>, %[[VALID:.*]]: index):
// CHECK: ttt.linear %[[K]], %[[W0]] : tensor<8x16xf32>, tensor<16x16xf32>
// CHECK: %[[MASK:.*]] = ttt.valid_mask %[[VALID]] : tensor<8x1xf32>
// CHECK: %[[LRM:.*]] = ttt.mul %[[LR]], %[[MASK]]
// CHECK: %[[LRT:.*]] = ttt.transpose %[[LRM]] : tensor<8x1xf32>
// CHECK: %[[LAST:.*]] = arith.subi %[[VALID]], %{{.*}} : index
// CHECK: %[[E0:.*]] = ttt.mul %[[S]], %[[LRT]] : tensor<8x1xf32>, tensor<1x8xf32>
// CHECK: %[[E:.*]] = ttt.causal_mask %[[E0]] : tensor<8x8xf32>
// chunk end uses the row of the last real token
// CHECK: %[[EL:.*]] = ttt.row %[[E]][%[[LAST]]] : tensor<8x8xf32>
// per-token bias b_i = b0 - E G
// CHECK: %[[EG:.*]] = ttt.matmul %[[E]], %[[G:.*]] : tensor<8x8xf32>, tensor<8x16xf32>
// CHECK: ttt.sub %[[B0]], %[[EG]]
// readout: Q W0 - (E o Q K^T) G
// CHECK: %[[QW:.*]] = ttt.linear %[[Q]], %[[W0]]
// CHECK: %[[QK:.*]] = ttt.matmul %[[Q]], %[[K]] {transpose_rhs} : tensor<8x16xf32>, tensor<8x16xf32>
// CHECK: %[[M:.*]] = ttt.mul %[[E]], %[[QK]] : tensor<8x8xf32>, tensor<8x8xf32>
// CHECK: %[[MG:.*]] = ttt.matmul %[[M]], %[[G]] : tensor<8x8xf32>, tensor<8x16xf32>
// CHECK: ttt.sub %[[QW]], %[[MG]]
// CHECK: %[[ELT:.*]] = ttt.transpose %[[EL]] : tensor<1x8xf32>
// CHECK: %[[EGL:.*]] = ttt.mul %[[ELT]], %[[G]]
// CHECK: %[[DW:.*]] = ttt.matmul %[[K]], %[[EGL]] {transpose_lhs} : tensor<8x16xf32>, tensor<8x16xf32>
// CHECK: %[[W1:.*]] = ttt.sub %[[W0]], %[[DW]] : tensor<16x16xf32>, tensor<16x16xf32>
// CHECK: %[[DB:.*]] = ttt.matmul %[[EL]], %[[G]] : tensor<1x8xf32>, tensor<8x16xf32>
// CHECK: %[[B1:.*]] = ttt.sub %[[B0]], %[[DB]]
// CHECK: ttt.yield %{{.*}}, %[[W1]], %[[B1]] : tensor<8x16xf32>, tensor<16x16xf32>, tensor<1x16xf32>

// TTT-MLP, layer by layer: the second layer's A is the readout's own
// gelu(Z1_bar), its X the training-side gelu(K W1 + b1). No [C, D, D] or
// per-token matrix appears: every tensor is chunk-sized or state-sized.
// MLP-LABEL: ttt.layer @ttt_mlp attributes {chunk_size = 16 : i64, head_dim = 16 : i64, mini_batch = 16 : i64}
// MLP: ttt.chunk_step
// MLP: ttt.linear %[[X2:.*]], %[[W2:.*]] : tensor<16x64xf32>, tensor<64x16xf32>
// MLP: ttt.causal_mask %{{.*}} : tensor<16x16xf32>
// MLP: ttt.matmul %{{.*}}, %{{.*}} {transpose_rhs} : tensor<16x16xf32>, tensor<16x16xf32>
// MLP: ttt.linear %[[A2:.*]], %[[W2]] : tensor<16x64xf32>, tensor<64x16xf32>
// MLP-NEXT: ttt.matmul %[[A2]], %[[X2]] {transpose_rhs} : tensor<16x64xf32>, tensor<16x64xf32>
// MLP: ttt.matmul %[[X2]], %{{.*}} {transpose_lhs} : tensor<16x64xf32>, tensor<16x16xf32>
// MLP-NOT: tensor<16x16x16xf32>

// -----

ttt.layer @pre_gradient_needs_mini_batch_1 attributes {mini_batch = 4 : i64} {
  %q = ttt.input "q" : !ttt.vec<1>
  %a = ttt.input "a" : f32
  %w = ttt.state "w" : !ttt.mat<1, 1>
  ttt.loss {
    %y = ttt.linear %q, %w : !ttt.vec<1>, !ttt.mat<1, 1>
    %l = ttt.sum_sq %y : !ttt.vec<1>
    ttt.yield %l : f32
  }
  ttt.gd
  // expected-error @+1 {{retention before the gradient step (pre_gradient) is an exact per-token rule: it needs mini-batch 1, got 4}}
  ttt.decay %w, %a {pre_gradient} : !ttt.mat<1, 1>
  ttt.readout "o" {
    %y = ttt.linear %q, %w : !ttt.vec<1>, !ttt.mat<1, 1>
    ttt.yield %y : !ttt.vec<1>
  }
}

// -----

ttt.layer @scale_and_momentum attributes {mini_batch = 4 : i64} {
  %q = ttt.input "q" : !ttt.vec<1>
  %e = ttt.input "e" : f32
  %s = ttt.position_input "s" default {
  ^bb0(%i: f32):
    ttt.yield %i : f32
  } : f32
  %w = ttt.state "w" : !ttt.mat<1, 1>
  %m = ttt.state "m" : !ttt.mat<1, 1>
  ttt.loss {
    %y = ttt.linear %q, %w : !ttt.vec<1>, !ttt.mat<1, 1>
    %l = ttt.sum_sq %y : !ttt.vec<1>
    ttt.yield %l : f32
  }
  // expected-error @+1 {{a reader-side scale cannot be combined with ttt.decay or ttt.momentum}}
  ttt.gd scale(%s)
  ttt.momentum %w, %m, %e : !ttt.mat<1, 1>
  ttt.readout "o" {
    %y = ttt.linear %q, %w : !ttt.vec<1>, !ttt.mat<1, 1>
    ttt.yield %y : !ttt.vec<1>
  }
}
