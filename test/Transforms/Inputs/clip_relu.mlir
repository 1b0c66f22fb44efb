// The same clipped squared error as clip_minmax.mlir written with ttt.relu:
// clamp(err) = err - relu(err - d) + relu(-err - d).
ttt.layer @clip_relu attributes {mini_batch = 8 : i64} {
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
    %half = ttt.constant 0.5
    %a = ttt.sub %err, %d : !ttt.vec<1>, f32
    %ra = ttt.relu %a : !ttt.vec<1>
    %ne = ttt.neg %err : !ttt.vec<1>
    %bb = ttt.sub %ne, %d : !ttt.vec<1>, f32
    %rb = ttt.relu %bb : !ttt.vec<1>
    %e1 = ttt.sub %err, %ra : !ttt.vec<1>, !ttt.vec<1>
    %c = ttt.add %e1, %rb : !ttt.vec<1>, !ttt.vec<1>
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
