//===- Plugins.cpp - plugins loaded by tttc --plugin and tttc_load_plugin -===//
//
// A plugin (tttc/Plugin.h) is checked against this tttc's version, then its
// dialects join every registry registerTTTDialects fills from then on (every
// compilation's context) and its passes the global pass registry.
//
//===----------------------------------------------------------------------===//

#include "dialect/Passes.h"
#include "tttc/Plugin.h"

#include "llvm/Support/DynamicLibrary.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

#include <cstring>
#include <memory>
#include <mutex>
#include <vector>

using namespace mlir;

namespace {
struct Loaded {
  std::string path;
  std::unique_ptr<DialectPlugin> dialects;
};
std::mutex &pluginsMutex() {
  static std::mutex m;
  return m;
}
std::vector<Loaded> &loadedPlugins() {
  static std::vector<Loaded> v;
  return v;
}
} // namespace

bool ttt::loadPlugin(const std::string &path, std::string &error) {
  std::lock_guard<std::mutex> lock(pluginsMutex());
  llvm::SmallString<256> real;
  if (llvm::sys::fs::real_path(path, real)) {
    error = "cannot load plugin '" + path + "': no such file";
    return false;
  }
  for (const Loaded &l : loadedPlugins())
    if (l.path == real.str())
      return true; // loaded before
  std::string err;
  auto lib = llvm::sys::DynamicLibrary::getPermanentLibrary(real.c_str(), &err);
  if (!lib.isValid()) {
    error = "cannot load plugin '" + path + "': " + err;
    return false;
  }
  auto version = reinterpret_cast<const char *(*)()>(lib.getAddressOfSymbol("tttcPluginVersion"));
  if (!version) {
    error = "'" + path + "' is not a tttc plugin: it defines no tttcPluginVersion (end its "
            "source with TTTC_DIALECT_PLUGIN from tttc/Plugin.h)";
    return false;
  }
  if (std::strcmp(version(), hostVersion()) != 0) {
    error = "plugin '" + path + "' was built against tttc " + version() + ", this is tttc " +
            hostVersion() + ": rebuild it against this installation (find_package(tttc))";
    return false;
  }
  Loaded l{real.str().str(), nullptr};
  if (lib.getAddressOfSymbol("mlirGetDialectPluginInfo")) {
    llvm::Expected<DialectPlugin> d = DialectPlugin::load(real.str().str());
    if (!d) {
      error = "plugin '" + path + "': " + llvm::toString(d.takeError());
      return false;
    }
    l.dialects = std::make_unique<DialectPlugin>(std::move(*d));
  }
  if (lib.getAddressOfSymbol("mlirGetPassPluginInfo")) {
    llvm::Expected<PassPlugin> p = PassPlugin::load(real.str().str());
    if (!p) {
      error = "plugin '" + path + "': " + llvm::toString(p.takeError());
      return false;
    }
    p->registerPassRegistryCallbacks();
  }
  loadedPlugins().push_back(std::move(l));
  return true;
}

void ttt::registerPluginDialects(DialectRegistry &registry) {
  std::lock_guard<std::mutex> lock(pluginsMutex());
  for (const Loaded &l : loadedPlugins())
    if (l.dialects)
      l.dialects->registerDialectRegistryCallbacks(registry);
}
