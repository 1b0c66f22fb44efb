//===- Passes.h - the ttt dialect's passes ----------------------*- C++ -*-===//
//
// Spec-level transforms (lib/Transforms) and the lowering to linalg and the
// CPU (lib/Conversion). The GPU backend's passes: dialect/GPU/Passes.h; the
// named pipelines built from both: dialect/Pipelines.h.
//
//===----------------------------------------------------------------------===//
#ifndef TTTC_DIALECT_PASSES_H
#define TTTC_DIALECT_PASSES_H

#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassManager.h"

#include <string>

namespace mlir {
class DialectRegistry;
namespace func { class FuncDialect; }
namespace scf { class SCFDialect; }
namespace tensor { class TensorDialect; }
namespace arith { class ArithDialect; }
namespace linalg { class LinalgDialect; }
namespace math { class MathDialect; }
namespace gpu { class GPUDialect; }
namespace memref { class MemRefDialect; }
namespace bufferization { class BufferizationDialect; }
namespace affine { class AffineDialect; }
namespace LLVM { class LLVMDialect; }
namespace nvgpu { class NVGPUDialect; }
namespace NVVM { class NVVMDialect; }
namespace vector { class VectorDialect; }
class RewritePatternSet;
class TypeConverter;

namespace ttt {
#define GEN_PASS_DECL
#include "dialect/TTTPasses.h.inc"

#define GEN_PASS_REGISTRATION
#include "dialect/TTTPasses.h.inc"

/// Patterns lowering chunk-level ttt ops to linalg/tensor/arith/math.
void populateTTTToLinalgPatterns(RewritePatternSet &patterns);

/// Registers every dialect and interface any tttc tool needs, and the
/// dialects of the plugins loaded so far.
void registerTTTDialects(DialectRegistry &registry);

/// Loads a tttc plugin (tttc/Plugin.h): refused, with `error` set, when it
/// was built against another tttc version; its dialects then join every
/// registerTTTDialects registry, its passes the pass registry. Loading one
/// twice is a no-op.
bool loadPlugin(const std::string &path, std::string &error);
/// The dialects of the loaded plugins.
void registerPluginDialects(DialectRegistry &registry);
} // namespace ttt
} // namespace mlir

#endif
