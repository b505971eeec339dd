"""Kill a training process (SIGKILL, SIGTERM), restart it: same final weights and history, bitwise (CPU).

The training process is tests/helpers/trainer.py (``python -m helpers.trainer OUT_DIR [PAUSE]``) with
the tiny model and data of tests/helpers/training.py. PAUSE = "epoch,batch" makes the data source stop
before that batch, create OUT_DIR/paused and wait for OUT_DIR/paused.go, so the test signals the process at
a known point: deterministic, no sleeps to tune. The reference is an uninterrupted run in this process
(one torch thread everywhere, so float reductions happen in the same order).
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
import torch

from helpers.trainer import log_of, run_training, start, wait_for
from helpers.training import read_history
from sisr import models
from sisr.training import load_checkpoint


@pytest.fixture(autouse=True, scope="module")
def restore_registry_and_threads():
    """run_training registers the tiny models and sets one thread; undo both after this module (the in-process runs), so that
    later tests (e.g. `sisr models` listing every registered model) see the registry as it was."""
    saved, threads = dict(models.MODELS), torch.get_num_threads()
    yield
    models.MODELS.clear()
    models.MODELS.update(saved)
    torch.set_num_threads(threads)


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

