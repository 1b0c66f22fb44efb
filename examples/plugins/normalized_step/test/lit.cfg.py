# The nstep plugin's lit tests, run against an installed tttc:
#   lit -sv test -Dtttc_prefix=PREFIX -Dplugin=build/NormalizedStep.so \
#       -Dfake_plugin=build-other/NormalizedStep.so -Dexec_root=/tmp/nstep-lit
# (fake_plugin: the same plugin built as if against another tttc version;
# scripts/test-plugin.sh builds both.)
import os
import shutil

import lit.formats

config.name = "nstep"
config.test_format = lit.formats.ShTest(execute_external=False)
config.suffixes = [".mlir", ".test"]
config.test_source_root = os.path.dirname(__file__)
# Outputs (and lit's timing file) under -Dexec_root, not in the sources.
if lit_config.params.get("exec_root"):
    config.test_exec_root = lit_config.params["exec_root"]
config.excludes = ["lit.cfg.py"]

params = lit_config.params
prefix = params.get("tttc_prefix")
plugin = params.get("plugin")
fake = params.get("fake_plugin")
if not prefix or not plugin or not fake:
    lit_config.fatal("needs -Dtttc_prefix=..., -Dplugin=... and -Dfake_plugin=...")
llvm_bin = params.get("llvm_bin", "/usr/lib/llvm-22/bin")
config.substitutions.append(("%ttt-opt", os.path.join(prefix, "bin", "ttt-opt")))
config.substitutions.append(("%tttc", os.path.join(prefix, "bin", "tttc")))
config.substitutions.append(("%fake_plugin", os.path.abspath(fake)))
config.substitutions.append(("%plugin", os.path.abspath(plugin)))
config.substitutions.append(("%spec_dir", os.path.dirname(config.test_source_root)))
config.environment["PATH"] = llvm_bin + os.pathsep + config.environment.get("PATH", "")
ptxas = shutil.which("ptxas", path=os.pathsep.join(
    [os.path.join(os.environ.get("CUDA_HOME", "/usr/local/cuda"), "bin"), os.environ.get("PATH", "")]))
if ptxas:
    config.available_features.add("ptxas")
    config.substitutions.append(("%ptxas", ptxas))
