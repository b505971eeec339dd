# Setup: every side effect of parsing the workflow, in one place (rules/common.smk holds input functions, paths and
# the jobs' records only). Included after rules/common.smk: it reads CFG.
#
# - sys.path: the library, also without `pip install -e .`: the Snakefile puts it there before anything imports it
# - SISR_WORKFLOW_DIR: under `--sdm conda`, envs/sisr.yaml installs this checkout from here (`conda env create`
#   inherits the variable; it is set by the workflow, not asked of the user, hence no `envvars:`)
# - SISR_PROGRESS_EVERY_S, SISR_TENSORBOARD: the jobs' logging-only settings (sisr.config.job_settings). Environment, not
#   params: a changed param reruns its jobs, and how often a job prints changes no result. Every job process
#   inherits them (a cluster job parses the workflow again and sets them itself).
# - Ctrl-C (sisr.workflow.interrupt): Snakemake's reports of jobs that stopped cleanly give way to one message; the
#   onsuccess/onerror messages (print_outputs, print_interrupted_runs; the Snakefile installs them).

import os
import time
from pathlib import Path

os.environ.update(SISR_WORKFLOW_DIR=str(Path(workflow.basedir).resolve()))

from sisr.workflow import finish, interrupt
from sisr.config.job_settings import export_logging_settings

export_logging_settings(CFG)
STARTED = time.time()
INTERRUPT = interrupt.install()


def print_outputs():
    """What this run built or found up to date (the jobs of its DAG), never the outputs of jobs it did not run."""
    dag = workflow.dag
    produced = {str(f) for job in dag.jobs for f in job.output}
    requested = sorted(str(f) for f in dag.targetfiles) or sorted(str(f) for job in dag.targetjobs for f in job.output)
    targets = {name: study_targets(name) for name in STUDIES}
    print("\n".join(finish.finish_lines(targets, CFG["tier"], P.results, produced, requested)))


def print_interrupted_runs():
    """After a failed run: name the jobs of this run that were interrupted (Ctrl-C, SIGTERM), saying how to go on."""
    lines = INTERRUPT.summary() or interrupt.interrupted_runs(TIER_LOGS, since=STARTED)
    if lines:
        print("\n".join(lines))
