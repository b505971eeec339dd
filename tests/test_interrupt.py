"""Ctrl-C under Snakemake: which of Snakemake's failure reports give way to one clean message (sisr.workflow.interrupt).

The end-to-end case (SIGINT to the process group of a real run, then the rerun resumes) is
tests/test_faults_workflow.py::test_killing_snakemake_leaves_no_training_orphan_and_a_whole_checkpoint[SIGINT].
"""

from __future__ import annotations

import logging
import signal

import pytest

from sisr.workflow import interrupt

TRAIN_LINE = ("espcn/espcn interrupted by signal 2: saved results/ci/espcn/espcn/checkpoint_last.pt at epoch 5, "
              "batch 3; exiting with code 130; rerun the same command to resume from there")


def _record(msg: str, level: int = logging.ERROR, **extra) -> logging.LogRecord:
    record = logging.LogRecord("snakemake.logging", level, __file__, 1, msg, None, None)
    record.__dict__.update(extra)
    return record


def _logs(tmp_path):
    train = tmp_path / "logs/ci/train/espcn/espcn.log"
    failed = tmp_path / "logs/ci/evaluate/espcn/srcnn.log"
    for path, text in ((train, f"espcn/espcn epoch 4/40 ...\n{TRAIN_LINE}\n"),
                       (failed, "Traceback (most recent call last):\nValueError: boom\n")):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return train, failed


def _reports(log):
    """What Snakemake 9 logs for a job that exited with 130, in its order."""
    return [
        _record("CalledProcessError in file rules/train.smk, line 33:\nCommand 'set -euo pipefail; python x.py' "
                "returned non-zero exit status 130.", event="error", exception="RuleException"),
        _record("Error in rule train, jobid: 0", event="job_error", rule_name="train", log=[str(log)]),
    ]


FINAL = _record("At least one job did not complete successfully.", event="error", exception="WorkflowError")


def test_without_sigint_to_snakemake_every_report_stays(tmp_path):
    """A job stopped by a SIGINT of its own: its reports are held while Snakemake's flag might still come, then
    logged, in their order, before the run's final error."""
    train, failed = _logs(tmp_path)
    emitted = []
    filt = interrupt.InterruptFilter(emit=emitted.append)
    reports = _reports(train)
    assert not any(filt.filter(r) for r in reports) and emitted == []
    other = _record("Error in rule evaluate, jobid: 2", event="job_error", log=[str(failed)])
    assert filt.filter(other)  # not a SIGINT stop: logged at once
    assert filt.filter(FINAL) and emitted == reports
    assert all(filt.filter(r) for r in emitted)  # passed on when logged again
    assert filt.summary() == [] and emitted == reports


@pytest.mark.fault
def test_the_sigint_flag_set_after_the_jobs_report_still_gives_the_clean_message(tmp_path):
    """The race seen under load: the job thread reports the trainer's exit 130 before Snakemake's main thread has
    run its SIGINT handler (which sets the flag)."""
    train, _ = _logs(tmp_path)
    emitted = []
    filt = interrupt.InterruptFilter(emit=emitted.append)
    assert not any(filt.filter(r) for r in _reports(train))  # the flag is not set yet
    filt.interrupted.set()  # the main thread gets the CPU
    assert not filt.filter(FINAL) and emitted == []
    assert filt.summary() == [
        "\nsisr-bench: interrupted by the user; rerun the same command to resume:",
        "  train espcn/espcn: saved its checkpoint (results/ci/espcn/espcn/checkpoint_last.pt) in epoch 5 after "
        "batch 3",
    ]


def test_a_job_stopped_by_sigterm_is_never_held(tmp_path):
    log = tmp_path / "logs/ci/train/espcn/espcn.log"
    log.parent.mkdir(parents=True)
    log.write_text(TRAIN_LINE.replace("signal 2", "signal 15").replace("code 130", "code 143") + "\n")
    filt = interrupt.InterruptFilter(emit=pytest.fail)
    assert filt.filter(_record("Error in rule train, jobid: 0", event="job_error", log=[str(log)]))


