#!/usr/bin/env bash
# The out-of-tree plugin as its author builds it (issue: extension point):
# tttc installed into a temporary prefix (cmake --install), the example
# plugin examples/plugins/normalized_step configured and built from that
# prefix alone in its own build directory (and once more as if against
# another tttc version), then its lit tests (paths and remarks, verifier,
# errors, the version refusal), its float64 per-token reference check on
# cpu and cuda-emu, and the Python binding's load_plugin. Run by ctest
# (test `plugin`); usage: scripts/test-plugin.sh [BUILD_DIR]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${1:-$ROOT/build}" && pwd)
PLUGIN_SRC=$ROOT/examples/plugins/normalized_step
LLVM_BIN=${LLVM_BIN:-/usr/lib/llvm-22/bin}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

cmake --install "$BUILD" --prefix "$WORK/prefix" > "$WORK/install.log"
echo "installed tttc into $WORK/prefix"
build() { # DIR [cmake args...]
  local dir=$1; shift
  cmake -S "$PLUGIN_SRC" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_PREFIX_PATH="$WORK/prefix" "$@" > "$dir.log" 2>&1 || { cat "$dir.log"; exit 1; }
  ninja -C "$dir" >> "$dir.log" 2>&1 || { cat "$dir.log"; exit 1; }
}
build "$WORK/plugin"
build "$WORK/plugin-other" -DNSTEP_FAKE_TTTC_VERSION=0.0.0-other
echo "built the plugin from the prefix alone: $WORK/plugin/NormalizedStep.so"

"$LLVM_BIN/lit" -sv "$PLUGIN_SRC/test" -Dtttc_prefix="$WORK/prefix" \
  -Dplugin="$WORK/plugin/NormalizedStep.so" -Dfake_plugin="$WORK/plugin-other/NormalizedStep.so" \
  -Dllvm_bin="$LLVM_BIN" -Dexec_root="$WORK/lit"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
"$PY" "$PLUGIN_SRC/check.py" "$WORK/prefix/bin/tttc" "$WORK/plugin/NormalizedStep.so"
TTTC_LIBRARY="$WORK/prefix/lib/libtttc.so" TTTC_TEST_PLUGIN="$WORK/plugin/NormalizedStep.so" \
  TTTC_TEST_FAKE_PLUGIN="$WORK/plugin-other/NormalizedStep.so" \
  "$PY" -m pytest -q -rs -p no:cacheprovider "$ROOT/python/tests/test_plugin.py"
