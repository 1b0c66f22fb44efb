//===- Frontend.h - parse a spec, run the pipeline up to a stage -*- C++ -*-===//
//
// Internal to lib/Runtime: what compiling, emitting and the reference
// interpreter share (an MLIR context with every dialect, the spec parsed and
// checked to hold one layer, the pipeline run up to a stage with its
// diagnostics collected as a string).
//
//===----------------------------------------------------------------------===//
#ifndef TTTC_LIB_RUNTIME_FRONTEND_H
#define TTTC_LIB_RUNTIME_FRONTEND_H

#include "Runtime.h"

#include "dialect/TTTOps.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

namespace tttc {

/// LLVM's native target, initialised once per process.
void initLLVMOnce();
/// A context with every dialect a spec and its lowerings use.
std::unique_ptr<mlir::MLIRContext> makeContext();
/// "[a, b, c]".
std::string shapeStr(const std::vector<int64_t> &s);

/// Parses, verifies and checks that there is exactly one layer; runs the
/// pipeline up to a stage. Diagnostics go to the error strings.
struct Frontend {
  std::unique_ptr<mlir::MLIRContext> ctx = makeContext();
  llvm::SourceMgr sm;
  std::string diag;
  llvm::raw_string_ostream os{diag};
  mlir::SourceMgrDiagnosticHandler handler{sm, ctx.get(), os};
  mlir::OwningOpRef<mlir::ModuleOp> module;
  mlir::ttt::LayerOp layer;

  bool parse(const std::string &source, const std::string &bufferName, std::string &error);
  /// Runs the pipeline up to `stage` (Spec: none) with `options` (their
  /// target picks the CPU or the emulated GPU for the LLVM stages).
  bool lower(Stage stage, const mlir::ttt::PipelineOptions &options, std::string &error);
  /// `error` = the diagnostics so far, then `msg`; returns false.
  bool fail(std::string &error, const std::string &msg);
};

} // namespace tttc

#endif
