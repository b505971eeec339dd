"""Helpers of the fault-injection suite (marker ``fault``): the CLI run in-process with its one-line error, a disk
that fills up, and the ci tier of espcn run through Snakemake with training overrides."""

from __future__ import annotations

import errno
import subprocess
from pathlib import Path

from helpers.workflow import run_snakemake, write_config

from sisr.cli import main

ROOT = Path(__file__).resolve().parents[2]


def run_cli(argv: list, capsys) -> tuple[int, str]:
    """``sisr ARGV`` in-process: (exit status, stderr). An uncaught exception fails the test with its traceback."""
    code = main([str(a) for a in argv])
    return code, capsys.readouterr().err


def one_line_error(code: int, err: str, *names) -> str:
    """Exit status 2 and one stderr line with ``error:`` naming every one of ``names``; returns the line."""
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, err
    assert len(lines) == 1 and "error:" in lines[0] and "Traceback" not in err, err
    for name in names:
        assert str(name) in lines[0], (name, lines[0])
    return lines[0]


def assert_one_line_error(code: int, err: str, *names) -> None:
    one_line_error(code, err, *names)


class FullDisk:
    """A file object that raises ENOSPC once ``room`` bytes are written (a patched writer for atomic_write)."""

    def __init__(self, real, room: int) -> None:
        self.real, self.room = real, room

    def write(self, data) -> int:
        if len(data) > self.room:
            raise OSError(errno.ENOSPC, "No space left on device")
        self.room -= len(data)
        return self.real.write(data)

    def __getattr__(self, name):
        if name in ("buffer", "raw"):  # every byte goes through write()
            raise AttributeError(name)
        return getattr(self.real, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.real.close()


def ci_config(**train_overrides) -> dict:
    """The ci tier of espcn (PNG figures, no leaderboard) with ``train_overrides``."""
    return {"tier": "ci", "studies": ["espcn"], "studies_dir": str(ROOT / "studies"), "figures": ["png"],
            "leaderboard": False, "train_overrides": train_overrides}


def snakemake_in(tmp_path: Path, cfg: dict, *targets: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """Snakemake on ``targets`` in ``tmp_path`` with ``cfg`` written as its config file (2 cores)."""
    config = write_config(tmp_path / "config.yaml", cfg)
    return run_snakemake(*targets, directory=tmp_path, cores=2, configfiles=[config], timeout=timeout)
