// RUN: ttt-opt %s | ttt-opt | FileCheck %s

// CHECK-LABEL: ttt.layer @every_primitive attributes {mini_batch = 4 : i64}
ttt.layer @every_primitive attributes {mini_batch = 4 : i64} {
  // CHECK: ttt.input "x" : !ttt.vec<2>
  %x = ttt.input "x" : !ttt.vec<2>
  %y = ttt.input "y" : !ttt.vec<1>
  %g = ttt.input "g" : f32
  // CHECK: ttt.position_input "s" default
  %s = ttt.position_input "s" default {
  ^bb0(%i: f32):
    ttt.yield %i : f32
  } : f32
  // CHECK: ttt.param "p" : !ttt.vec<1>
  %p = ttt.param "p" : !ttt.vec<1>
  // CHECK: ttt.param "ps" : f32
  %ps = ttt.param "ps" : f32
  // CHECK: ttt.state "w" init "w0" optional final "w1" : !ttt.mat<2, 1>
  %W = ttt.state "w" init "w0" optional final "w1" : !ttt.mat<2, 1>
  // CHECK: ttt.state "m" final "m1" : !ttt.mat<2, 1>
  %M = ttt.state "m" final "m1" : !ttt.mat<2, 1>
  // CHECK: ttt.state "z" : !ttt.vec<1>
  %z = ttt.state "z" : !ttt.vec<1>
  %one = ttt.constant 1.0
  %keep = ttt.sub %one, %g : f32, f32
  ttt.model {
  ^bb0(%a: !ttt.vec<2>):
    // CHECK: ttt.linear %{{.*}}, %{{.*}} : !ttt.vec<2>, !ttt.mat<2, 1>
    %l = ttt.linear %a, %W : !ttt.vec<2>, !ttt.mat<2, 1>
    %n1 = ttt.layer_norm %l scale %p shift %z : !ttt.vec<1>
    %n2 = ttt.rms_norm %n1 scale %p {eps = 1.0e-5 : f32} : !ttt.vec<1>
    %n3 = ttt.l2_norm %n2 : !ttt.vec<1>
    %e1 = ttt.gelu %n3 : !ttt.vec<1>
    %e2 = ttt.silu %e1 : !ttt.vec<1>
    %e3 = ttt.tanh %e2 : !ttt.vec<1>
    %e4 = ttt.sigmoid %e3 : !ttt.vec<1>
    %e5 = ttt.relu %e4 : !ttt.vec<1>
    %e6 = ttt.elu1 %e5 : !ttt.vec<1>
    %e7 = ttt.exp %e6 : !ttt.vec<1>
    %e8 = ttt.log %e7 : !ttt.vec<1>
    %e9 = ttt.sqrt %e8 : !ttt.vec<1>
    %e10 = ttt.rsqrt %e9 : !ttt.vec<1>
    %e11 = ttt.neg %e10 : !ttt.vec<1>
    %e12 = ttt.step %e11 : !ttt.vec<1>
    %e13 = ttt.max %e12, %e11 : !ttt.vec<1>, !ttt.vec<1>
    %e14 = ttt.min %e13, %e11 : !ttt.vec<1>, !ttt.vec<1>
    %e15 = ttt.div %e14, %ps : !ttt.vec<1>, f32
    %e16 = ttt.div_or_zero %e15, %ps : !ttt.vec<1>, f32
    %e17 = ttt.mul %ps, %e16 : f32, !ttt.vec<1>
    ttt.yield %e17 : !ttt.vec<1>
  }
  ttt.loss {
    %pred = ttt.call_model %x : !ttt.vec<2> -> !ttt.vec<1>
    %d = ttt.dot %pred, %y : !ttt.vec<1>
    %ss = ttt.sum_sq %pred {scale = 0.5 : f32} : !ttt.vec<1>
    %sm = ttt.sum %pred : !ttt.vec<1>
    %mn = ttt.mean %pred : !ttt.vec<1>
    %c = ttt.stop_gradient %mn : f32
    %a1 = ttt.add %d, %ss : f32, f32
    %a2 = ttt.add %a1, %sm : f32, f32
    %a3 = ttt.add %a2, %c : f32, f32
    ttt.yield %a3 : f32
  }
  // CHECK: ttt.gd lr(%{{.*}}) scale(%{{.*}})
  ttt.gd lr(%g) scale(%s)
  // CHECK: ttt.momentum %{{.*}}, %{{.*}}, %{{.*}} : !ttt.mat<2, 1>
  ttt.momentum %W, %M, %g : !ttt.mat<2, 1>
  // CHECK: ttt.decay %{{.*}}, %{{.*}} {pre_gradient} : !ttt.mat<2, 1>
  ttt.decay %W, %keep {pre_gradient} : !ttt.mat<2, 1>
  // CHECK: ttt.readout "o" before_update
  ttt.readout "o" before_update {
    %r = ttt.call_model %x : !ttt.vec<2> -> !ttt.vec<1>
    %att = ttt.segment_attention %y, %y, %y : !ttt.vec<1>
    %b = ttt.broadcast %g : f32 -> !ttt.vec<1>
    %ds = ttt.dim_size %r : !ttt.vec<1>
    %o = ttt.add %r, %att : !ttt.vec<1>, !ttt.vec<1>
    %o2 = ttt.add %o, %b : !ttt.vec<1>, !ttt.vec<1>
    %o3 = ttt.mul %o2, %ds : !ttt.vec<1>, f32
    ttt.yield %o3 : !ttt.vec<1>
  }
}
