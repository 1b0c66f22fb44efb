// TTT-Linear (Sun et al., 2024, arXiv 2407.04620).
//
// The hidden state is a linear model f(x) = LN(x W + b) trained at test time
// on the reconstruction loss 1/2 |f(k) - (v - k)|^2 by mini-batch gradient
// descent; token i of a mini-batch reads the weights after the steps of
// tokens 0..i, all taken at the mini-batch's first state. Learning rate of
// token j read by token i: token_scale[i] * lr[j].
ttt.layer @ttt_linear attributes {mini_batch = 16 : i64} {
  %q = ttt.input "q" : !ttt.vec<1>
  %k = ttt.input "k" : !ttt.vec<1>
  %v = ttt.input "v" : !ttt.vec<1>
  %lr = ttt.input "lr" : f32
  %token_scale = ttt.position_input "token_scale" default {
  ^bb0(%i: f32):
    %one = ttt.constant 1.0
    %n = ttt.add %i, %one : f32, f32
    %s = ttt.div %one, %n : f32, f32
    ttt.yield %s : f32
  } : f32
  %ln_w = ttt.param "ln_w" : !ttt.vec<1>
  %ln_b = ttt.param "ln_b" : !ttt.vec<1>
  %W = ttt.state "w" init "w_init" final "w_final" : !ttt.mat<1, 1>
  %b = ttt.state "b" init "b_init" final "b_final" : !ttt.vec<1>

  ttt.model {
  ^bb0(%x: !ttt.vec<1>):
    %z = ttt.linear %x, %W : !ttt.vec<1>, !ttt.mat<1, 1>
    %zb = ttt.add %z, %b : !ttt.vec<1>, !ttt.vec<1>
    %n = ttt.layer_norm %zb scale %ln_w shift %ln_b : !ttt.vec<1>
    ttt.yield %n : !ttt.vec<1>
  }

  ttt.loss {
    %pred = ttt.call_model %k : !ttt.vec<1> -> !ttt.vec<1>
    %target = ttt.sub %v, %k : !ttt.vec<1>, !ttt.vec<1>
    %err = ttt.sub %pred, %target : !ttt.vec<1>, !ttt.vec<1>
    %l = ttt.sum_sq %err {scale = 0.5 : f32} : !ttt.vec<1>
    ttt.yield %l : f32
  }

  ttt.gd lr(%lr) scale(%token_scale)

  ttt.readout "out" {
    %y = ttt.call_model %q : !ttt.vec<1> -> !ttt.vec<1>
    %o = ttt.add %q, %y : !ttt.vec<1>, !ttt.vec<1>
    ttt.yield %o : !ttt.vec<1>
  }
}
