"""Which GPU a job uses when Snakemake runs jobs side by side on one machine (profiles/local).

Snakemake's ``--resources gpu=N`` only caps the number of GPUs that the running jobs declare together; it
does not tell a job *which* GPU is its own (every job sees all of them and would use ``cuda:0``). SLURM does:
it sets ``CUDA_VISIBLE_DEVICES`` to the job's allocation. So, locally, our code picks the devices:

``pin_job_gpus(count)`` takes ``count`` GPU ids that no other sisr job on this machine holds, holds them until
the process exits (an exclusive ``flock`` on one lock file per GPU; the kernel releases it when the process
ends, also when it is killed) and sets ``CUDA_VISIBLE_DEVICES`` to them, before CUDA starts in this process.
Under SLURM (``SLURM_JOB_ID`` is set) and for jobs that declare no GPU it changes nothing.

The GPUs to choose from: the ids in ``CUDA_VISIBLE_DEVICES`` if it is set (so ``CUDA_VISIBLE_DEVICES=2,3
snakemake --profile profiles/local`` keeps jobs on GPUs 2 and 3), else those ``nvidia-smi`` lists. Lock files
live in ``$SISR_GPU_LOCK_DIR``, else ``<tmp>/sisr-gpu-locks``.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import subprocess
import tempfile
import time
from pathlib import Path
from typing import MutableMapping, Sequence

from sisr.base.errors import SisrError

log = logging.getLogger("sisr")

LOCK_DIR_ENV = "SISR_GPU_LOCK_DIR"
_held_fds: list[int] = []  # lock files this process holds; closed (released) when the process exits


def under_slurm(environ: MutableMapping[str, str] | None = None) -> bool:
    """True inside a SLURM job (SLURM chose the GPUs and set CUDA_VISIBLE_DEVICES)."""
    env = os.environ if environ is None else environ
    return "SLURM_JOB_ID" in env


def gpu_pool(environ: MutableMapping[str, str] | None = None) -> list[str]:
    """GPU ids this process may use: the entries of CUDA_VISIBLE_DEVICES if set, else nvidia-smi's indices.

    Returns [] on a machine without NVIDIA GPUs (or with ``CUDA_VISIBLE_DEVICES=""``).
    """
    env = os.environ if environ is None else environ
    if "CUDA_VISIBLE_DEVICES" in env:
        return [gid.strip() for gid in env["CUDA_VISIBLE_DEVICES"].split(",") if gid.strip()]
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=index", "--format=csv,noheader"], capture_output=True,
                             text=True, timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.strip() for line in out.splitlines() if line.strip()]


def default_lock_dir() -> Path:
    """``$SISR_GPU_LOCK_DIR``, else ``<system tmp>/sisr-gpu-locks`` (one per machine, shared by all users)."""
    return Path(os.environ.get(LOCK_DIR_ENV) or Path(tempfile.gettempdir()) / "sisr-gpu-locks")


def claim_gpus(count: int, *, pool: Sequence[str], lock_dir: str | os.PathLike | None = None,
               timeout_s: float = 600.0, poll_s: float = 1.0) -> list[str]:
    """Lock ``count`` ids of ``pool`` that no other process holds and keep them until this process exits.

    Args:
        count: GPUs wanted (>= 1).
        pool: GPU ids to choose from, in order of preference (see :func:`gpu_pool`).
        lock_dir: folder of the lock files (one ``gpu<id>.lock`` per GPU); default :func:`default_lock_dir`.
        timeout_s: how long to wait when fewer than ``count`` GPUs are free (another workflow may hold them).
        poll_s: seconds between attempts while waiting.

    Returns the claimed ids. Raises SisrError if ``pool`` has fewer than ``count`` ids or none come free in time.
    """
    if count < 1:
        raise SisrError(f"claim_gpus: expected count >= 1, got {count}")
    if count > len(pool):
        raise SisrError(f"the job asks for {count} GPU(s) but only {len(pool)} are available ({list(pool)}): lower "
                        f"the run's resources.gpus in the study file or use a machine with more GPUs")
    folder = Path(lock_dir) if lock_dir is not None else default_lock_dir()
    if not folder.is_dir():
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o1777)  # every user's jobs share the machine's GPUs (like /tmp)
    deadline = time.monotonic() + timeout_s
    while True:
        taken: list[tuple[str, int]] = []
        for gid in pool:
            path = folder / f"gpu{re.sub(r'[^A-Za-z0-9_.-]', '_', gid)}.lock"
            fd = os.open(path, os.O_RDONLY | os.O_CREAT, 0o666)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            taken.append((gid, fd))
            if len(taken) == count:
                _held_fds.extend(fd for _, fd in taken)
                return [gid for gid, _ in taken]
        for _, fd in taken:  # not enough: give back what we took, so that two jobs cannot block each other
            os.close(fd)
        if time.monotonic() >= deadline:
            raise SisrError(f"no {count} free GPU(s) among {list(pool)} after {timeout_s:.0f} s (locks in {folder}): "
                            f"other jobs hold them; is --resources gpu=N larger than the number of GPUs?")
        time.sleep(poll_s)


def pin_job_gpus(count: int, *, environ: MutableMapping[str, str] | None = None,
                 lock_dir: str | os.PathLike | None = None, timeout_s: float = 600.0) -> list[str]:
    """Give this job ``count`` GPUs of its own by setting CUDA_VISIBLE_DEVICES; call it before CUDA starts.

    Args:
        count: the GPUs the job declared (its Snakemake resource ``gpu``).
        environ: the environment to read and update (default ``os.environ``).
        lock_dir, timeout_s: see :func:`claim_gpus`.

    Returns the GPU ids the job uses ([] when it uses none). Changes nothing under SLURM (which set
    CUDA_VISIBLE_DEVICES itself), for ``count <= 0``, or on a machine without GPUs (the job runs on the CPU).
    """
    env = os.environ if environ is None else environ
    if under_slurm(env):
        ids = gpu_pool(env) if "CUDA_VISIBLE_DEVICES" in env else []
        log.info("SLURM job %s: GPU(s) %s (CUDA_VISIBLE_DEVICES=%s, set by SLURM)", env["SLURM_JOB_ID"], ids,
                 env.get("CUDA_VISIBLE_DEVICES", "unset"))
        return ids
    if count <= 0:
        return []
    pool = gpu_pool(env)
    if not pool:
        log.info("no GPU on this machine: the job runs on the CPU")
        return []
    ids = claim_gpus(count, pool=pool, lock_dir=lock_dir, timeout_s=timeout_s)
    env["CUDA_VISIBLE_DEVICES"] = ",".join(ids)
    log.info("GPU(s) %s of %s for this job (CUDA_VISIBLE_DEVICES=%s)", ids, pool, env["CUDA_VISIBLE_DEVICES"])
    return ids
