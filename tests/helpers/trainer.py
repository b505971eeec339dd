"""A tiny training run in a process of its own, to be signalled at a known point (resume and fault tests).

``python -m helpers.trainer OUT_DIR [EPOCH,BATCH]`` (run from tests/, as ``start`` does) trains tiny_sr with
``RESUME_CONFIG``; with EPOCH,BATCH the data source stops before that batch, creates OUT_DIR/paused and waits for
OUT_DIR/paused.go. One torch thread, so a run in the test process reduces floats in the same order.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from helpers.training import TinyTrainSource, register_tiny_models, tiny_config, tiny_valid
from sisr.training import train

TESTS = Path(__file__).resolve().parents[1]
# 4 epochs x 4 batches; checkpoint_last.pt every 2 batches (and at every epoch end).
RESUME_CONFIG = tiny_config(epochs=4, checkpoint_every_batches=2, scheduler={"name": "cosine", "eta_min": 1e-4})


def run_training(out_dir: Path, pause_at: tuple[int, int] | None = None) -> None:
    """Train ``RESUME_CONFIG`` into ``out_dir`` in this process (registers the tiny models, one torch thread)."""
    torch.set_num_threads(1)
    register_tiny_models()
    source = TinyTrainSource(pause_at=pause_at, pause_file=out_dir / "paused")
    train(RESUME_CONFIG, train_source=source, valid_source=tiny_valid(), out_dir=out_dir, device="cpu")


def start(out_dir: Path, pause_at: tuple[int, int] | None = None) -> subprocess.Popen:
    """``run_training`` in a new process; its output is appended to ``out_dir/process.log``."""
    args = [sys.executable, "-m", "helpers.trainer", str(out_dir)] + ([f"{pause_at[0]},{pause_at[1]}"] if pause_at else [])
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(out_dir / "process.log", "ab") as log:
        return subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=TESTS)


def wait_for(path: Path, proc: subprocess.Popen, timeout: float = 120) -> None:
    """Wait until ``path`` exists; fail the test (with the process's log) if ``proc`` ends or time runs out."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            pytest.fail(f"training exited ({proc.returncode}) before {path.name}:\n{log_of(path.parent)}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"no {path.name} after {timeout} s:\n{log_of(path.parent)}")
        time.sleep(0.01)


def log_of(out_dir: Path) -> str:
    """What a ``start``-ed process wrote."""
    return (out_dir / "process.log").read_text(errors="replace")


if __name__ == "__main__":
    run_training(Path(sys.argv[1]), tuple(int(v) for v in sys.argv[2].split(",")) if len(sys.argv) > 2 else None)
