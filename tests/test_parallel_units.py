"""`.ci/run` runs the suite on pytest-xdist workers with tests/conftest.py's scheduler: a test file (and the two files
that share the `ci_tier` fixture together) is one unit of work, run by one worker, so its module and session
fixtures are built once. pytest-xdist's own groups (`xdist_group` marks) did nothing under pytest 9.2, and every test
went out on its own: this runs an inner parallel pytest on made-up test files with the project's hooks."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

HOOKS = f'''import importlib.util, sys
sys.path.insert(0, {str(ROOT / "tests")!r})
spec = importlib.util.spec_from_file_location("project_conftest", {str(ROOT / "tests" / "conftest.py")!r})
project = importlib.util.module_from_spec(spec)
spec.loader.exec_module(project)
pytest_collection_modifyitems = project.pytest_collection_modifyitems
pytest_xdist_make_scheduler = project.pytest_xdist_make_scheduler
'''

TESTS = '''import json, os, pytest
from pathlib import Path

@pytest.mark.parametrize("i", range(4))
def test_where(i):
    with open(Path(__file__).with_suffix(".log"), "a") as fh:
        fh.write(json.dumps(os.environ["PYTEST_XDIST_WORKER"]) + "\\n")
'''


def test_the_tests_of_one_file_run_on_one_worker(tmp_path):
    (tmp_path / "conftest.py").write_text(HOOKS)
    files = ["test_alpha.py", "test_beta.py", "test_workflow.py", "test_report_browser.py"]
    for name in files:
        (tmp_path / name).write_text(TESTS)
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2", "--dist",
                          "loadgroup", str(tmp_path)], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    workers = {name: [json.loads(line) for line in (tmp_path / name).with_suffix(".log").read_text().splitlines()]
               for name in files}
    assert all(len(w) == 4 and len(set(w)) == 1 for w in workers.values()), workers  # one worker per file
    assert workers["test_workflow.py"][0] == workers["test_report_browser.py"][0]  # the shared ci_tier unit
    assert len({w[0] for w in workers.values()}) == 2, workers  # and both workers had work
