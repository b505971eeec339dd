"""Provenance: one dict that every artefact (checkpoint, train summary, results table) embeds.

It answers "which code, on which machine, when": the package version, the git commit of the checkout
the code was imported from (and whether it had uncommitted changes), the host name, the Python, torch
and CUDA versions, and the time (UTC). Artefacts also store the resolved config that made them; that is
the caller's part (see ``sisr.training.checkpoint``).

Only read-only git commands are run (``rev-parse``, ``status --no-optional-locks``); without git, or
outside a checkout (an installed wheel), ``git_commit`` is None.
"""

from __future__ import annotations

import functools
import platform
import socket
import subprocess
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import sisr


def _git(args: list[str], cwd: Path) -> str | None:
    """Output of ``git <args>`` run in ``cwd``, stripped; None when git is missing or fails."""
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


@functools.lru_cache(maxsize=1)
def git_state() -> tuple[str | None, bool | None]:
    """(commit, dirty) of the checkout the ``sisr`` package was imported from; (None, None) outside one.

    ``dirty`` is True when tracked files differ from the commit (untracked files are ignored).
    Cached for the life of the process.
    """
    source = Path(sisr.__file__).resolve().parent
    commit = _git(["rev-parse", "HEAD"], source)
    if commit is None:
        return None, None
    status = _git(["--no-optional-locks", "status", "--porcelain", "--untracked-files=no"], source)
    return commit, (None if status is None else status != "")


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def provenance(extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """A JSON-serialisable dict describing where and when an artefact was made.

    Keys: package, version, git_commit, git_dirty, hostname, python, torch, time (UTC, ISO 8601),
    plus the entries of ``extra`` (e.g. ``{"device": "NVIDIA H100", "tier": "demo"}``), which win on
    a clash. Cheap: torch is not imported (its version comes from the installed metadata).
    """
    commit, dirty = git_state()
    info: dict[str, Any] = {
        "package": "sisr",
        "version": sisr.__version__,
        "git_commit": commit,
        "git_dirty": dirty,
        "hostname": socket.gethostname(),
        "python": platform.python_version(),
        "torch": _version("torch"),
        "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    info.update(extra or {})
    return info
