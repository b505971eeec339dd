"""What the workflow prints when the user interrupts it (Ctrl-C): one clean message, not a workflow error.

Ctrl-C in a terminal sends SIGINT to the whole foreground process group: Snakemake and its running jobs. A
trainer saves ``checkpoint_last.pt`` and exits with 130, other jobs exit with 130 too (``sisr.workflow.jobs.job_log``);
each ends its log with a line saying it was interrupted. Snakemake (9.x) cancels the run, but it still reports
every job that exited non-zero as failed: a ``RuleException`` (``CalledProcessError ... exit status 130``), an
"Error in rule train:" block, and at the very end "WorkflowError: At least one job did not complete
successfully". Nothing failed, though: the next run resumes.

:func:`install` (called once from ``rules/setup.smk``, in Snakemake's own process) notes that Snakemake got
SIGINT (chaining to Snakemake's handler, which still stops the run as before) and adds a filter to Snakemake's
logger that, after SIGINT only, drops those reports for jobs whose log says they were interrupted. The
``onerror`` handler then prints :func:`summary`: which jobs stopped, where their checkpoints are, that the same
command resumes. A job that fails for another reason during the interrupt keeps its error report (and so does
the run's final error); without SIGINT to Snakemake (a job killed on its own, SIGTERM, a cluster) nothing is
filtered. The dropped reports are missing from .snakemake/log/ too; each job's own log keeps its last line.

The order of the two events is not fixed: Snakemake's Python handler runs in its main thread, which may get the
CPU only after a job thread has already reported the job's exit 130 (seen under load). So a report of a job that
stopped on SIGINT (its log says so) is held back while the flag is not set yet; once the flag is set, held reports
are treated as above; if the run ends without it (the job got SIGINT on its own), they are logged as usual before
the run's final error.

Nothing here imports Snakemake or torch; the filter reads Snakemake's log records by their ``event`` attribute
(the logger-plugin interface of Snakemake 9: ``job_error``, ``error``).
"""

from __future__ import annotations

import logging
import re
import signal
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

SNAKEMAKE_LOGGER = "snakemake.logging"
_EXIT_130 = ("non-zero exit status 130", "died with <Signals.SIGINT")  # a job that handled SIGINT itself
_FINAL_ERROR = "did not complete successfully"
_SAVED = re.compile(r"saved (?P<path>\S+) (?P<when>at epoch \d+, batch \d+|after epoch \d+)")


def interrupted_line(log: str | Path) -> str | None:
    """The last line of a job's log if it says the job was interrupted (and stopped cleanly), else None."""
    try:
        lines = Path(log).read_text(errors="replace").strip().splitlines()
    except OSError:
        return None
    return lines[-1] if lines and " interrupted" in f" {lines[-1]}" else None


def describe(log: str | Path, line: str) -> str:
    """``rule study/run: what it saved`` for one interrupted job, from its log path and last log line.

    The path scheme puts a job's log at ``<logs>/<tier>/{rule}/{study}/{run}.log`` (data and weights jobs:
    ``<logs>/{rule}/{name}.log``).
    """
    path = Path(log)
    parts = path.with_suffix("").parts
    name = f"{parts[-3]} {parts[-2]}/{parts[-1]}" if len(parts) >= 3 else path.stem
    saved = _SAVED.search(line)
    if saved:
        where = saved["when"].replace("at epoch", "in epoch").replace(", batch", " after batch")
        return f"{name}: saved its checkpoint ({saved['path']}) {where}"
    return f"{name}: stopped; the rerun starts it again"


def _stopped_on_sigint(log: str) -> bool:
    line = interrupted_line(log)
    return bool(line) and ("signal 2" in line or "(Ctrl-C)" in line)


