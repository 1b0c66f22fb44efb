module {
  ttt.layer @ttt_linear attributes {chunk_size = 16 : i64, head_dim = 16 : i64, mini_batch = 16 : i64} {
    %0 = ttt.input "q" : !ttt.vec<1>
    %1 = ttt.input "k" : !ttt.vec<1>
    %2 = ttt.input "v" : !ttt.vec<1>
    %3 = ttt.input "lr" : f32
    %4 = ttt.position_input "token_scale" default {
    ^bb0(%arg0: f32):
      %9 = ttt.constant 1.000000e+00
      %10 = ttt.add %arg0, %9 : f32, f32
      %11 = ttt.div %9, %10 : f32, f32
      ttt.yield %11 : f32
    } : f32
    %5 = ttt.param "ln_w" : !ttt.vec<1>
    %6 = ttt.param "ln_b" : !ttt.vec<1>
    %7 = ttt.state "w" init "w_init" final "w_final" : !ttt.mat<1, 1>
    %8 = ttt.state "b" init "b_init" final "b_final" : !ttt.vec<1>
    ttt.chunk_step readouts ["out"] algorithm "dual_form" {
    ^bb0(%arg0: tensor<16x16xf32>, %arg1: tensor<16x16xf32>, %arg2: tensor<16x16xf32>, %arg3: tensor<16x1xf32>, %arg4: tensor<16x1xf32>, %arg5: tensor<1x16xf32>, %arg6: tensor<1x16xf32>, %arg7: tensor<16x16xf32>, %arg8: tensor<1x16xf32>, %arg9: index):
      %9 = ttt.linear %arg1, %arg7 : tensor<16x16xf32>, tensor<16x16xf32>
      %10 = ttt.add %9, %arg8 : tensor<16x16xf32>, tensor<1x16xf32>
      %11 = ttt.mean %10 : tensor<16x16xf32>
      %12 = ttt.sub %10, %11 : tensor<16x16xf32>, tensor<16x1xf32>
      %13 = ttt.mul %12, %12 : tensor<16x16xf32>, tensor<16x16xf32>
      %14 = ttt.mean %13 : tensor<16x16xf32>
      %15 = ttt.constant 9.99999997E-7
      %16 = ttt.add %14, %15 : tensor<16x1xf32>, f32
      %17 = ttt.rsqrt %16 : tensor<16x1xf32>
      %18 = ttt.mul %12, %17 : tensor<16x16xf32>, tensor<16x1xf32>
      %19 = ttt.mul %18, %arg5 : tensor<16x16xf32>, tensor<1x16xf32>
      %20 = ttt.add %19, %arg6 : tensor<16x16xf32>, tensor<1x16xf32>
      %21 = ttt.sub %arg2, %arg1 : tensor<16x16xf32>, tensor<16x16xf32>
      %22 = ttt.sub %20, %21 : tensor<16x16xf32>, tensor<16x16xf32>
      %23 = ttt.constant 5.000000e-01
      %24 = ttt.constant 1.000000e+00
      %25 = ttt.mul %24, %23 : f32, f32
      %26 = ttt.broadcast %25 : f32 -> tensor<1x16xf32>
      %27 = ttt.mul %26, %22 : tensor<1x16xf32>, tensor<16x16xf32>
      %28 = ttt.add %27, %27 : tensor<16x16xf32>, tensor<16x16xf32>
      %29 = ttt.mul %28, %arg5 : tensor<16x16xf32>, tensor<1x16xf32>
      %30 = ttt.mul %29, %17 : tensor<16x16xf32>, tensor<16x1xf32>
      %31 = ttt.mul %29, %12 : tensor<16x16xf32>, tensor<16x16xf32>
      %32 = ttt.sum %31 : tensor<16x16xf32>
      %33 = ttt.mul %17, %17 : tensor<16x1xf32>, tensor<16x1xf32>
      %34 = ttt.mul %17, %33 : tensor<16x1xf32>, tensor<16x1xf32>
      %35 = ttt.constant -5.000000e-01
      %36 = ttt.mul %35, %34 : f32, tensor<16x1xf32>
      %37 = ttt.mul %32, %36 : tensor<16x1xf32>, tensor<16x1xf32>
      %38 = ttt.constant 1.600000e+01
      %39 = ttt.div %37, %38 : tensor<16x1xf32>, f32
      %40 = ttt.broadcast %39 : tensor<16x1xf32> -> tensor<16x16xf32>
      %41 = ttt.mul %40, %12 : tensor<16x16xf32>, tensor<16x16xf32>
      %42 = ttt.add %30, %41 : tensor<16x16xf32>, tensor<16x16xf32>
      %43 = ttt.add %42, %41 : tensor<16x16xf32>, tensor<16x16xf32>
      %44 = ttt.neg %43 : tensor<16x16xf32>
      %45 = ttt.sum %44 : tensor<16x16xf32>
      %46 = ttt.div %45, %38 : tensor<16x1xf32>, f32
      %47 = ttt.broadcast %46 : tensor<16x1xf32> -> tensor<16x16xf32>
      %48 = ttt.add %43, %47 : tensor<16x16xf32>, tensor<16x16xf32>
      %49 = ttt.valid_mask %arg9 : tensor<16x1xf32>
      %50 = ttt.mul %arg3, %49 : tensor<16x1xf32>, tensor<16x1xf32>
      %51 = ttt.transpose %50 : tensor<16x1xf32>
      %c1 = arith.constant 1 : index
      %52 = arith.subi %arg9, %c1 : index
      %53 = ttt.mul %arg4, %51 : tensor<16x1xf32>, tensor<1x16xf32>
      %54 = ttt.causal_mask %53 : tensor<16x16xf32>
      %55 = ttt.row %54[%52] : tensor<16x16xf32>
      %56 = ttt.matmul %54, %48 : tensor<16x16xf32>, tensor<16x16xf32>
      %57 = ttt.sub %arg8, %56 : tensor<1x16xf32>, tensor<16x16xf32>
      %58 = ttt.linear %arg0, %arg7 : tensor<16x16xf32>, tensor<16x16xf32>
      %59 = ttt.matmul %arg0, %arg1 {transpose_rhs} : tensor<16x16xf32>, tensor<16x16xf32>
      %60 = ttt.mul %54, %59 : tensor<16x16xf32>, tensor<16x16xf32>
      %61 = ttt.matmul %60, %48 : tensor<16x16xf32>, tensor<16x16xf32>
      %62 = ttt.sub %58, %61 : tensor<16x16xf32>, tensor<16x16xf32>
      %63 = ttt.add %62, %57 : tensor<16x16xf32>, tensor<16x16xf32>
      %64 = ttt.mean %63 : tensor<16x16xf32>
      %65 = ttt.sub %63, %64 : tensor<16x16xf32>, tensor<16x1xf32>
      %66 = ttt.mul %65, %65 : tensor<16x16xf32>, tensor<16x16xf32>
      %67 = ttt.mean %66 : tensor<16x16xf32>
      %68 = ttt.add %67, %15 : tensor<16x1xf32>, f32
      %69 = ttt.rsqrt %68 : tensor<16x1xf32>
      %70 = ttt.mul %65, %69 : tensor<16x16xf32>, tensor<16x1xf32>
      %71 = ttt.mul %70, %arg5 : tensor<16x16xf32>, tensor<1x16xf32>
      %72 = ttt.add %71, %arg6 : tensor<16x16xf32>, tensor<1x16xf32>
      %73 = ttt.add %arg0, %72 : tensor<16x16xf32>, tensor<16x16xf32>
      %74 = ttt.transpose %55 : tensor<1x16xf32>
      %75 = ttt.mul %74, %48 : tensor<16x1xf32>, tensor<16x16xf32>
      %76 = ttt.matmul %arg1, %75 {transpose_lhs} : tensor<16x16xf32>, tensor<16x16xf32>
      %77 = ttt.sub %arg7, %76 : tensor<16x16xf32>, tensor<16x16xf32>
      %78 = ttt.matmul %55, %48 : tensor<1x16xf32>, tensor<16x16xf32>
      %79 = ttt.sub %arg8, %78 : tensor<1x16xf32>, tensor<1x16xf32>
      ttt.yield %73, %77, %79 : tensor<16x16xf32>, tensor<16x16xf32>, tensor<1x16xf32>
    }
  }
}
