// The rule's verifier and what ttt-dual-form refuses, located.
// RUN: %ttt-opt --load-dialect-plugin=%plugin %s -split-input-file -verify-diagnostics --ttt-to-chunked="head-dim=4"

ttt.layer @bad_eps attributes {mini_batch = 1 : i64} {
  %k = ttt.input "k" : !ttt.vec<1>
  %lr = ttt.input "lr" : f32
  %W = ttt.state "w" : !ttt.mat<1, 1>
  %N = ttt.state "n" : !ttt.mat<1, 1>
  %b2 = ttt.constant 0.9
  ttt.model {
  ^bb0(%x: !ttt.vec<1>):
    %y = ttt.linear %x, %W : !ttt.vec<1>, !ttt.mat<1, 1>
    ttt.yield %y : !ttt.vec<1>
  }
  ttt.loss {
    %p = ttt.call_model %k : !ttt.vec<1> -> !ttt.vec<1>
    %l = ttt.sum_sq %p : !ttt.vec<1>
    ttt.yield %l : f32
  }
  ttt.gd lr(%lr)
  // expected-error @+1 {{eps must be positive, got 0}}
  nstep.normalized %W, %N, %b2 {eps = 0.0 : f32} : !ttt.mat<1, 1>
  ttt.readout "out" {
    %y = ttt.call_model %k : !ttt.vec<1> -> !ttt.vec<1>
    ttt.yield %y : !ttt.vec<1>
  }
}

// -----

ttt.layer @same_state attributes {mini_batch = 1 : i64} {
  %k = ttt.input "k" : !ttt.vec<1>
  %lr = ttt.input "lr" : f32
  %W = ttt.state "w" : !ttt.mat<1, 1>
  %b2 = ttt.constant 0.9
  ttt.model {
  ^bb0(%x: !ttt.vec<1>):
    %y = ttt.linear %x, %W : !ttt.vec<1>, !ttt.mat<1, 1>
    ttt.yield %y : !ttt.vec<1>
  }
  ttt.loss {
    %p = ttt.call_model %k : !ttt.vec<1> -> !ttt.vec<1>
    %l = ttt.sum_sq %p : !ttt.vec<1>
    ttt.yield %l : f32
  }
  ttt.gd lr(%lr)
  // expected-error @+1 {{moment must be a state of its own}}
  nstep.normalized %W, %W, %b2 {eps = 0.01 : f32} : !ttt.mat<1, 1>
  ttt.readout "out" {
    %y = ttt.call_model %k : !ttt.vec<1> -> !ttt.vec<1>
    ttt.yield %y : !ttt.vec<1>
  }
}

// -----

// An exact per-token rule at mini-batch 8.
ttt.layer @per_token_mini_batch attributes {mini_batch = 8 : i64} {
  %k = ttt.input "k" : !ttt.vec<1>
  %lr = ttt.input "lr" : f32
  %W = ttt.state "w" : !ttt.mat<1, 1>
  %N = ttt.state "n" : !ttt.mat<1, 1>
  %b2 = ttt.constant 0.9
  ttt.model {
  ^bb0(%x: !ttt.vec<1>):
    %y = ttt.linear %x, %W : !ttt.vec<1>, !ttt.mat<1, 1>
    ttt.yield %y : !ttt.vec<1>
  }
  ttt.loss {
    %p = ttt.call_model %k : !ttt.vec<1> -> !ttt.vec<1>
    %l = ttt.sum_sq %p : !ttt.vec<1>
    ttt.yield %l : f32
  }
  ttt.gd lr(%lr)
  // expected-error @+1 {{is an exact per-token rule with no dual form: it needs mini-batch 1, got 8}}
  nstep.normalized %W, %N, %b2 {eps = 0.01 : f32} : !ttt.mat<1, 1>
  ttt.readout "out" {
    %y = ttt.call_model %k : !ttt.vec<1> -> !ttt.vec<1>
    ttt.yield %y : !ttt.vec<1>
  }
}

// -----

// The chunk-end path with a readout of the state per token.
ttt.layer @chunk_end_per_token_readout attributes {mini_batch = 8 : i64} {
  %k = ttt.input "k" : !ttt.vec<1>
  %lr = ttt.input "lr" : f32
  %W = ttt.state "w" : !ttt.mat<1, 1>
  %N = ttt.state "n" : !ttt.mat<1, 1>
  %b2 = ttt.constant 0.9
  ttt.model {
  ^bb0(%x: !ttt.vec<1>):
    %y = ttt.linear %x, %W : !ttt.vec<1>, !ttt.mat<1, 1>
    ttt.yield %y : !ttt.vec<1>
  }
  ttt.loss {
    %p = ttt.call_model %k : !ttt.vec<1> -> !ttt.vec<1>
    %l = ttt.sum_sq %p : !ttt.vec<1>
    ttt.yield %l : f32
  }
  ttt.gd lr(%lr)
  // expected-remark @+1 {{chunk-end path}}
  nstep.normalized %W, %N, %b2 {eps = 0.01 : f32, chunk_end} : !ttt.mat<1, 1>
  // expected-error @+1 {{reads state 'w' per token, but nstep.normalized updates it once per chunk of 8 tokens: read it before_update, or use mini-batch 1}}
  ttt.readout "out" {
    %y = ttt.call_model %k : !ttt.vec<1> -> !ttt.vec<1>
    ttt.yield %y : !ttt.vec<1>
  }
}

// -----

// No dual form and a built-in retention on one state.
ttt.layer @with_decay attributes {mini_batch = 1 : i64} {
  %k = ttt.input "k" : !ttt.vec<1>
  %lr = ttt.input "lr" : f32
  %a = ttt.input "a" : f32
  %W = ttt.state "w" : !ttt.mat<1, 1>
  %N = ttt.state "n" : !ttt.mat<1, 1>
  %b2 = ttt.constant 0.9
  ttt.model {
  ^bb0(%x: !ttt.vec<1>):
    %y = ttt.linear %x, %W : !ttt.vec<1>, !ttt.mat<1, 1>
    ttt.yield %y : !ttt.vec<1>
  }
  ttt.loss {
    %p = ttt.call_model %k : !ttt.vec<1> -> !ttt.vec<1>
    %l = ttt.sum_sq %p : !ttt.vec<1>
    ttt.yield %l : f32
  }
  ttt.gd lr(%lr)
  // expected-error @+1 {{has no dual form and cannot be combined with ttt.decay on the same state}}
  nstep.normalized %W, %N, %b2 {eps = 0.01 : f32} : !ttt.mat<1, 1>
  ttt.decay %W, %a : !ttt.mat<1, 1>
  ttt.readout "out" {
    %y = ttt.call_model %k : !ttt.vec<1> -> !ttt.vec<1>
    ttt.yield %y : !ttt.vec<1>
  }
}
