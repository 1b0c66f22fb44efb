// TTT-Linear with momentum: the walk-through spec of docs/writing-a-variant.md.
// TTT-Linear's model and loss; the update goes through a momentum buffer,
//   S_t = eta_t S_{t-1} - lr_t grad_t(W_anchor),   W_t = W_{t-1} + S_t,
// for the weight and for the bias, each with its own buffer.
ttt.layer @ttt_linear_momentum attributes {mini_batch = 16 : i64} {
  %q = ttt.input "q" : !ttt.vec<1>
  %k = ttt.input "k" : !ttt.vec<1>
  %v = ttt.input "v" : !ttt.vec<1>
  %lr = ttt.input "lr" : f32
  %eta = ttt.input "eta" : f32
  %ln_w = ttt.param "ln_w" : !ttt.vec<1>
  %ln_b = ttt.param "ln_b" : !ttt.vec<1>
  %W = ttt.state "w" init "w_init" final "w_final" : !ttt.mat<1, 1>
  %b = ttt.state "b" init "b_init" final "b_final" : !ttt.vec<1>
  %SW = ttt.state "s_w" final "s_w_final" : !ttt.mat<1, 1>
  %Sb = ttt.state "s_b" final "s_b_final" : !ttt.vec<1>

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

  ttt.gd lr(%lr)
  ttt.momentum %W, %SW, %eta : !ttt.mat<1, 1>
  ttt.momentum %b, %Sb, %eta : !ttt.vec<1>

  ttt.readout "out" {
    %y = ttt.call_model %q : !ttt.vec<1> -> !ttt.vec<1>
    %o = ttt.add %q, %y : !ttt.vec<1>, !ttt.vec<1>
    ttt.yield %o : !ttt.vec<1>
  }
}
