// Titans' neural memory with a two-layer MLP M(x) = gelu_tanh(x W1) W2
// (hidden 4D, no biases); momentum and forgetting on each weight; the
// momentum buffers start at zero.
ttt.layer @titans_mlp attributes {mini_batch = 16 : i64} {
  %q = ttt.input "q" : !ttt.vec<1>
  %k = ttt.input "k" : !ttt.vec<1>
  %v = ttt.input "v" : !ttt.vec<1>
  %theta = ttt.input "theta" : f32
  %eta = ttt.input "eta" : f32
  %alpha = ttt.input "alpha" : f32
  %W1 = ttt.state "w1" init "w1_init" final "w1_final" : !ttt.mat<1, 4>
  %W2 = ttt.state "w2" init "w2_init" final "w2_final" : !ttt.mat<4, 1>
  %S1 = ttt.state "s1" final "s1_final" : !ttt.mat<1, 4>
  %S2 = ttt.state "s2" final "s2_final" : !ttt.mat<4, 1>
  %one = ttt.constant 1.0
  %keep = ttt.sub %one, %alpha : f32, f32

  ttt.model {
  ^bb0(%x: !ttt.vec<1>):
    %z = ttt.linear %x, %W1 : !ttt.vec<1>, !ttt.mat<1, 4>
    %h = ttt.gelu %z : !ttt.vec<4>
    %y = ttt.linear %h, %W2 : !ttt.vec<4>, !ttt.mat<4, 1>
    ttt.yield %y : !ttt.vec<1>
  }

  ttt.loss {
    %pred = ttt.call_model %k : !ttt.vec<1> -> !ttt.vec<1>
    %err = ttt.sub %pred, %v : !ttt.vec<1>, !ttt.vec<1>
    %l = ttt.sum_sq %err : !ttt.vec<1>
    ttt.yield %l : f32
  }

  ttt.gd lr(%theta)
  ttt.momentum %W1, %S1, %eta : !ttt.mat<1, 4>
  ttt.momentum %W2, %S2, %eta : !ttt.mat<4, 1>
  ttt.decay %W1, %keep : !ttt.mat<1, 4>
  ttt.decay %W2, %keep : !ttt.mat<4, 1>

  ttt.readout "out" {
    %y = ttt.call_model %q : !ttt.vec<1> -> !ttt.vec<1>
    ttt.yield %y : !ttt.vec<1>
  }
}
