// RUN: ttt-opt %s --ttt-emulate-gpu="count-ops=1" | FileCheck %s
// RUN: ttt-opt %s --ttt-emulate-gpu="count-ops=1 count-phases=1" | FileCheck %s --check-prefix=PHASES
// count-ops: each run of a block's ops between block barriers is counted
// where it starts, so the emulator charges every barrier phase its own ops
// (constants aside); an op holding a barrier (the loop) counts as one op of
// the run before it, and its body's runs are counted inside it.

// The launch's flags: 2 count ops; 6 and print the first block's phases.
// CHECK-LABEL: func.func @k(
// CHECK: %[[F:.*]] = arith.constant 2 : index
// CHECK: call @tttc_emu_launch({{.*}}, %[[F]], %{{[^,]*}}, %{{[^,)]*}})
// PHASES-LABEL: func.func @k(
// PHASES: %[[F:.*]] = arith.constant 6 : index
// PHASES: call @tttc_emu_launch({{.*}}, %[[F]], %{{[^,]*}}, %{{[^,)]*}})

// CHECK-LABEL: func.func private @__tttc_emu_kernel_0
// CHECK: call @tttc_emu_count(%c3{{[_0-9]*}})
// CHECK-NEXT: arith.mulf
// CHECK-NEXT: arith.addf
// CHECK-NEXT: scf.for
// CHECK: call @tttc_emu_count(%c3{{[_0-9]*}})
// CHECK-NEXT: arith.mulf
// CHECK-NEXT: memref.store
// CHECK-NEXT: call @tttc_emu_barrier()
// CHECK: call @tttc_emu_count(%c3{{[_0-9]*}})
// CHECK-NEXT: arith.addf
// CHECK-NEXT: memref.load
// CHECK-NEXT: call @tttc_emu_barrier()
// CHECK: call @tttc_emu_count(%c1{{[_0-9]*}})
// CHECK-NEXT: }
// CHECK: call @tttc_emu_count(%c2{{[_0-9]*}})
// CHECK-NEXT: arith.subf
// CHECK-NOT: tttc_emu_count(
func.func @k(%a: f32, %b: f32, %m: memref<4xf32, #gpu.address_space<workgroup>>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  gpu.launch blocks(%bx, %by, %bz) in (%x = %c1, %y = %c1, %z = %c1)
             threads(%tx, %ty, %tz) in (%p = %c4, %q = %c1, %r = %c1) {
    %0 = arith.mulf %a, %b : f32
    %1 = arith.addf %0, %a : f32
    scf.for %i = %c0 to %c4 step %c1 {
      %2 = arith.mulf %1, %1 : f32
      memref.store %2, %m[%tx] : memref<4xf32, #gpu.address_space<workgroup>>
      gpu.barrier
      %3 = arith.addf %2, %b : f32
      %4 = memref.load %m[%c0] : memref<4xf32, #gpu.address_space<workgroup>>
      gpu.barrier
    }
    %5 = arith.subf %1, %b : f32
    gpu.terminator
  }
  return
}
