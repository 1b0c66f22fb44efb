module {
  ttt.layer @gated_delta attributes {chunk_size = 1 : i64, head_dim = 16 : i64, mini_batch = 1 : i64} {
    %0 = ttt.input "q" : !ttt.vec<1>
    %1 = ttt.input "k" : !ttt.vec<1>
    %2 = ttt.input "v" : !ttt.vec<1>
    %3 = ttt.input "beta" : f32
    %4 = ttt.input "alpha" : f32
    %5 = ttt.state "w" init "w_init" final "w_final" : !ttt.mat<1, 1>
    ttt.chunk_step readouts ["out"] algorithm "sequential" {
    ^bb0(%arg0: tensor<1x16xf32>, %arg1: tensor<1x16xf32>, %arg2: tensor<1x16xf32>, %arg3: tensor<1x1xf32>, %arg4: tensor<1x1xf32>, %arg5: tensor<16x16xf32>, %arg6: index):
      %6 = ttt.mul %arg4, %arg5 : tensor<1x1xf32>, tensor<16x16xf32>
      %7 = ttt.linear %arg1, %6 : tensor<1x16xf32>, tensor<16x16xf32>
      %8 = ttt.sub %7, %arg2 : tensor<1x16xf32>, tensor<1x16xf32>
      %9 = ttt.constant 5.000000e-01
      %10 = ttt.constant 1.000000e+00
      %11 = ttt.mul %10, %9 : f32, f32
      %12 = ttt.broadcast %11 : f32 -> tensor<1x16xf32>
      %13 = ttt.mul %12, %8 : tensor<1x16xf32>, tensor<1x16xf32>
      %14 = ttt.add %13, %13 : tensor<1x16xf32>, tensor<1x16xf32>
      %15 = ttt.valid_mask %arg6 : tensor<1x1xf32>
      %16 = ttt.mul %arg3, %15 : tensor<1x1xf32>, tensor<1x1xf32>
      %17 = ttt.transpose %16 : tensor<1x1xf32>
      %c1 = arith.constant 1 : index
      %18 = arith.subi %arg6, %c1 : index
      %19 = ttt.broadcast %10 : f32 -> tensor<1x1xf32>
      %20 = ttt.mul %19, %17 : tensor<1x1xf32>, tensor<1x1xf32>
      %21 = ttt.causal_mask %20 : tensor<1x1xf32>
      %22 = ttt.row %21[%18] : tensor<1x1xf32>
      %23 = ttt.linear %arg0, %6 : tensor<1x16xf32>, tensor<16x16xf32>
      %24 = ttt.matmul %arg0, %arg1 {transpose_rhs} : tensor<1x16xf32>, tensor<1x16xf32>
      %25 = ttt.mul %21, %24 : tensor<1x1xf32>, tensor<1x1xf32>
      %26 = ttt.matmul %25, %14 : tensor<1x1xf32>, tensor<1x16xf32>
      %27 = ttt.sub %23, %26 : tensor<1x16xf32>, tensor<1x16xf32>
      %28 = ttt.transpose %22 : tensor<1x1xf32>
      %29 = ttt.mul %28, %14 : tensor<1x1xf32>, tensor<1x16xf32>
      %30 = ttt.matmul %arg1, %29 {transpose_lhs} : tensor<1x16xf32>, tensor<1x16xf32>
      %31 = ttt.sub %6, %30 : tensor<16x16xf32>, tensor<16x16xf32>
      ttt.yield %27, %31 : tensor<1x16xf32>, tensor<16x16xf32>
    }
  }
}
