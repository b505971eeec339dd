"""The HTML report as a reader sees it: rendered by headless Chromium, not only grepped.

Takes the `ci` tier of every study and its `snakemake --report` from the session fixture ``ci_tier``
(tests/conftest.py; one run shared with tests/test_workflow.py, from the repository's root, where the default
profile passes the report's stylesheet), opens the report in headless Chromium (Debian's `chromium` package;
`.ci/run` installs it when missing) and checks that the rendered page shows the claims-audit table with coloured
verdicts and a figure, a menu of short names with the overview and the leaderboard apart from the studies, and, at
1400 px, the widest table (residual_sweep's table_deep) readable beside the menu: inside the window, or scrolling in
its own box. The screenshots are kept as CI artifacts: results/ci/report_screenshot.png (the front page, linked from
the README) and report_table_screenshot.png.
"""

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOT = ROOT / "results" / "ci" / "report_screenshot.png"
TABLE_SCREENSHOT = ROOT / "results" / "ci" / "report_table_screenshot.png"
WIDE_TABLE = "residual_sweep_table_deep.html"

# Appended to the copies of the report that are screenshot: Snakemake's menu animates every change of its style
# (Tailwind's transition-all), and a loaded machine took screenshots halfway (a pale menu, half its width).
NO_TRANSITIONS = "<style>* { transition: none !important; }</style>\n"

# Appended to a copy of the report: opens WIDE_TABLE as a reader does (its study in the menu, then the result's
# view button, which calls the app's setView with the result's data URI), then writes the layout as JSON into
# <pre id="measure"> (the frame's tables are read through contentDocument: Chromium runs with web security off),
# and scrolls the frame to the widest table.
OPEN_AND_MEASURE = NO_TRANSITIONS + """<script>
window.addEventListener("load", function () {
  setTimeout(function () {
    for (var cat in categories) for (var sub in categories[cat]) categories[cat][sub].forEach(function (path) {
      if (path.endsWith("/" + "%s")) app.setView({navbarMode: "subcategory", category: cat, subcategory: sub,
        content: "html", contentPath: results[path].data_uri, resultPath: path});
    });
  }, 200);
  setTimeout(function () {
    var nav = document.querySelector("#app nav"), frame = document.querySelector("iframe");
    var out = {width: window.innerWidth, nav: nav.getBoundingClientRect().width, menu: nav.innerText};
    if (frame) {
      var doc = frame.contentDocument;
      out.frame = frame.getBoundingClientRect().toJSON();
      out.client = doc.documentElement.clientWidth;
      out.tables = Array.from(doc.querySelectorAll("table")).map(function (t) {
        var box = t.parentElement;
        return {right: t.getBoundingClientRect().right, width: t.scrollWidth,
                box_right: box.getBoundingClientRect().right, box_overflow: getComputedStyle(box).overflowX};
      });
      var widest = Array.from(doc.querySelectorAll("table")).sort(function (a, b) {
        return b.scrollWidth - a.scrollWidth; })[0];
      if (widest) (widest.parentElement.previousElementSibling || widest).scrollIntoView();  // for the screenshot
    }
    var pre = document.createElement("pre"); pre.id = "measure"; pre.textContent = JSON.stringify(out);
    document.body.appendChild(pre);
  }, 1500);
});
</script>
""" % WIDE_TABLE


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
    assert "Audit: study" in page  # every study's audit (REPORT.md) on the front page
    verdicts = re.findall(r'<td class="verdict (verdict-\w+)">([^<]*)</td>', page)
    assert verdicts, "no verdict cells in the rendered claims table"
    assert {c for c, _ in verdicts} <= {"verdict-good", "verdict-bad", "verdict-none", "verdict-other",
                                        "verdict-indicative"}
    assert any(text.strip().startswith("quoted") for _, text in verdicts)  # espcn quotes A+ (30.28 dB)
    assert re.search(r'<img class="sisr-figure"[^>]*src="data:image/png;base64,', page), "no figure on the page"
    assert "System Message" not in page  # no reStructuredText warnings (e.g. duplicate link targets)

    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    front = with_appended(report, tmp_path / "report_front.html", NO_TRANSITIONS)
    shot = run_chromium(exe, tmp_path / "profile-shot", f"--screenshot={SCREENSHOT}", "--window-size=1400,1800",
                        "--hide-scrollbars", front.as_uri())
    assert shot.returncode == 0 and SCREENSHOT.stat().st_size > 20_000, shot.stderr[-3000:]

    # The menu: the overview and the leaderboard first, apart from the studies (Snakemake sorts by name)
    categories = json.loads(re.search(r"var categories = (\{.*?\});\n", html_text(report)).group(1))
    menu = sorted(categories, key=str.casefold)
    assert menu == ["Leaderboard (all studies)", "Overview (all studies)", "Study – espcn", "Study – inverted_unet",
                    "Study – residual_sweep", "Study – rrdb_gan", "Study – srresnet_edsr"]

    # The widest table beside the menu at 1400 px: the menu keeps a quarter of the window, items are named by
    # their labels (no paths), and every table ends inside the frame or scrolls in its own box.
    opened = with_appended(report, tmp_path / "report_table.html", OPEN_AND_MEASURE)
    dom = run_chromium(exe, tmp_path / "profile-measure", "--disable-web-security", "--disable-site-isolation-trials",
                       "--window-size=1400,1000", "--dump-dom", opened.as_uri())
    found = re.search(r'<pre id="measure">(.*?)</pre>', dom.stdout)
    assert dom.returncode == 0 and found, dom.stderr[-3000:]
    layout = json.loads(html.unescape(found.group(1)))
    assert layout["width"] == 1400 and layout.get("frame"), layout
    assert "table_deep" in layout["menu"] and "results/" not in layout["menu"] and ".html" not in layout["menu"]
    assert layout["nav"] <= 0.26 * layout["width"], f"the menu takes {layout['nav']:.0f} of {layout['width']} px"
    assert layout["frame"]["right"] <= layout["width"] + 1
    assert max(t["width"] for t in layout["tables"]) > 0.6 * layout["client"], "not the wide table"
    for table in layout["tables"]:
        fits = table["right"] <= layout["client"] + 1
        scrolls = table["box_overflow"] in ("auto", "scroll") and table["box_right"] <= layout["client"] + 1
        assert fits or scrolls, (table, layout["client"])
    shot = run_chromium(exe, tmp_path / "profile-table", "--disable-web-security", "--disable-site-isolation-trials",
                        f"--screenshot={TABLE_SCREENSHOT}", "--window-size=1400,1000", opened.as_uri())
    assert shot.returncode == 0 and TABLE_SCREENSHOT.stat().st_size > 20_000, shot.stderr[-3000:]


def html_text(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace")


def with_appended(report: Path, copy: Path, html_code: str) -> Path:
    """A copy of the report with ``html_code`` at the end of its body."""
    text = html_text(report)
    end = text.rindex("</body>")
    copy.write_text(text[:end] + html_code + text[end:], encoding="utf-8")
    return copy
