"""The one way tests run Snakemake on this repository's Snakefile: ``snakemake_cmd`` builds the command line,
``run_snakemake`` runs it to the end, ``start_snakemake`` starts it in the background."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterable, Mapping

import yaml

ROOT = Path(__file__).resolve().parents[2]
SNAKEFILE = ROOT / "Snakefile"
STUDIES_DIR = ROOT / "studies"


def snakemake_cmd(*args: Any, directory: str | os.PathLike | None = None, cores: int | str | None = None,
                  profile: str | os.PathLike | None = None, configfiles: Iterable[str | os.PathLike] = ()) -> list[str]:
    """``python -m snakemake --snakefile <repo>/Snakefile [--directory D] [--cores N] [--profile P] ARGS
    [--configfile F ...]``. ``args``: targets and other options, in order (``--config k=v`` consumes the words
    after it, so put targets before it). A ``profile`` comes with ``--workflow-profile none``."""
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(SNAKEFILE)]
    if directory is not None:
        cmd += ["--directory", str(directory)]
    if cores is not None:
        cmd += ["--cores", str(cores)]
    if profile is not None:
        cmd += ["--profile", str(profile), "--workflow-profile", "none"]
    cmd += [str(a) for a in args]
    configfiles = [str(f) for f in configfiles]
    return cmd + (["--configfile", *configfiles] if configfiles else [])


def snakemake_env(**extra: str) -> dict[str, str]:
    """This process's environment with unbuffered Python output (job logs arrive in order), plus ``extra``."""
    return {**os.environ, "PYTHONUNBUFFERED": "1", **extra}


def run_snakemake(*args: Any, timeout: float = 900, cwd: str | os.PathLike | None = None,
                  env: Mapping[str, str] | None = None, **options: Any) -> subprocess.CompletedProcess:
    """Run ``snakemake_cmd(*args, **options)`` to the end (stdout and stderr captured as text)."""
    return subprocess.run(snakemake_cmd(*args, **options), cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env=dict(env) if env is not None else snakemake_env())


def start_snakemake(*args: Any, log: str | os.PathLike, env: Mapping[str, str] | None = None,
                    **options: Any) -> subprocess.Popen:
    """Start ``snakemake_cmd(*args, **options)`` in a session of its own (a test may signal the whole group),
    stdout and stderr into the file ``log``; ``env``: variables added to :func:`snakemake_env`."""
    with open(log, "w") as out:
        return popen_like_a_terminal(snakemake_cmd(*args, **options), stdout=out, stderr=subprocess.STDOUT,
                                     start_new_session=True, env=snakemake_env(**(env or {})))


def popen_like_a_terminal(cmd: list[str], **kwargs: Any) -> subprocess.Popen:
    """``subprocess.Popen(cmd, **kwargs)`` with SIGINT at its default, as a terminal's foreground job has it.

    A test runner started in the background (``pytest &`` in a script, some CI harnesses) has SIGINT ignored, and an
    ignored signal stays ignored across fork and exec: Snakemake would then never see a test's Ctrl-C. A handler
    (which exec resets to the default) stands in for the ignore while the child starts."""
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        return subprocess.Popen(cmd, **kwargs)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return subprocess.Popen(cmd, **kwargs)
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def write_config(path: str | os.PathLike, config: Mapping[str, Any]) -> Path:
    """``config`` as YAML in ``path`` (a workflow config file); returns the path."""
    path = Path(path)
    path.write_text(yaml.safe_dump(dict(config), sort_keys=False))
    return path


def job_counts(output: str) -> dict[str, int]:
    """The "Job stats" table Snakemake prints (first one): rule -> count."""
    block = output.split("Job stats:", 1)[1].split("total", 1)[0]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)\s*$", block, re.M)}
