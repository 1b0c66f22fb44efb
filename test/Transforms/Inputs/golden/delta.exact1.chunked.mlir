module {
  ttt.layer @delta attributes {chunk_size = 1 : i64, head_dim = 16 : i64, mini_batch = 1 : i64} {
    %0 = ttt.input "q" : !ttt.vec<1>
    %1 = ttt.input "k" : !ttt.vec<1>
    %2 = ttt.input "v" : !ttt.vec<1>
    %3 = ttt.input "beta" : f32
    %4 = ttt.state "w" init "w_init" final "w_final" : !ttt.mat<1, 1>
    ttt.chunk_step readouts ["out"] algorithm "sequential" {
    ^bb0(%arg0: tensor<1x16xf32>, %arg1: tensor<1x16xf32>, %arg2: tensor<1x16xf32>, %arg3: tensor<1x1xf32>, %arg4: tensor<16x16xf32>, %arg5: index):
      %5 = ttt.linear %arg1, %arg4 : tensor<1x16xf32>, tensor<16x16xf32>
      %6 = ttt.sub %5, %arg2 : tensor<1x16xf32>, tensor<1x16xf32>
      %7 = ttt.constant 5.000000e-01
      %8 = ttt.constant 1.000000e+00
      %9 = ttt.mul %8, %7 : f32, f32
      %10 = ttt.broadcast %9 : f32 -> tensor<1x16xf32>
      %11 = ttt.mul %10, %6 : tensor<1x16xf32>, tensor<1x16xf32>
      %12 = ttt.add %11, %11 : tensor<1x16xf32>, tensor<1x16xf32>
      %13 = ttt.valid_mask %arg5 : tensor<1x1xf32>
      %14 = ttt.mul %arg3, %13 : tensor<1x1xf32>, tensor<1x1xf32>
      %15 = ttt.transpose %14 : tensor<1x1xf32>
      %c1 = arith.constant 1 : index
      %16 = arith.subi %arg5, %c1 : index
      %17 = ttt.broadcast %8 : f32 -> tensor<1x1xf32>
      %18 = ttt.mul %17, %15 : tensor<1x1xf32>, tensor<1x1xf32>
      %19 = ttt.causal_mask %18 : tensor<1x1xf32>
      %20 = ttt.row %19[%16] : tensor<1x1xf32>
      %21 = ttt.linear %arg0, %arg4 : tensor<1x16xf32>, tensor<16x16xf32>
      %22 = ttt.matmul %arg0, %arg1 {transpose_rhs} : tensor<1x16xf32>, tensor<1x16xf32>
      %23 = ttt.mul %19, %22 : tensor<1x1xf32>, tensor<1x1xf32>
      %24 = ttt.matmul %23, %12 : tensor<1x1xf32>, tensor<1x16xf32>
      %25 = ttt.sub %21, %24 : tensor<1x16xf32>, tensor<1x16xf32>
      %26 = ttt.transpose %20 : tensor<1x1xf32>
      %27 = ttt.mul %26, %12 : tensor<1x1xf32>, tensor<1x16xf32>
      %28 = ttt.matmul %arg1, %27 {transpose_lhs} : tensor<1x16xf32>, tensor<1x16xf32>
      %29 = ttt.sub %arg4, %28 : tensor<16x16xf32>, tensor<16x16xf32>
      ttt.yield %25, %29 : tensor<1x16xf32>, tensor<16x16xf32>
    }
  }
}
