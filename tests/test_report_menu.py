"""The menu of `snakemake --report`: items named by their labels, not their paths; the overview and the
leaderboard in categories of their own, before the studies; the report's stylesheet found by the default profile.

Read from the parsed workflow (every rule's `report(...)` flags), so no job runs; the browser test
(tests/test_report_browser.py) checks the rendered report.
"""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]

# Prints {output pattern: {rule, category, subcategory, labels}} of every output flagged report(...).
REPORT_FLAGS = """
import json, sys
from pathlib import Path
from snakemake.api import SnakemakeApi
from snakemake.io import get_flag_value, is_flagged
from snakemake.settings.types import ConfigSettings, OutputSettings, ResourceSettings
root, workdir = Path(sys.argv[1]), Path(sys.argv[2])
config = ConfigSettings(configfiles=[root / "config.yaml"], config={"studies_dir": str(root / "studies"), "studies": "all"})
flags = {}
with SnakemakeApi(OutputSettings()) as api:
    workflow = api.workflow(resource_settings=ResourceSettings(cores=1), config_settings=config,
                            snakefile=root / "Snakefile", workdir=workdir)._workflow
    for rule in workflow.rules:
        for f in rule.output:
            if is_flagged(f, "report"):
                r = get_flag_value(f, "report")
                flags[str(f)] = {"rule": rule.name, "category": r.category, "subcategory": r.subcategory,
                                 "labels": r.labels}
print("REPORT_FLAGS " + json.dumps(flags))
"""


@pytest.fixture(scope="module")
def report_flags(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("parse")
    res = subprocess.run([sys.executable, "-c", REPORT_FLAGS, str(ROOT), str(workdir)], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    line = next((ln for ln in res.stdout.splitlines() if ln.startswith("REPORT_FLAGS ")), None)
    assert res.returncode == 0 and line, res.stdout[-3000:] + res.stderr[-3000:]
    return json.loads(line.removeprefix("REPORT_FLAGS "))


def test_report_items_are_named_by_short_labels_not_paths(report_flags):
    rules = {flag["rule"] for flag in report_flags.values()}
    assert rules == {"figure", "table_html", "claims_html", "leaderboard", "leaderboard_html", "overview"}
    for path, flag in report_flags.items():
        labels = flag["labels"]
        # without labels Snakemake's menu names an item by its whole path (results/<tier>/<study>/tables/...)
        assert labels and list(labels) == ["result", "study"], (path, labels)
        for value in labels.values():
            assert "/" not in value and "results" not in value and not re.search(r"\.(html|png|svg|pdf)", value), \
                (path, value)
    by_rule = {flag["rule"]: flag["labels"]["result"] for flag in report_flags.values()}
    assert by_rule["table_html"] == "{table}" and by_rule["figure"] == "{figure}"  # e.g. table_deep, fig5_comparison
    # the report's link targets are file names: each study's pages carry its name
    html = [Path(p).name for p in report_flags if p.endswith(".html")]
    assert "{study}_{table,[A-Za-z0-9_]+}.html" in html and "{study}_claims_audit.html" in html


def test_overview_and_leaderboard_come_apart_from_and_before_the_studies(report_flags):
    category = {flag["rule"]: flag["category"] for flag in report_flags.values()}
    study = category["table_html"]
    assert category["figure"] == category["claims_html"] == study and "{study}" in study
    assert category["leaderboard"] == category["leaderboard_html"]
    overview, board = category["overview"], category["leaderboard"]
    assert "all studies" in overview.lower() and "all studies" in board.lower()
    assert overview.lower().startswith("overview") and board.lower().startswith("leaderboard")
    # Snakemake lists categories sorted by name (JavaScript's localeCompare): both before every study
    names = [study.format(study=name) for name in ("aaa", "espcn", "zzz")]
    assert sorted([*names, overview, board], key=str.casefold)[:2] == sorted([overview, board], key=str.casefold)
    # Snakemake makes each category a reStructuredText link target, whose name ends at the first colon: two
    # "Study: x" would be one duplicate target (a warning in the report)
    assert not any(":" in c for c in category.values()), category


def test_default_profile_passes_the_report_stylesheet_from_the_repo_root(tmp_path):
    """Snakemake reads the stylesheet after moving into --directory: the profile gives an absolute path, and no
    stylesheet (Snakemake's own style) where Snakemake runs from elsewhere."""
    # yte: Snakemake's YAML templating, which reads profiles
    code = "import json, sys, yte; print(json.dumps(yte.process_yaml(open(sys.argv[1]), require_use_yte=True)))"
    profile = ROOT / "profiles" / "default" / "config.yaml"
    here = json.loads(subprocess.run([sys.executable, "-c", code, str(profile)], cwd=ROOT, capture_output=True,
                                     text=True, check=True).stdout)
    css = Path(here["report-stylesheet"])
    assert css.is_absolute() and css == ROOT / "report" / "report.css" and css.is_file()
    assert here["rerun-incomplete"] is True
    elsewhere = json.loads(subprocess.run([sys.executable, "-c", code, str(profile)], cwd=tmp_path,
                                          capture_output=True, text=True, check=True).stdout)
    assert elsewhere["report-stylesheet"] is None
    assert yaml.safe_load(profile.read_text())["__use_yte__"] is True
    # the stylesheet addresses Snakemake's menu only while it is as wide as its content (min-w-fit)
    assert "nav.min-w-fit" in css.read_text()
