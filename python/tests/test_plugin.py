"""tttc.load_plugin: the out-of-tree nstep plugin (examples/plugins/
normalized_step) from Python. It is built against an installed tttc by
scripts/test-plugin.sh, which runs this file with TTTC_TEST_PLUGIN (the
plugin), TTTC_TEST_FAKE_PLUGIN (the same built as if against another tttc
version) and TTTC_LIBRARY (the installed libtttc.so) set; without them the
tests skip, saying so."""

import importlib.util
import os

import numpy as np
import pytest

import tttc
import tttc.numpy as tn
from conftest import EXAMPLES

PLUGIN = os.environ.get("TTTC_TEST_PLUGIN")
FAKE = os.environ.get("TTTC_TEST_FAKE_PLUGIN")
HERE = os.path.join(EXAMPLES, "plugins", "normalized_step")
needs_plugin = pytest.mark.skipif(
    not PLUGIN, reason="needs the built nstep plugin (scripts/test-plugin.sh sets TTTC_TEST_PLUGIN)")


def _check_module():
    spec = importlib.util.spec_from_file_location("nstep_check", os.path.join(HERE, "check.py"))
    m = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m)
    return m


@needs_plugin
def test_other_version_refused_then_the_plugin_runs():
    # Refused first (the process has loaded nothing of nstep yet).
    with pytest.raises(tttc.TTTCError, match="was built against tttc 0.0.0-other"):
        tttc.load_plugin(FAKE)
    with pytest.raises(tttc.TTTCError, match="no such file"):
        tttc.load_plugin(os.path.join(HERE, "missing.so"))
    tttc.load_plugin(PLUGIN)
    tttc.load_plugin(PLUGIN)  # twice: a no-op
    check = _check_module()
    for spec, chunk in (("normalized_delta.mlir", 1), ("normalized_delta_chunked.mlir", 8)):
        layer = tttc.Layer(os.path.join(HERE, spec), head_dim=16)
        for B, T, H, n_init in ((1, 1, 1, False), (2, 19, 3, True)):
            ins = check.make_inputs(B, T, H, 16, n_init, seed=T)
            got = tn.run(layer, **ins)
            ref = check.reference(ins, chunk)
            for name in ("out", "w_final", "n_final"):
                err = np.abs(got[name] - ref[name]).max() / np.abs(ref[name]).max()
                assert err <= 1e-5, (spec, name, B, T, H, err)
