// Titans' neural memory, linear (Behrouz et al., 2025, arXiv 2501.00663).
//
// Memory M(x) = x W, loss |k W - v|^2 (no 1/2), gradient u_t at the
// mini-batch's first state; momentum ("surprise") S_t = eta_t S_{t-1} -
// theta_t u_t and forgetting W_t = (1 - alpha_t) W_{t-1} + S_t; out = q W_t.
ttt.layer @titans_linear attributes {mini_batch = 16 : i64} {
  %q = ttt.input "q" : !ttt.vec<1>
  %k = ttt.input "k" : !ttt.vec<1>
  %v = ttt.input "v" : !ttt.vec<1>
  %theta = ttt.input "theta" : f32
  %eta = ttt.input "eta" : f32
  %alpha = ttt.input "alpha" : f32
  %W = ttt.state "w" init "w_init" final "w_final" : !ttt.mat<1, 1>
  %S = ttt.state "s" init "s_init" optional final "s_final" : !ttt.mat<1, 1>
  %one = ttt.constant 1.0
  %keep = ttt.sub %one, %alpha : f32, f32

  ttt.model {
  ^bb0(%x: !ttt.vec<1>):
    %y = ttt.linear %x, %W : !ttt.vec<1>, !ttt.mat<1, 1>
    ttt.yield %y : !ttt.vec<1>
  }

  ttt.loss {
    %pred = ttt.call_model %k : !ttt.vec<1> -> !ttt.vec<1>
    %err = ttt.sub %pred, %v : !ttt.vec<1>, !ttt.vec<1>
    %l = ttt.sum_sq %err : !ttt.vec<1>
    ttt.yield %l : f32
  }

  ttt.gd lr(%theta)
  ttt.momentum %W, %S, %eta : !ttt.mat<1, 1>
  ttt.decay %W, %keep : !ttt.mat<1, 1>

  ttt.readout "out" {
    %y = ttt.call_model %q : !ttt.vec<1> -> !ttt.vec<1>
    ttt.yield %y : !ttt.vec<1>
  }
}
