// RUN: ttt-opt %s --ttt-schedule-for-barriers | FileCheck %s
// RUN: ttt-opt %s --ttt-schedule-for-barriers="schedule=asap" | FileCheck %s --check-prefix=ASAP
// RUN: not ttt-opt %s --ttt-schedule-for-barriers="schedule=late" 2>&1 | FileCheck %s --check-prefix=BAD
//
// Fewer barriers on a real layer: TTT-Linear and TTT-MLP at D=64, each order
// against program order.
// RUN: for l in ttt_linear ttt_mlp; do \
// RUN:   none=$(ttt-opt %examples/$l.mlir --ttt-gpu-kernel="head-dim=64 schedule=none" 2>/dev/null | grep -c gpu.barrier); \
// RUN:   for o in alap asap; do \
// RUN:     n=$(ttt-opt %examples/$l.mlir --ttt-gpu-kernel="head-dim=64 schedule=$o" 2>/dev/null | grep -c gpu.barrier); \
// RUN:     test $n -lt $none && echo "$l $o fewer" || echo "$l $o: $n barriers, $none in program order"; \
// RUN:   done; done | FileCheck %s --check-prefix=FEWER
// FEWER: ttt_linear alap fewer
// FEWER: ttt_linear asap fewer
// FEWER: ttt_mlp alap fewer
// FEWER: ttt_mlp asap fewer

// Two chains (A1 -> A2, B1 -> B2; transposes: each step reads what other
// threads wrote) then their join, which overwrites what A1 read. In program
// order three barriers (after A1, after B1, before the join); by level, A1
// and B1 share one, A2 and B2 the next.
// CHECK-LABEL: func.func @chains(
// CHECK: scf.for
// CHECK-NEXT: linalg.transpose ins(%arg0 {{.*}} outs(%[[A1:.*]] :
// CHECK-NEXT: linalg.transpose ins(%arg1 {{.*}} outs(%[[B1:.*]] :
// CHECK-NEXT: linalg.transpose ins(%[[A1]] {{.*}} outs(%[[A2:.*]] :
// CHECK-NEXT: linalg.transpose ins(%[[B1]] {{.*}} outs(%[[B2:.*]] :
// CHECK-NEXT: linalg.add ins(%[[A2]], %[[B2]] {{.*}} outs(%arg0
// ASAP-LABEL: func.func @chains(
// ASAP: scf.for
// ASAP-NEXT: linalg.transpose ins(%arg0
// ASAP-NEXT: linalg.transpose ins(%arg1
func.func @chains(%x: memref<16x16xf32>, %y: memref<16x16xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) {
    %a1 = memref.alloca() : memref<16x16xf32>
    %a2 = memref.alloca() : memref<16x16xf32>
    %b1 = memref.alloca() : memref<16x16xf32>
    %b2 = memref.alloca() : memref<16x16xf32>
    scf.for %i = %c0 to %c4 step %c1 {
      linalg.transpose ins(%x : memref<16x16xf32>) outs(%a1 : memref<16x16xf32>) permutation = [1, 0]
      linalg.transpose ins(%a1 : memref<16x16xf32>) outs(%a2 : memref<16x16xf32>) permutation = [1, 0]
      linalg.transpose ins(%y : memref<16x16xf32>) outs(%b1 : memref<16x16xf32>) permutation = [1, 0]
      linalg.transpose ins(%b1 : memref<16x16xf32>) outs(%b2 : memref<16x16xf32>) permutation = [1, 0]
      linalg.add ins(%a2, %b2 : memref<16x16xf32>, memref<16x16xf32>) outs(%x : memref<16x16xf32>)
    }
    gpu.terminator
  }
  return
}

// An op whose memory effects are unknown: the block keeps its order.
// CHECK-LABEL: func.func @opaque(
// CHECK: scf.for
// CHECK-NEXT: linalg.transpose ins(%arg0 {{.*}} outs(%[[O1:.*]] :
// CHECK-NEXT: linalg.transpose ins(%[[O1]]
// CHECK-NEXT: func.call @unknown
// CHECK-NEXT: linalg.transpose ins(%arg1
func.func private @unknown()
func.func @opaque(%x: memref<16x16xf32>, %y: memref<16x16xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) {
    %a1 = memref.alloca() : memref<16x16xf32>
    %a2 = memref.alloca() : memref<16x16xf32>
    %b1 = memref.alloca() : memref<16x16xf32>
    scf.for %i = %c0 to %c4 step %c1 {
      linalg.transpose ins(%x : memref<16x16xf32>) outs(%a1 : memref<16x16xf32>) permutation = [1, 0]
      linalg.transpose ins(%a1 : memref<16x16xf32>) outs(%a2 : memref<16x16xf32>) permutation = [1, 0]
      func.call @unknown() : () -> ()
      linalg.transpose ins(%y : memref<16x16xf32>) outs(%b1 : memref<16x16xf32>) permutation = [1, 0]
    }
    gpu.terminator
  }
  return
}

// BAD: ttt-schedule-for-barriers: schedule must be alap or asap, got 'late'
