// RUN: ttt-opt %examples/ttt_linear.mlir --ttt-to-autodiff | FileCheck %s
// RUN: ttt-opt %examples/ttt_mlp.mlir --ttt-to-autodiff | FileCheck %s --check-prefix=MLP
// RUN: ttt-opt %s --split-input-file --ttt-to-autodiff --verify-diagnostics | FileCheck %s --check-prefix=STOP
// No matrix-valued value inside the gradient region: !ttt.mat appears only as
// the weight operand of ttt.linear and in the outer_grad terms.
// RUN: ttt-opt %examples/ttt_mlp.mlir --ttt-to-autodiff | sed -n '/ttt.gradient/,/^    }/p' \
// RUN:   | grep -v 'ttt.linear\|ttt.outer_grad' | not grep 'mat<'

// The loss becomes a gradient region: the forward pass at the anchor state,
// the reverse pass (the layer-norm backward derived by the chain rule), and
// factored per-token terms. No matrix-valued gradient is formed.
// CHECK-LABEL: ttt.layer @ttt_linear
// CHECK-NOT: ttt.loss
// CHECK: ttt.gradient {
// CHECK: %[[Z:.*]] = ttt.linear %[[K:.*]], %[[W:.*]] : !ttt.vec<1>, !ttt.mat<1, 1>
// CHECK: ttt.rsqrt
// reverse pass through the layer norm: d/dx rsqrt = -1/2 rsqrt^3, d/dx mean = 1/n
// CHECK: ttt.constant -5.000000e-01
// CHECK: ttt.dim_size
// CHECK: ttt.broadcast
// CHECK: ttt.outer_grad %[[W]], %[[K]], %[[G:.*]] : <1, 1>, <1>, <1>
// CHECK-NEXT: ttt.vec_grad %{{.*}}, %[[G]] : <1>, <1>
// CHECK: }
// CHECK: ttt.gd lr

// TTT-MLP: the second layer's factor is (gelu(z1), g2); the first layer's
// output gradient goes back through W2^T and gelu' (from tanh's rule).
// MLP-LABEL: ttt.layer @ttt_mlp
// MLP: ttt.gradient {
// MLP: %[[Z1:.*]] = ttt.linear %[[K:.*]], %[[W1:.*]] : !ttt.vec<1>, !ttt.mat<1, 4>
// MLP: ttt.linear %[[H:.*]], %[[W2:.*]] : !ttt.vec<4>, !ttt.mat<4, 1>
// MLP: ttt.outer_grad %[[W2]], %[[H]], %[[G2:.*]] : <4, 1>, <4>, <1>
// MLP: ttt.linear %[[G2]], %[[W2]] {transpose} : !ttt.vec<1>, !ttt.mat<4, 1>
// MLP: ttt.outer_grad %[[W1]], %[[K]], %[[G1:.*]] : <1, 4>, <1>, <4>
// MLP-DAG: ttt.vec_grad %{{.*}}, %[[G1]] : <4>, <4>
// MLP-DAG: ttt.vec_grad %{{.*}}, %[[G2]] : <1>, <1>

// -----

ttt.layer @no_state_in_loss attributes {mini_batch = 4 : i64} {
  %q = ttt.input "q" : !ttt.vec<1>
  %w = ttt.state "w" : !ttt.mat<1, 1>
  ttt.loss {
    // expected-error @+1 {{the loss does not depend on any state}}
    %l = ttt.sum_sq %q : !ttt.vec<1>
    ttt.yield %l : f32
  }
  ttt.gd
  ttt.readout "o" {
    %y = ttt.linear %q, %w : !ttt.vec<1>, !ttt.mat<1, 1>
    ttt.yield %y : !ttt.vec<1>
  }
}

// -----

ttt.layer @no_rule attributes {mini_batch = 4 : i64} {
  %q = ttt.input "q" : !ttt.vec<1>
  %w = ttt.state "w" : !ttt.mat<1, 1>
  ttt.loss {
    %y = ttt.linear %q, %w : !ttt.vec<1>, !ttt.mat<1, 1>
    // expected-error @+1 {{has no derivative rule in ttt-inner-autodiff}}
    %m = ttt.segment_attention %y, %q, %q : !ttt.vec<1>
    %l = ttt.sum_sq %m : !ttt.vec<1>
    ttt.yield %l : f32
  }
  ttt.gd
  ttt.readout "o" {
    ttt.yield %q : !ttt.vec<1>
  }
}

// -----

// stop_gradient cuts the reverse pass: d<y, sg(y)>/dy = sg(y), one term.
// STOP-LABEL: ttt.layer @stopped
// STOP: %[[Y:.*]] = ttt.linear
// STOP: %[[S:.*]] = ttt.stop_gradient %[[Y]]
// STOP: %[[G:.*]] = ttt.mul %{{.*}}, %[[S]]
// STOP-NEXT: ttt.outer_grad %{{.*}}, %{{.*}}, %[[G]]
// STOP-NEXT: }
ttt.layer @stopped attributes {mini_batch = 4 : i64} {
  %q = ttt.input "q" : !ttt.vec<1>
  %w = ttt.state "w" : !ttt.mat<1, 1>
  ttt.loss {
    %y = ttt.linear %q, %w : !ttt.vec<1>, !ttt.mat<1, 1>
    %s = ttt.stop_gradient %y : !ttt.vec<1>
    %d = ttt.dot %y, %s : !ttt.vec<1>
    ttt.yield %d : f32
  }
  ttt.gd
  ttt.readout "o" {
    ttt.yield %q : !ttt.vec<1>
  }
}