class InterruptFilter(logging.Filter):
    """Drops Snakemake's failure reports of jobs that stopped cleanly because the user pressed Ctrl-C."""

    def __init__(self, emit: Callable[[logging.LogRecord], Any] | None = None) -> None:
        super().__init__()
        self.interrupted = threading.Event()  # set by the SIGINT handler in Snakemake's process
        self.jobs: dict[str, str] = {}  # log path -> its "interrupted" line, in order
        self.other_errors = 0  # job failures during the interrupt that were not a clean stop: reported as usual
        self.held: list[logging.LogRecord] = []  # reports of SIGINT stops that came before the flag (module doc)
        self.emit = emit or logging.getLogger(SNAKEMAKE_LOGGER).handle  # how held reports are logged after all

    def _sigint_report(self, record: logging.LogRecord) -> bool:
        """A report of a job that stopped on SIGINT: its exit-130 error, or its job_error with such a log."""
        if getattr(record, "event", None) == "job_error":
            logs = [str(p) for p in getattr(record, "log", None) or []]
            return bool(logs) and all(_stopped_on_sigint(p) for p in logs)
        return record.levelno >= logging.ERROR and any(s in record.getMessage() for s in _EXIT_130)

    def _settle(self) -> None:
        """Held reports: part of the interrupt once the flag is set, else logged as they came (once)."""
        held, self.held = self.held, []
        for record in held:
            if self.interrupted.is_set():
                if getattr(record, "event", None) == "job_error":
                    self.jobs.update({str(p): interrupted_line(p) for p in record.log})
            else:
                record.sisr_released = True
                self.emit(record)

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "sisr_released", False):
            return True
        if not self.interrupted.is_set():
            if self._sigint_report(record):
                self.held.append(record)
                return False
            if record.levelno >= logging.ERROR and _FINAL_ERROR in record.getMessage():
                self._settle()  # the run ends without SIGINT to Snakemake: the held reports were real
            return True
        self._settle()
        event = getattr(record, "event", None)
        if event == "job_error":
            logs = [str(p) for p in getattr(record, "log", None) or []]
            lines = {p: interrupted_line(p) for p in logs}
            if logs and all(lines.values()):
                self.jobs.update(lines)
                return False
            self.other_errors += 1
            return True
        if event == "error" or record.levelno >= logging.ERROR:
            text = record.getMessage()
            if any(s in text for s in _EXIT_130):
                return False  # the RuleException of a job that handled SIGINT (its job_error record follows)
            if _FINAL_ERROR in text and self.jobs and not self.other_errors:
                return False
        return True

    def summary(self) -> list[str]:
        """The lines ``onerror`` prints after an interrupt; empty when there was none (or no job stopped)."""
        self._settle()
        if not self.interrupted.is_set() or not self.jobs:
            return []
        head = "sisr-bench: interrupted by the user; rerun the same command to resume"
        if self.other_errors:
            head += " (the errors above are jobs that failed, not interrupted)"
        return [f"\n{head}:"] + [f"  {describe(log, line)}" for log, line in self.jobs.items()]


def interrupted_runs(logs_dir: str | Path, since: float) -> list[str]:
    """What ``onerror`` prints when no Ctrl-C was seen: the jobs whose log (under ``logs_dir``, written since
    ``since``, a ``time.time()``) says they were interrupted (SIGTERM, a job killed on its own), and how to go on."""
    lines = []
    for log in sorted(Path(logs_dir).glob("**/*.log")):
        if log.stat().st_mtime >= since:
            line = interrupted_line(log)
            if line:
                lines.append(f"  {line}")
    if not lines:
        return []
    return ["\nsisr-bench: interrupted. Rerun the same command to continue; training runs resume from the "
            "checkpoint they saved (the errors above are how Snakemake reports an interruption; if the rerun says "
            "the directory cannot be locked, Snakemake was killed: run it once with --unlock first):", *lines]


def install() -> InterruptFilter:
    """Add the filter to Snakemake's logger and note SIGINT (chained to the handler already there).

    Only in the main thread and only where SIGINT has a Python handler (Snakemake's process: a KeyboardInterrupt
    stops the scheduler); where SIGINT is ignored or left to the default, nothing changes.
    """
    filt = InterruptFilter()
    logger = logging.getLogger(SNAKEMAKE_LOGGER)
    for old in [f for f in logger.filters if isinstance(f, InterruptFilter)]:  # the Snakefile parsed twice
        logger.removeFilter(old)
    logger.addFilter(filt)
    if threading.current_thread() is threading.main_thread():
        previous = signal.getsignal(signal.SIGINT)
        if callable(previous):
            if isinstance(previous, _Chained):
                previous = previous.previous

            signal.signal(signal.SIGINT, _Chained(filt.interrupted, previous))
    return filt


@dataclass(frozen=True)
class _Chained:
    """A SIGINT handler that sets a flag, then does what the handler before it did."""

    flag: threading.Event
    previous: Any

    def __call__(self, signum: int, frame: Any) -> None:
        self.flag.set()
        self.previous(signum, frame)
