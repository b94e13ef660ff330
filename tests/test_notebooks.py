"""The notebooks run top to bottom on a fresh checkout (real model, tiny data) and draw their figures."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
KERNEL = "thaigov-search-test"


@pytest.fixture()
def kernel_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A kernelspec that runs this interpreter (the venv's python), found first via JUPYTER_PATH.

    Nothing is installed into the user's Jupyter directories, and it works in a fresh venv where
    no kernel was ever registered.
    """
    spec_dir = tmp_path / "jupyter" / "kernels" / KERNEL
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "thaigov-search (test)",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    return KERNEL


@pytest.mark.slow
def test_evaluation_notebook_runs_and_plots(kernel_name: str):
    nbclient = pytest.importorskip("nbclient")
    nbformat = pytest.importorskip("nbformat")

    nb = nbformat.read(NOTEBOOKS / "evaluation.ipynb", as_version=4)
    client = nbclient.NotebookClient(
        nb, kernel_name=kernel_name, timeout=900, resources={"metadata": {"path": str(NOTEBOOKS)}}
    )
    client.execute()  # raises CellExecutionError on the first failing cell

    outputs = [out for cell in nb.cells if cell.cell_type == "code" for out in cell.get("outputs", [])]
    assert not [out for out in outputs if out.get("output_type") == "error"]
    images = [out for out in outputs if "image/png" in out.get("data", {})]
    assert len(images) == 1, "the bar chart of metrics per mode was not drawn"
    text = "".join(out.get("text", "") for out in outputs if out.get("output_type") == "stream")
    for mode in ("hybrid", "dense", "lexical"):
        assert mode in text
    assert "nDCG@10" in text
