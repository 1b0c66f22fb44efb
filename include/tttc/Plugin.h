/*===- tttc/Plugin.h - entry points of an out-of-tree tttc plugin -*- C++ -*-===*\
 *
 * A plugin is a shared library built against an installed tttc
 * (find_package(tttc)): a dialect of update rules implementing
 * mlir::ttt::UpdateRuleOpInterface (dialect/UpdateRule.h), and passes.
 * Its source ends with
 *
 *   TTTC_DIALECT_PLUGIN("name", [](mlir::DialectRegistry *r) { r->insert<...>(); })
 *   TTTC_PASS_PLUGIN("name", [] { mlir::PassRegistration<...>(); })   // optional
 *
 * which define MLIR's plugin entry points (mlirGetDialectPluginInfo,
 * mlirGetPassPluginInfo: `ttt-opt --load-dialect-plugin=` and
 * `--load-pass-plugin=`) and tttcPluginVersion (`tttc --plugin=`,
 * tttc_load_plugin). A plugin built against another tttc version is
 * refused, with a message naming both versions. See docs/extending.md.
 *
\*===----------------------------------------------------------------------===*/
#ifndef TTTC_PLUGIN_H
#define TTTC_PLUGIN_H

#include "tttc/Version.h"

#include "mlir/Tools/Plugins/DialectPlugin.h"
#include "mlir/Tools/Plugins/PassPlugin.h"
#include "llvm/Config/llvm-config.h"

namespace mlir::ttt {
/// The version of the tttc that loads the plugin (TTTC_VERSION_STRING of
/// its libTTTIR).
const char *hostVersion();
/// Whether plugin `name`, built against tttc `builtAgainst`, may be loaded
/// here; if not, says why on stderr (ttt-opt's loaders print only that the
/// plugin was ignored).
bool acceptPlugin(const char *name, const char *builtAgainst);
} // namespace mlir::ttt

/* TTTC_VERSION_STRING as this plugin was built, for tttc's own loader. */
#define TTTC_PLUGIN_VERSION_FN                                                                    \
  extern "C" LLVM_ATTRIBUTE_WEAK const char *tttcPluginVersion() { return TTTC_VERSION_STRING; }

#define TTTC_DIALECT_PLUGIN(NAME, REGISTER)                                                       \
  TTTC_PLUGIN_VERSION_FN                                                                          \
  extern "C" LLVM_ATTRIBUTE_WEAK ::mlir::DialectPluginLibraryInfo mlirGetDialectPluginInfo() {  \
    if (!::mlir::ttt::acceptPlugin(NAME, TTTC_VERSION_STRING))                                    \
      return {0, NAME, TTTC_VERSION_STRING, nullptr}; /* refused: no API version */             \
    return {MLIR_PLUGIN_API_VERSION, NAME, TTTC_VERSION_STRING, REGISTER};                        \
  }

#define TTTC_PASS_PLUGIN(NAME, REGISTER)                                                          \
  extern "C" LLVM_ATTRIBUTE_WEAK ::mlir::PassPluginLibraryInfo mlirGetPassPluginInfo() {        \
    if (!::mlir::ttt::acceptPlugin(NAME, TTTC_VERSION_STRING))                                    \
      return {0, NAME, TTTC_VERSION_STRING, nullptr};                                             \
    return {MLIR_PLUGIN_API_VERSION, NAME, TTTC_VERSION_STRING, REGISTER};                        \
  }

#endif
