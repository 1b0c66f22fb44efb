// TTT-Linear (no layer norm) with a clipped squared-error inner loss written with ttt.min /
// ttt.max: clamp(err) = min(max(err, -d), d), loss = sum(c^2 / 2)
// (a clipped squared error: its gradient c dc/derr needs the min/max rules).
ttt.layer @clip_minmax attributes {mini_batch = 8 : i64} {
  %q = ttt.input "q" : !ttt.vec<1>
  %k = ttt.input "k" : !ttt.vec<1>
  %v = ttt.input "v" : !ttt.vec<1>
  %lr = ttt.input "lr" : f32
  %W = ttt.state "w" init "w_init" final "w_final" : !ttt.mat<1, 1>
  ttt.model {
  ^bb0(%x: !ttt.vec<1>):
    %z = ttt.linear %x, %W : !ttt.vec<1>, !ttt.mat<1, 1>
    ttt.yield %z : !ttt.vec<1>
  }
  ttt.loss {
    %pred = ttt.call_model %k : !ttt.vec<1> -> !ttt.vec<1>
    %err = ttt.sub %pred, %v : !ttt.vec<1>, !ttt.vec<1>
    %d = ttt.constant 1.0
    %nd = ttt.constant -1.0
    %half = ttt.constant 0.5
    %lo = ttt.max %err, %nd : !ttt.vec<1>, f32
    %c = ttt.min %lo, %d : !ttt.vec<1>, f32
    %hc = ttt.mul %c, %half : !ttt.vec<1>, f32
    %p = ttt.mul %c, %hc : !ttt.vec<1>, !ttt.vec<1>
    %l = ttt.sum %p : !ttt.vec<1>
    ttt.yield %l : f32
  }
  ttt.gd lr(%lr)
  ttt.readout "out" {
    %y = ttt.call_model %q : !ttt.vec<1> -> !ttt.vec<1>
    ttt.yield %y : !ttt.vec<1>
  }
}
