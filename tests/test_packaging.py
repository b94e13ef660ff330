"""Loud failures (issue #15): a broken import stops the CLI instead of hiding a command, and every
third-party module the code imports is a declared dependency (scipy was not)."""

from __future__ import annotations

import ast
import subprocess
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("thaigov_search",)


def run_cli(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_help_lists_eval_and_bench() -> None:
    proc = run_cli("from thaigov_search.cli import main; main(['--help'])")
    assert proc.returncode == 0, proc.stderr
    assert "eval" in proc.stdout and "bench" in proc.stdout


@pytest.mark.parametrize("module", ["thaigov_search.cli.bench", "thaigov_search.cli.evaluation"])
def test_a_command_whose_module_does_not_import_fails_loudly(module: str) -> None:
    """`sys.modules[name] = None` makes Python's import system raise ImportError for it, as a missing
    dependency would: the CLI must stop with that error, not print --help without the command."""
    proc = run_cli(f"import sys; sys.modules[{module!r}] = None\n"
                   "from thaigov_search.cli import main; main(['--help'])")
    assert proc.returncode != 0
    assert "ImportError" in proc.stderr or "ModuleNotFoundError" in proc.stderr
    assert module in proc.stderr
    assert "usage:" not in proc.stdout


def third_party_imports() -> set[str]:
    names: set[str] = set()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    names.update(a.name.split(".")[0] for a in node.names)
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n not in PACKAGES}


def test_every_imported_third_party_module_is_a_declared_dependency() -> None:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    specs = project["dependencies"] + [d for group in project["optional-dependencies"].values() for d in group]
    declared = {s.split(";")[0].split("[")[0].split("=")[0].split(">")[0].split("<")[0].strip().lower().replace("_", "-")
                for s in specs}
    dists = packages_distributions()
    missing = {}
    for name in sorted(third_party_imports()):
        owners = {d.lower().replace("_", "-") for d in dists.get(name, [name])}
        if not owners & declared:
            missing[name] = sorted(owners)
    assert missing == {}, f"imported but not declared in pyproject.toml: {missing}"
