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


# Parallel runs (`.ci/run` passes `-n auto --dist loadgroup` to pytest-xdist): every test file is one group, run by one
# worker, so its module fixtures are built once; the two files that share the `ci_tier` session fixture are one group.
# The longest groups go first (seconds measured on the 2-core machine, docs/BENCHMARKS.md "The test command"), so that
# no long file starts last and ends the run alone; the others keep their order.
SHARED_GROUPS = {"test_workflow.py": "ci_tier", "test_report_browser.py": "ci_tier"}
LONGEST_FIRST = ["test_rehearsal.py", "ci_tier", "test_slurm.py", "test_faults_workflow.py", "test_faults.py",
                 "test_faults_data.py", "test_user_messages.py", "test_workflow_degradations.py"]


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist turns the marks into its groups
def pytest_collection_modifyitems(config, items):
    def group(item):
        return SHARED_GROUPS.get(item.path.name, item.path.name)

    for item in items:
        item.add_marker(pytest.mark.xdist_group(group(item)))
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(group(item), len(rank)))  # stable: the rest keep their order
