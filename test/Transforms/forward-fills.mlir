// RUN: ttt-opt %s --ttt-forward-fills | FileCheck %s

// Copies of a zero tile become zero fills; the tile, only filled then, goes.
// CHECK-LABEL: func.func @zero_tiles(
// CHECK-NOT: memref.alloca() : memref<16x64xf32>
// CHECK: linalg.fill ins(%{{.*}} : f32) outs(%arg0 : memref<16x64xf32>)
// CHECK-NEXT: %[[V:.*]] = memref.subview %arg1
// CHECK-NEXT: linalg.fill ins(%{{.*}} : f32) outs(%[[V]] :
// CHECK-NOT: linalg.copy
// CHECK: return
func.func @zero_tiles(%a: memref<16x64xf32>, %b: memref<32x64xf32>) {
  %zero = arith.constant 0.0 : f32
  %t = memref.alloca() : memref<16x64xf32>
  linalg.fill ins(%zero : f32) outs(%t : memref<16x64xf32>)
  linalg.copy ins(%t : memref<16x64xf32>) outs(%a : memref<16x64xf32>)
  %v = memref.subview %b[0, 0] [16, 64] [1, 1] : memref<32x64xf32> to memref<16x64xf32, strided<[64, 1]>>
  linalg.copy ins(%t : memref<16x64xf32>) outs(%v : memref<16x64xf32, strided<[64, 1]>>)
  return
}

// A write into the tile (through a view) after its fill: the copy stays.
// CHECK-LABEL: func.func @overwritten(
// CHECK: linalg.fill ins(%{{.*}} : f32) outs(%[[T:.*]] : memref<16x64xf32>)
// CHECK: linalg.copy ins(%arg1 {{.*}} outs(%{{.*}} :
// CHECK: linalg.copy ins(%[[T]] : memref<16x64xf32>) outs(%arg0 :
func.func @overwritten(%a: memref<16x64xf32>, %row: memref<1x64xf32>) {
  %zero = arith.constant 0.0 : f32
  %t = memref.alloca() : memref<16x64xf32>
  linalg.fill ins(%zero : f32) outs(%t : memref<16x64xf32>)
  %r = memref.subview %t[3, 0] [1, 64] [1, 1] : memref<16x64xf32> to memref<1x64xf32, strided<[64, 1], offset: 192>>
  linalg.copy ins(%row : memref<1x64xf32>) outs(%r : memref<1x64xf32, strided<[64, 1], offset: 192>>)
  linalg.copy ins(%t : memref<16x64xf32>) outs(%a : memref<16x64xf32>)
  return
}

// A chunk padded with zeros: a fill, then the chunk's n rows copied from the
// layer's argument into the leading rows. One op writes each element once.
// CHECK-LABEL: func.func @padded_chunk(
// CHECK-NOT: linalg.fill
// CHECK-NOT: linalg.copy
// CHECK: linalg.generic {{.*}} outs(%[[BUF:.*]] : memref<16x64xf32>)
// CHECK: %[[I:.*]] = linalg.index 0
// CHECK: %[[J:.*]] = linalg.index 1
// CHECK: %[[IN:.*]] = arith.cmpi ult, %[[I]], %arg2
// CHECK: scf.if %[[IN]] -> (f32)
// CHECK: memref.load %[[SRC:.*]][%[[I]], %[[J]]]
// CHECK: } else {
// CHECK: scf.yield %cst
func.func @padded_chunk(%x: memref<?x64xf32>, %out: memref<16x64xf32>, %n: index) {
  %zero = arith.constant 0.0 : f32
  %buf = memref.alloca() : memref<16x64xf32>
  linalg.fill ins(%zero : f32) outs(%buf : memref<16x64xf32>)
  %src = memref.subview %x[0, 0] [%n, 64] [1, 1] : memref<?x64xf32> to memref<?x64xf32, strided<[64, 1]>>
  %dst = memref.subview %buf[0, 0] [%n, 64] [1, 1] : memref<16x64xf32> to memref<?x64xf32, strided<[64, 1]>>
  linalg.copy ins(%src : memref<?x64xf32, strided<[64, 1]>>) outs(%dst : memref<?x64xf32, strided<[64, 1]>>)
  linalg.copy ins(%buf : memref<16x64xf32>) outs(%out : memref<16x64xf32>)
  return
}

// The buffer read between the fill and the copy: left as it is.
// CHECK-LABEL: func.func @read_between(
// CHECK: linalg.fill
// CHECK: linalg.transpose
// CHECK: linalg.copy
func.func @read_between(%x: memref<?x64xf32>, %out: memref<16x64xf32>, %n: index) {
  %zero = arith.constant 0.0 : f32
  %buf = memref.alloca() : memref<16x64xf32>
  linalg.fill ins(%zero : f32) outs(%buf : memref<16x64xf32>)
  %t = memref.alloca() : memref<64x16xf32>
  linalg.transpose ins(%buf : memref<16x64xf32>) outs(%t : memref<64x16xf32>) permutation = [1, 0]
  %src = memref.subview %x[0, 0] [%n, 64] [1, 1] : memref<?x64xf32> to memref<?x64xf32, strided<[64, 1]>>
  %dst = memref.subview %buf[0, 0] [%n, 64] [1, 1] : memref<16x64xf32> to memref<?x64xf32, strided<[64, 1]>>
  linalg.copy ins(%src : memref<?x64xf32, strided<[64, 1]>>) outs(%dst : memref<?x64xf32, strided<[64, 1]>>)
  linalg.copy ins(%buf : memref<16x64xf32>) outs(%out : memref<16x64xf32>)
  %o = memref.alloca() : memref<64x16xf32>
  linalg.copy ins(%t : memref<64x16xf32>) outs(%o : memref<64x16xf32>)
  return
}
