#include "dialect/TTTOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  registry.insert<mlir::ttt::TTTDialect>();
  return mlir::asMainReturnCode(mlir::MlirOptMain(argc, argv, "ttt-opt", registry));
}
