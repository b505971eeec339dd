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
