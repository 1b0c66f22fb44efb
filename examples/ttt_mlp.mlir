// TTT-MLP (Sun et al., 2024): as TTT-Linear, with a two-layer MLP
// f(x) = gelu_tanh(x W1 + b1) W2 + b2 (hidden size 4D) under the layer norm.
ttt.layer @ttt_mlp attributes {mini_batch = 16 : i64} {
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
  %W1 = ttt.state "w1" init "w1_init" final "w1_final" : !ttt.mat<1, 4>
  %b1 = ttt.state "b1" init "b1_init" final "b1_final" : !ttt.vec<4>
  %W2 = ttt.state "w2" init "w2_init" final "w2_final" : !ttt.mat<4, 1>
  %b2 = ttt.state "b2" init "b2_init" final "b2_final" : !ttt.vec<1>

  ttt.model {
  ^bb0(%x: !ttt.vec<1>):
    %z1 = ttt.linear %x, %W1 : !ttt.vec<1>, !ttt.mat<1, 4>
    %z1b = ttt.add %z1, %b1 : !ttt.vec<4>, !ttt.vec<4>
    %h = ttt.gelu %z1b : !ttt.vec<4>
    %z2 = ttt.linear %h, %W2 : !ttt.vec<4>, !ttt.mat<4, 1>
    %z2b = ttt.add %z2, %b2 : !ttt.vec<1>, !ttt.vec<1>
    %n = ttt.layer_norm %z2b scale %ln_w shift %ln_b : !ttt.vec<1>
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
