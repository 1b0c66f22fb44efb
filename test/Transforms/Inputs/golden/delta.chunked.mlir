module {
  ttt.layer @delta attributes {chunk_size = 16 : i64, head_dim = 16 : i64, mini_batch = 1 : i64} {
    %0 = ttt.input "q" : !ttt.vec<1>
    %1 = ttt.input "k" : !ttt.vec<1>
    %2 = ttt.input "v" : !ttt.vec<1>
    %3 = ttt.input "beta" : f32
    %4 = ttt.state "w" init "w_init" final "w_final" : !ttt.mat<1, 1>
    ttt.chunk_step readouts ["out"] algorithm "ut_transform" {
    ^bb0(%arg0: tensor<16x16xf32>, %arg1: tensor<16x16xf32>, %arg2: tensor<16x16xf32>, %arg3: tensor<16x1xf32>, %arg4: tensor<16x16xf32>, %arg5: index):
      %5 = ttt.linear %arg1, %arg4 : tensor<16x16xf32>, tensor<16x16xf32>
      %6 = ttt.sub %5, %arg2 : tensor<16x16xf32>, tensor<16x16xf32>
      %7 = ttt.constant 5.000000e-01
      %8 = ttt.constant 1.000000e+00
      %9 = ttt.mul %8, %7 : f32, f32
      %10 = ttt.broadcast %9 : f32 -> tensor<1x16xf32>
      %11 = ttt.mul %10, %6 : tensor<1x16xf32>, tensor<16x16xf32>
      %12 = ttt.valid_mask %arg5 : tensor<16x1xf32>
      %13 = ttt.mul %arg3, %12 : tensor<16x1xf32>, tensor<16x1xf32>
      %14 = ttt.transpose %13 : tensor<16x1xf32>
      %c1 = arith.constant 1 : index
      %15 = arith.subi %arg5, %c1 : index
      %16 = ttt.broadcast %8 : f32 -> tensor<16x1xf32>
      %17 = ttt.mul %16, %14 : tensor<16x1xf32>, tensor<1x16xf32>
      %18 = ttt.causal_mask %17 : tensor<16x16xf32>
      %19 = ttt.neg %arg2 : tensor<16x16xf32>
      %20 = ttt.mul %9, %8 : f32, f32
      %21 = ttt.mul %9, %19 : f32, tensor<16x16xf32>
      %22 = ttt.add %20, %20 : f32, f32
      %23 = ttt.add %21, %21 : tensor<16x16xf32>, tensor<16x16xf32>
      %24 = ttt.mul %13, %22 : tensor<16x1xf32>, f32
      %25 = ttt.broadcast %8 : f32 -> tensor<16x16xf32>
      %26 = ttt.causal_mask %25 : tensor<16x16xf32>
      %27 = ttt.matmul %arg1, %arg1 {transpose_rhs} : tensor<16x16xf32>, tensor<16x16xf32>
      %28 = ttt.mul %26, %27 : tensor<16x16xf32>, tensor<16x16xf32>
      %29 = ttt.mul %24, %28 : tensor<16x1xf32>, tensor<16x16xf32>
      %30 = ttt.causal_mask %29 {strict} : tensor<16x16xf32>
      %31 = ttt.mul %24, %5 : tensor<16x1xf32>, tensor<16x16xf32>
      %32 = ttt.neg %31 : tensor<16x16xf32>
      %33 = ttt.mul %13, %23 : tensor<16x1xf32>, tensor<16x16xf32>
      %34 = ttt.sub %32, %33 : tensor<16x16xf32>, tensor<16x16xf32>
      %35 = ttt.tri_solve %30, %34 : tensor<16x16xf32>, tensor<16x16xf32>
      %36 = ttt.row %26[%15] : tensor<16x16xf32>
      %37 = ttt.neg %35 : tensor<16x16xf32>
      %38 = ttt.linear %arg0, %arg4 : tensor<16x16xf32>, tensor<16x16xf32>
      %39 = ttt.matmul %arg0, %arg1 {transpose_rhs} : tensor<16x16xf32>, tensor<16x16xf32>
      %40 = ttt.mul %26, %39 : tensor<16x16xf32>, tensor<16x16xf32>
      %41 = ttt.matmul %40, %37 : tensor<16x16xf32>, tensor<16x16xf32>
      %42 = ttt.sub %38, %41 : tensor<16x16xf32>, tensor<16x16xf32>
      %43 = ttt.transpose %36 : tensor<1x16xf32>
      %44 = ttt.mul %43, %37 : tensor<16x1xf32>, tensor<16x16xf32>
      %45 = ttt.matmul %arg1, %44 {transpose_lhs} : tensor<16x16xf32>, tensor<16x16xf32>
      %46 = ttt.sub %arg4, %45 : tensor<16x16xf32>, tensor<16x16xf32>
      ttt.yield %42, %46 : tensor<16x16xf32>, tensor<16x16xf32>
    }
  }
}
