ttt.layer @bad attributes {mini_batch = 4 : i64} {
  %q = ttt.input "q" : !ttt.vec<1>
  %w = ttt.state "w" : !ttt.mat<1, 2>
  ttt.loss {
    %y = ttt.linear %q, %w : !ttt.vec<1>, !ttt.mat<1, 2>
    %l = ttt.sum_sq %y : !ttt.vec<2>
    ttt.yield %l : f32
  }
  ttt.gd
  ttt.readout "o" {
    %y = ttt.linear %q, %w : !ttt.vec<1>, !ttt.mat<1, 2>
    %z = ttt.add %y, %q : !ttt.vec<2>, !ttt.vec<1>
    ttt.yield %z : !ttt.vec<2>
  }
}
