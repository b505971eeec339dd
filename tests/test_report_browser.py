"""The HTML report as a reader sees it: rendered by headless Chromium, not only grepped.

Takes the `ci` tier of every study and its `snakemake --report` from the session fixture ``ci_tier``
(tests/conftest.py; one run shared with tests/test_workflow.py), opens the report in headless Chromium
(Debian's `chromium` package; `.ci/run` installs it when missing) and checks that the rendered page shows the
claims-audit table with coloured verdicts and a figure. The screenshot is kept as a CI artifact:
results/ci/report_screenshot.png (linked from the README).
"""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOT = ROOT / "results" / "ci" / "report_screenshot.png"


@pytest.fixture(scope="session")
def chromium() -> str:
    """The Chromium executable; the test skips (before the ci tier runs) where there is none."""
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("no Chromium on this machine (Debian: apt-get install chromium; .ci/run installs it when it can)")


def run_chromium(exe: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--virtual-time-budget=10000"]
    return subprocess.run([exe, *flags, *args], capture_output=True, text=True, timeout=180)


@pytest.mark.slow
def test_report_renders_claims_table_and_a_figure_in_chromium(tmp_path, chromium, ci_tier):
    exe = chromium
    for res in (ci_tier.run, ci_tier.report_run):  # the ci tier of every study, then `snakemake --report`
        assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-4000:]
    report = ci_tier.report

    dom = run_chromium(exe, tmp_path / "profile-dom", "--dump-dom", report.as_uri())
    assert dom.returncode == 0 and "<html" in dom.stdout, dom.stderr[-3000:]
    page = dom.stdout
    # React rendered the app (the no-JavaScript warning is gone) and the front page shows the results first:
    assert 'class="sisr-overview"' in page, "the results overview is not on the report's front page"
    assert "Claims audit: study" in page
    verdicts = re.findall(r'<td class="verdict (verdict-\w+)">([^<]*)</td>', page)
    assert verdicts, "no verdict cells in the rendered claims table"
    assert {c for c, _ in verdicts} <= {"verdict-good", "verdict-bad", "verdict-none", "verdict-other"}
    assert any(text.strip().startswith("quoted") for _, text in verdicts)  # espcn quotes A+ (30.28 dB)
    assert re.search(r'<img class="sisr-figure"[^>]*src="data:image/png;base64,', page), "no figure on the page"
    assert "System Message" not in page  # no reStructuredText warnings (e.g. duplicate link targets)

    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    shot = run_chromium(exe, tmp_path / "profile-shot", f"--screenshot={SCREENSHOT}", "--window-size=1400,1800",
                        "--hide-scrollbars", report.as_uri())
    assert shot.returncode == 0 and SCREENSHOT.stat().st_size > 20_000, shot.stderr[-3000:]
