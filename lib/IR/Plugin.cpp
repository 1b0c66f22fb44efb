//===- Plugin.cpp - the version a plugin is checked against ---------------===//
//
// In libTTTIR, which every plugin links: a plugin's entry points
// (tttc/Plugin.h) compare the version they were built against with this
// library's before registering anything.
//
//===----------------------------------------------------------------------===//

#include "tttc/Plugin.h"

#include "llvm/Support/raw_ostream.h"

#include <cstring>

const char *mlir::ttt::hostVersion() { return TTTC_VERSION_STRING; }

bool mlir::ttt::acceptPlugin(const char *name, const char *builtAgainst) {
  if (std::strcmp(builtAgainst, hostVersion()) == 0)
    return true;
  llvm::errs() << "error: tttc plugin '" << name << "' was built against tttc " << builtAgainst
               << ", this is tttc " << hostVersion()
               << ": rebuild it against this installation (find_package(tttc))\n";
  return false;
}
