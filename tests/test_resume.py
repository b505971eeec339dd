"""Kill a training process (SIGKILL, SIGTERM), restart it: same final weights and history, bitwise (CPU).

The training process is this file run as a script (``python tests/test_resume.py OUT_DIR [PAUSE]``) with
the tiny model and data of tests/test_training.py. PAUSE = "epoch,batch" makes the data source stop
before that batch, create OUT_DIR/paused and wait for OUT_DIR/paused.go, so the test signals the process at
a known point: deterministic, no sleeps to tune. The reference is an uninterrupted run in this process
(one torch thread everywhere, so float reductions happen in the same order).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import pytest  # noqa: E402
import torch  # noqa: E402

from test_training import TinyTrainSource, read_history, register_tiny_models, tiny_config, tiny_valid  # noqa: E402
from sisr import models  # noqa: E402
from sisr.training import load_checkpoint, train  # noqa: E402

# 4 epochs x 4 batches; checkpoint_last.pt every 2 batches (and at every epoch end).
RESUME_CONFIG = tiny_config(epochs=4, checkpoint_every_batches=2, scheduler={"name": "cosine", "eta_min": 1e-4})


@pytest.fixture(autouse=True, scope="module")
def restore_registry_and_threads():
    """run_training registers the tiny models and sets one thread; undo both after this module (the in-process runs), so that
    later tests (e.g. `sisr models` listing every registered model) see the registry as it was."""
    saved, threads = dict(models.MODELS), torch.get_num_threads()
    yield
    models.MODELS.clear()
    models.MODELS.update(saved)
    torch.set_num_threads(threads)


def run_training(out_dir: Path, pause_at: tuple[int, int] | None = None) -> None:
    torch.set_num_threads(1)
    register_tiny_models()
    source = TinyTrainSource(pause_at=pause_at, pause_file=out_dir / "paused")
    train(RESUME_CONFIG, train_source=source, valid_source=tiny_valid(), out_dir=out_dir, device="cpu")


def start(out_dir: Path, pause_at: tuple[int, int] | None = None) -> subprocess.Popen:
    args = [sys.executable, __file__, str(out_dir)] + ([f"{pause_at[0]},{pause_at[1]}"] if pause_at else [])
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(out_dir / "process.log", "ab") as log:
        return subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)


def wait_for(path: Path, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            pytest.fail(f"training exited ({proc.returncode}) before {path.name}:\n{log_of(path.parent)}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"no {path.name} after {timeout} s:\n{log_of(path.parent)}")
        time.sleep(0.01)


def log_of(out_dir: Path) -> str:
    return (out_dir / "process.log").read_text(errors="replace")


def assert_same_run(out_dir: Path, reference: Path) -> None:
    """Bitwise-equal model, optimizer and discriminator-free state; history equal but for timing columns."""
    a, b = load_checkpoint(out_dir / "checkpoint_last.pt"), load_checkpoint(reference / "checkpoint_last.pt")
    assert a["model"].keys() == b["model"].keys()
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    state_a, state_b = a["optimizer"]["state"], b["optimizer"]["state"]
    assert all(torch.equal(state_a[i][k], state_b[i][k]) for i in state_b for k in state_b[i])
    assert a["scheduler"] == b["scheduler"] and a["iteration"] == b["iteration"] == 16
    best_a, best_b = load_checkpoint(out_dir / "checkpoint_best.pt"), load_checkpoint(reference / "checkpoint_best.pt")
    assert best_a["epoch"] == best_b["epoch"]
    assert all(torch.equal(best_a["model"][k], best_b["model"][k]) for k in best_b["model"])
    assert read_history(out_dir / "history.csv") == read_history(reference / "history.csv")
    assert len(read_history(reference / "history.csv")) == 4


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Start the two processes to be signalled (they pause at a known batch), then train the uninterrupted
    reference in this process meanwhile. Yields (folder, {"killed": process, "terminated": process})."""
    root = tmp_path_factory.mktemp("resume")
    procs = {"killed": start(root / "killed", pause_at=(1, 3)),
             "terminated": start(root / "terminated", pause_at=(2, 1))}
    threads = torch.get_num_threads()
    try:
        run_training(root / "reference")
        yield root, procs
    finally:
        torch.set_num_threads(threads)
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()


@pytest.mark.fault
def test_sigkill_then_restart_gives_identical_weights_and_history(runs):
    root, procs = runs
    out, proc = root / "killed", procs["killed"]
    # paused in epoch 2 (0-based 1) before batch 3: batches 0-2 done, the last checkpoint is after batch 2 ...
    wait_for(out / "paused", proc)
    saved = load_checkpoint(out / "checkpoint_last.pt")
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL
    assert (saved["epoch"], saved["batch"]) == (1, 2)
    assert not (out / "train_done.json").exists()
    # ... so the restart redoes batch 2 of epoch 2, then finishes: a fresh process, as a cluster retry.
    proc = start(out)
    assert proc.wait(timeout=120) == 0, log_of(out)
    assert "resuming from epoch 2, batch 2" in log_of(out)
    assert_same_run(out, root / "reference")


@pytest.mark.fault
def test_sigterm_saves_and_exits_cleanly_then_resumes(runs):
    root, procs = runs
    out, proc = root / "terminated", procs["terminated"]
    wait_for(out / "paused", proc)  # paused in epoch 3 before batch 1
    proc.send_signal(signal.SIGTERM)  # arrives while the data source waits ...
    (out / "paused.go").touch()  # ... then the current step finishes, the engine saves and exits
    assert proc.wait(timeout=60) == 128 + signal.SIGTERM, log_of(out)
    assert "Traceback" not in log_of(out) and "exiting with code 143" in log_of(out)
    saved = load_checkpoint(out / "checkpoint_last.pt")
    assert (saved["epoch"], saved["batch"]) == (2, 2)  # batch 1 of epoch 3 completed before saving
    (out / "paused").unlink()
    run_training(out)  # resume in this process
    assert_same_run(out, root / "reference")


if __name__ == "__main__":
    pause = tuple(int(v) for v in sys.argv[2].split(",")) if len(sys.argv) > 2 else None
    run_training(Path(sys.argv[1]), pause)
