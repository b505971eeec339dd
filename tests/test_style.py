"""Code style as CI checks it: ruff (the rule set in pyproject.toml) on the Python code and `snakefmt --check`
on the Snakefile and rules (line length in pyproject.toml). Fix with `ruff check --fix .` and
`snakefmt Snakefile rules/`."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def tool(name: str) -> str:
    beside = Path(sys.executable).parent / name  # the venv's own copy (the test extra installs both)
    found = str(beside) if beside.exists() else shutil.which(name)
    if not found:
        pytest.skip(f"{name} is not installed (it comes with the test extra: pip install -e '.[test]')")
    return found


def test_ruff_finds_nothing():
    res = subprocess.run([tool("ruff"), "check", "--no-cache", "."], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stdout[-6000:] + res.stderr[-2000:]


def test_snakefmt_would_change_nothing():
    res = subprocess.run([tool("snakefmt"), "--check", "Snakefile", "rules"], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0, res.stdout[-6000:] + res.stderr[-2000:]
