module {
  ttt.layer @gated_delta attributes {chunk_size = 16 : i64, head_dim = 16 : i64, mini_batch = 1 : i64} {
    %0 = ttt.input "q" : !ttt.vec<1>
    %1 = ttt.input "k" : !ttt.vec<1>
    %2 = ttt.input "v" : !ttt.vec<1>
    %3 = ttt.input "beta" : f32
    %4 = ttt.input "alpha" : f32
    %5 = ttt.state "w" init "w_init" final "w_final" : !ttt.mat<1, 1>
    ttt.chunk_step readouts ["out"] algorithm "ut_transform" {
    ^bb0(%arg0: tensor<16x16xf32>, %arg1: tensor<16x16xf32>, %arg2: tensor<16x16xf32>, %arg3: tensor<16x1xf32>, %arg4: tensor<16x1xf32>, %arg5: tensor<16x16xf32>, %arg6: index):
      %6 = ttt.linear %arg1, %arg5 : tensor<16x16xf32>, tensor<16x16xf32>
      %7 = ttt.sub %6, %arg2 : tensor<16x16xf32>, tensor<16x16xf32>
      %8 = ttt.constant 5.000000e-01
      %9 = ttt.constant 1.000000e+00
      %10 = ttt.mul %9, %8 : f32, f32
      %11 = ttt.broadcast %10 : f32 -> tensor<1x16xf32>
      %12 = ttt.mul %11, %7 : tensor<1x16xf32>, tensor<16x16xf32>
      %13 = ttt.valid_mask %arg6 : tensor<16x1xf32>
      %14 = ttt.mul %arg3, %13 : tensor<16x1xf32>, tensor<16x1xf32>
      %15 = ttt.transpose %14 : tensor<16x1xf32>
      %c1 = arith.constant 1 : index
      %16 = arith.subi %arg6, %c1 : index
      %17 = ttt.sub %9, %13 : f32, tensor<16x1xf32>
      %18 = ttt.mul %arg4, %13 : tensor<16x1xf32>, tensor<16x1xf32>
      %19 = ttt.add %18, %17 : tensor<16x1xf32>, tensor<16x1xf32>
      %20 = ttt.broadcast %9 : f32 -> tensor<16x16xf32>
      %21 = ttt.log %19 : tensor<16x1xf32>
      %22 = ttt.causal_mask %20 : tensor<16x16xf32>
      %23 = ttt.matmul %22, %21 : tensor<16x16xf32>, tensor<16x1xf32>
      %24 = ttt.transpose %23 : tensor<16x1xf32>
      %25 = ttt.sub %23, %24 : tensor<16x1xf32>, tensor<1x16xf32>
      %26 = ttt.exp %25 : tensor<16x16xf32>
      %27 = ttt.causal_mask %26 : tensor<16x16xf32>
      %28 = ttt.exp %23 : tensor<16x1xf32>
      %29 = ttt.mul %27, %15 : tensor<16x16xf32>, tensor<1x16xf32>
      %30 = ttt.neg %arg2 : tensor<16x16xf32>
      %31 = ttt.mul %10, %9 : f32, f32
      %32 = ttt.mul %10, %30 : f32, tensor<16x16xf32>
      %33 = ttt.add %31, %31 : f32, f32
      %34 = ttt.add %32, %32 : tensor<16x16xf32>, tensor<16x16xf32>
      %35 = ttt.mul %14, %33 : tensor<16x1xf32>, f32
      %36 = ttt.row %28[%16] : tensor<16x1xf32>
      %37 = ttt.matmul %arg1, %arg1 {transpose_rhs} : tensor<16x16xf32>, tensor<16x16xf32>
      %38 = ttt.mul %27, %37 : tensor<16x16xf32>, tensor<16x16xf32>
      %39 = ttt.mul %35, %38 : tensor<16x1xf32>, tensor<16x16xf32>
      %40 = ttt.causal_mask %39 {strict} : tensor<16x16xf32>
      %41 = ttt.mul %35, %28 : tensor<16x1xf32>, tensor<16x1xf32>
      %42 = ttt.mul %41, %6 : tensor<16x1xf32>, tensor<16x16xf32>
      %43 = ttt.neg %42 : tensor<16x16xf32>
      %44 = ttt.mul %14, %34 : tensor<16x1xf32>, tensor<16x16xf32>
      %45 = ttt.sub %43, %44 : tensor<16x16xf32>, tensor<16x16xf32>
      %46 = ttt.tri_solve %40, %45 : tensor<16x16xf32>, tensor<16x16xf32>
      %47 = ttt.row %27[%16] : tensor<16x16xf32>
      %48 = ttt.neg %46 : tensor<16x16xf32>
      %49 = ttt.linear %arg0, %arg5 : tensor<16x16xf32>, tensor<16x16xf32>
      %50 = ttt.mul %28, %49 : tensor<16x1xf32>, tensor<16x16xf32>
      %51 = ttt.matmul %arg0, %arg1 {transpose_rhs} : tensor<16x16xf32>, tensor<16x16xf32>
      %52 = ttt.mul %27, %51 : tensor<16x16xf32>, tensor<16x16xf32>
      %53 = ttt.matmul %52, %48 : tensor<16x16xf32>, tensor<16x16xf32>
      %54 = ttt.sub %50, %53 : tensor<16x16xf32>, tensor<16x16xf32>
      %55 = ttt.mul %36, %arg5 : tensor<1x1xf32>, tensor<16x16xf32>
      %56 = ttt.transpose %47 : tensor<1x16xf32>
      %57 = ttt.mul %56, %48 : tensor<16x1xf32>, tensor<16x16xf32>
      %58 = ttt.matmul %arg1, %57 {transpose_lhs} : tensor<16x16xf32>, tensor<16x16xf32>
      %59 = ttt.sub %55, %58 : tensor<16x16xf32>, tensor<16x16xf32>
      ttt.yield %54, %59 : tensor<16x16xf32>, tensor<16x16xf32>
    }
  }
}
