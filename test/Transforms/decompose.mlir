// RUN: ttt-opt %examples/ttt_mlp.mlir --ttt-decompose | FileCheck %s

// Model calls are inlined and the model op is gone; layer_norm, gelu and
// sum_sq are expanded into the core primitives.
// CHECK-LABEL: ttt.layer @ttt_mlp
// CHECK-NOT: ttt.model
// CHECK-NOT: ttt.call_model
// CHECK-NOT: ttt.layer_norm
// CHECK-NOT: ttt.gelu
// CHECK-NOT: ttt.sum_sq
// CHECK: ttt.loss {
// CHECK: %[[Z1:.*]] = ttt.linear %{{.*}}, %{{.*}} : !ttt.vec<1>, !ttt.mat<1, 4>
// CHECK: %[[Z1B:.*]] = ttt.add %[[Z1]], %{{.*}} : !ttt.vec<4>, !ttt.vec<4>
// gelu, tanh form: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
// CHECK: ttt.constant 4.471500e-02
// CHECK: ttt.constant 0.797884583
// CHECK: ttt.tanh
// CHECK: ttt.linear %{{.*}}, %{{.*}} : !ttt.vec<4>, !ttt.mat<4, 1>
// layer norm: mean, centred, variance, rsqrt(var + eps)
// CHECK: %[[MU:.*]] = ttt.mean
// CHECK: %[[XC:.*]] = ttt.sub %{{.*}}, %[[MU]] : !ttt.vec<1>, f32
// CHECK: %[[SQ:.*]] = ttt.mul %[[XC]], %[[XC]]
// CHECK: %[[VAR:.*]] = ttt.mean %[[SQ]]
// CHECK: %[[EPS:.*]] = ttt.constant 9.99999997E-7
// CHECK: %[[VE:.*]] = ttt.add %[[VAR]], %[[EPS]] : f32, f32
// CHECK: ttt.rsqrt %[[VE]] : f32
// the loss: 0.5 * sum(err^2)
// CHECK: %[[S:.*]] = ttt.sum
// CHECK: %[[H:.*]] = ttt.constant 5.000000e-01
// CHECK: %[[L:.*]] = ttt.mul %[[H]], %[[S]] : f32, f32
// CHECK: ttt.yield %[[L]] : f32
// CHECK: ttt.readout "out" {
// CHECK: ttt.linear
// CHECK: ttt.tanh
// CHECK: ttt.linear
