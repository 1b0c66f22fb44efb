"""examples/pytorch/train_recall.py runs as the README says (a few steps
here, each mixer kind: a TTT memory with layer norm, an exact per-token
rule, a memory without initial-state inputs) and writes its plot."""

import os
import subprocess
import sys

import pytest

pytest.importorskip("torch")
from conftest import ROOT  # noqa: E402


@pytest.mark.parametrize("spec", ["ttt_linear", "gated_delta", "infini_attention"])
def test_train_recall_runs(spec, tmp_path):
    png = tmp_path / "recall.png"
    p = subprocess.run([sys.executable, os.path.join(ROOT, "examples", "pytorch",
                                                     "train_recall.py"),
                        "--spec", spec, "--steps", "6", "--batch", "8", "--png", str(png)],
                       capture_output=True, text=True, timeout=300,
                       env=dict(os.environ, PYTHONPATH=os.path.join(ROOT, "python")))
    assert p.returncode == 0, p.stderr
    assert f"{spec}: recall accuracy" in p.stdout and "attention: recall accuracy" in p.stdout
    try:
        import matplotlib  # noqa: F401
        assert png.exists() and png.stat().st_size > 1000
    except ImportError:
        assert "no plot" in p.stdout