def test_after_ctrl_c_a_clean_stop_gives_one_message_instead_of_errors(tmp_path):
    train, _ = _logs(tmp_path)
    filt = interrupt.InterruptFilter()
    filt.interrupted.set()
    info = _record("Terminating processes on user request, this might take some time.", logging.INFO)
    assert filt.filter(info)
    assert not any(filt.filter(r) for r in [*_reports(train), FINAL])
    assert filt.summary() == [
        "\nsisr-bench: interrupted by the user; rerun the same command to resume:",
        "  train espcn/espcn: saved its checkpoint (results/ci/espcn/espcn/checkpoint_last.pt) in epoch 5 after "
        "batch 3",
    ]


def test_after_ctrl_c_a_job_that_really_failed_keeps_its_error_and_the_final_one(tmp_path):
    train, failed = _logs(tmp_path)
    filt = interrupt.InterruptFilter()
    filt.interrupted.set()
    assert not any(filt.filter(r) for r in _reports(train))
    assert filt.filter(_record("RuleException:\nValueError in file x, line 3: boom", event="error"))
    assert filt.filter(_record("Error in rule evaluate, jobid: 2", event="job_error", log=[str(failed)]))
    assert filt.filter(FINAL)
    summary = filt.summary()
    assert "(the errors above are jobs that failed, not interrupted)" in summary[0]
    assert "train espcn/espcn: saved its checkpoint" in summary[1]


@pytest.mark.parametrize(("line", "expected"), [
    (TRAIN_LINE, "train espcn/espcn: saved its checkpoint (results/ci/espcn/espcn/checkpoint_last.pt) in epoch 5 "
                 "after batch 3"),
    ("espcn/espcn interrupted by signal 2: saved r/checkpoint_last.pt after epoch 4; exiting with code 130",
     "train espcn/espcn: saved its checkpoint (r/checkpoint_last.pt) after epoch 4"),
    ("espcn/bicubic interrupted (Ctrl-C); rerun the same command to continue", "train espcn/espcn: stopped; the "
                                                                              "rerun starts it again"),
])
def test_describe_names_the_job_and_its_checkpoint(line, expected):
    assert interrupt.describe("logs/ci/train/espcn/espcn.log", line) == expected


def test_interrupted_line_is_the_last_line_only_when_it_says_so(tmp_path):
    log = tmp_path / "a.log"
    assert interrupt.interrupted_line(log) is None  # no log yet
    log.write_text(f"{TRAIN_LINE}\nepoch 6/40 ...\n")
    assert interrupt.interrupted_line(log) is None  # interrupted once, then resumed
    log.write_text(f"epoch 6/40 ...\n{TRAIN_LINE}\n")
    assert interrupt.interrupted_line(log) == TRAIN_LINE


def test_install_chains_sigint_to_the_handler_before_it_and_filters_snakemakes_logger():
    seen = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: seen.append(signum))
    logger = logging.getLogger(interrupt.SNAKEMAKE_LOGGER)
    try:
        first = interrupt.install()
        filt = interrupt.install()  # the Snakefile parsed a second time: one filter, one chained handler
        assert filt in logger.filters and first not in logger.filters
        signal.raise_signal(signal.SIGINT)
        assert seen == [signal.SIGINT] and filt.interrupted.is_set() and not first.interrupted.is_set()
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a process that ignores SIGINT keeps ignoring it
        interrupt.install()
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)
        for f in [f for f in logger.filters if isinstance(f, interrupt.InterruptFilter)]:
            logger.removeFilter(f)


@pytest.mark.fault
def test_a_test_snakemake_gets_sigint_even_from_a_runner_that_ignores_it():
    """Found when the suite ran in the background (bash `&`, as a CI harness may start it): SIGINT ignored by the
    runner is ignored by every child, so the Ctrl-C test's Snakemake never saw its SIGINT and that test failed."""
    import subprocess
    import sys

    from helpers.workflow import popen_like_a_terminal

    child = [sys.executable, "-c", "import signal; print(signal.getsignal(signal.SIGINT) is signal.default_int_handler)"]
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        plain = subprocess.run(child, capture_output=True, text=True, check=True).stdout.strip()
        proc = popen_like_a_terminal(child, stdout=subprocess.PIPE, text=True)
        ours = proc.communicate(timeout=60)[0].strip()
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN  # the runner's own setting is back
    finally:
        signal.signal(signal.SIGINT, previous)
    assert plain == "False" and ours == "True"
