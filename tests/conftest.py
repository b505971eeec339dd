"""Fixtures shared by several test files (helper functions and classes: tests/helpers/)."""


from types import SimpleNamespace

import pytest
import torch

from helpers.workflow import ROOT, STUDIES_DIR, run_snakemake, write_config


@pytest.fixture
def one_torch_thread():
    """One torch thread (use: ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``): CI and the development
    machine have two shared cores, and spinning OpenMP threads beside BLAS cost more than they give."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def ci_tier(tmp_path_factory):
    """The `ci` tier of every study (figures as PNG) run once with ``--cores 2``, then ``snakemake --report``:
    shared by tests/test_workflow.py and tests/test_report_browser.py, which assert on ``run`` and ``report_run``
    themselves. ``dir`` (the workflow folder), ``config`` (its config file), ``report`` (report.html)."""
    folder = tmp_path_factory.mktemp("ci_tier")
    config = write_config(folder / "ci.yaml", {"tier": "ci", "studies": "all", "studies_dir": str(STUDIES_DIR),
                                               "figures": ["png"]})
    # from the repository's root, where the default profile passes the report's stylesheet (report/report.css)
    run = run_snakemake(directory=folder, cores=2, configfiles=[config], timeout=1800, cwd=ROOT)
    report = folder / "report.html"
    report_run = run_snakemake("--report", report, directory=folder, cores=1, configfiles=[config], timeout=600,
                               cwd=ROOT)
    return SimpleNamespace(dir=folder, config=config, run=run, report=report, report_run=report_run)


# Parallel runs (`.ci/run` passes `-n auto --dist loadgroup` to pytest-xdist): every test file is one unit of work, run
# by one worker, so its module fixtures are built once; the two files that share the `ci_tier` session fixture are one
# unit. The units are made by the scheduler below (pytest_xdist_make_scheduler), by file name: pytest-xdist's own
# groups (`xdist_group` marks, which it appends to the node ids) do nothing under pytest 9.2, whose node ids no longer
# take the suffix, so until 2026-12-07 every test went out on its own and the module fixtures of a file split between
# the workers were built twice (the golden values' 28 s fixture on both). The longest units go first (seconds measured
# on the 2-core machine, docs/BENCHMARKS.md "The test command"), so that no long file starts last and ends the run
# alone; the others keep their order. The longest unit's slow test (the quick-tier rehearsal) runs first in it: a
# worker is given its next unit once two tests or fewer are left in its current one, so with the unit's two dry runs
# still waiting behind it no other unit queues up behind the longest test.
SHARED_GROUPS = {"test_workflow.py": "ci_tier", "test_report_browser.py": "ci_tier"}
LONGEST_FIRST = ["test_rehearsal.py", "ci_tier", "test_slurm.py", "test_faults_workflow.py", "test_faults.py",
                 "test_faults_data.py", "test_user_messages.py", "test_workflow_degradations.py"]


def unit_of(file_name: str) -> str:
    """The unit of work (a test file, or the shared group) of a test in ``file_name``."""
    return SHARED_GROUPS.get(file_name, file_name)


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}

    def order(item):
        unit = unit_of(item.path.name)
        return rank.get(unit, len(rank)), unit != LONGEST_FIRST[0] or item.get_closest_marker("slow") is None

    items.sort(key=order)  # stable: the rest keep their order


def pytest_xdist_make_scheduler(config, log):
    """pytest-xdist's scope scheduling with a test file (or a shared group) as the scope, in collection order."""
    from xdist.scheduler import LoadScopeScheduling  # deferred: pytest-xdist is there only in parallel runs

    class ByFile(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return unit_of(nodeid.split("::", 1)[0].rsplit("/", 1)[-1])

    config.option.loadscopereorder = False  # keep LONGEST_FIRST's order, not the most tests first
    return ByFile(config, log)
