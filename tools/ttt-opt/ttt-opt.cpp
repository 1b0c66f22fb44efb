//===- ttt-opt.cpp - mlir-opt for the ttt dialect -------------------------===//
//
// Every upstream dialect and pass, the ttt passes and the named pipelines
// (ttt-to-autodiff, ttt-to-chunked, ttt-to-linalg, ttt-linalg-to-llvm,
// ttt-cpu-pipeline).
//
//===----------------------------------------------------------------------===//

#include "dialect/Passes.h"
#include "dialect/Pipelines.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::registerAllPasses();
  mlir::ttt::registerTTTPassesAndPipelines();
  mlir::DialectRegistry registry;
  mlir::ttt::registerTTTDialects(registry);
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "ttt-opt: test-time-training layer compiler driver\n",
                        registry));
}
