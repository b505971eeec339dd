"""Markdown results as HTML pages for `snakemake --report` (sisr.report.html)."""

import re

import numpy as np
from PIL import Image

from sisr.report.html import (STYLE, markdown_to_html, verdict_class, verdict_counts, write_markdown_page,
                             write_overview)

CLAIMS = """# Claims audit: study `espcn`, tier `ci`

CI tier - tiny nets.

| Table | Dataset | Run | Metric | Claimed | Ours | Tolerance | Verdict |
|---|---|---|---|---|---|---|---|
| table1 | Set5 | ESPCN | PSNR | 30.57 | 25.10 | 0.3 | not reproduced |
| table1 | Set5 | Bicubic | PSNR | 28.42 | 28.43 | 0.3 | reproduced |
| table1 | Set5 | A+ | PSNR | 30.28 | 30.28 | 0.3 | quoted |
| table1 | Set5 | SRCNN | LPIPS | 0.2 | - | - | not measured |
| table1 | Set5 | SRCNN | SSIM | 0.86 | 0.80 | 0.01 | inconclusive |
| table1 | Set5 | ESPCN | SSIM | 0.78 | 0.80 | 0.01 | indicative, +0.02: tier ci: not the paper tier's training |

Totals: reproduced: 1, not reproduced: 1
"""

FINDINGS = """## Findings

| Finding | Document (its numbers) | Ours | Verdict |
|---|---|---|---|
| **a**: A beats B | a 2 > b 1 | a 3 > b 1 | holds |
| **b**: B beats C | b 2 > c 1 | b 1 > c 2 | reversed |
| **c**: C beats D | c 2 > d 1 | c 2 > d 2 | inconclusive |
| **d**: D beats E | d 2 > e 1 | d 3 > e 1 | indicative: holds (tier ci: not the paper tier's training) |

"""


def test_verdicts_are_coloured_by_what_they_say():
    assert verdict_class("reproduced") == "verdict-good"
    assert verdict_class(" Not reproduced ") == "verdict-bad"  # never read as "reproduced"
    assert verdict_class("not measured") == "verdict-none"
    assert verdict_class("quoted") == "verdict-none"
    assert verdict_class("not comparable in this tier: claimed on Set5 x4") == "verdict-none"
    assert verdict_class("reproduced (protocol not stated)") == "verdict-good"
    assert verdict_class("inconclusive") == "verdict-other"
    assert verdict_class("reversed") == "verdict-bad"
    # an indicative comparison is never coloured like a verdict, whatever words follow
    assert verdict_class("indicative, -0.30: tier quick: not the paper tier's training") == "verdict-indicative"
    assert verdict_class("indicative: holds (tier quick)") == "verdict-indicative"


def test_verdict_counts():
    assert verdict_counts(CLAIMS) == {"good": 1, "bad": 1, "indicative": 1, "none": 2, "other": 1}
    assert verdict_counts("| a | b |\n|---|---|\n| 1 | 2 |") == {"good": 0, "bad": 0, "indicative": 0, "none": 0,
                                                                  "other": 0}
    # findings and claims are counted apart
    both = FINDINGS + CLAIMS
    assert verdict_counts(both, "findings") == {"good": 1, "bad": 1, "indicative": 1, "none": 0, "other": 1}
    assert verdict_counts(both, "claims") == verdict_counts(CLAIMS)


def test_claims_markdown_becomes_a_table_with_coloured_verdicts():
    body = markdown_to_html(CLAIMS)
    assert "<h1>Claims audit: study <code>espcn</code>, tier <code>ci</code></h1>" in body
    assert body.count("<tr>") == 7  # header + 6 rows
    cells = re.findall(r'<td class="verdict (verdict-\w+)">([^<]*)</td>', body)
    assert cells == [("verdict-bad", "not reproduced"), ("verdict-good", "reproduced"), ("verdict-none", "quoted"),
                     ("verdict-none", "not measured"), ("verdict-other", "inconclusive"),
                     ("verdict-indicative", "indicative, +0.02: tier ci: not the paper tier&#x27;s training")]
    assert "<p>Totals: reproduced: 1, not reproduced: 1</p>" in body
    assert "<h3>" in markdown_to_html(CLAIMS, heading_offset=2)


def test_markup_is_escaped_and_inline_formatting_kept():
    body = markdown_to_html("**Set5** <b>x</b> *published* `a<b`\n\n- one\n- two")
    assert "<strong>Set5</strong> &lt;b&gt;x&lt;/b&gt; <em>published</em> <code>a&lt;b</code>" in body
    assert "<ul><li>one</li><li>two</li></ul>" in body


def test_markdown_page_and_overview_files(tmp_path):
    md = tmp_path / "REPORT.md"
    md.write_text(CLAIMS.replace("CI tier - tiny nets.\n", "CI tier - tiny nets.\n\n" + FINDINGS))
    page = tmp_path / "espcn_claims_audit.html"
    write_markdown_page(md, page)
    text = page.read_text()
    assert text.startswith("<!DOCTYPE html>") and "<title>Claims audit: study espcn, tier ci</title>" in text
    png = tmp_path / "psnr_vs_cost.png"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(png)
    write_overview(claims={"espcn": md}, figure=png, tier="ci", out_page=tmp_path / "overview.html",
                   out_fragment=tmp_path / "overview.fragment.html")
    fragment = (tmp_path / "overview.fragment.html").read_text()
    assert fragment.startswith('<div class="sisr-overview">')
    assert '<img class="sisr-figure"' in fragment and "data:image/png;base64," in fragment
    assert "<h3>Claims audit: study <code>espcn</code>" in fragment
    # the verdict count per study comes first, coloured like the verdicts
    summary = fragment.split('<table class="sisr-summary">')[1].split("</table>")[0]
    # findings: hold, reversed, inconclusive, indicative; claims: reproduced, not reproduced, indicative, none
    assert re.findall(r'<td class="count[^"]*">(\d+)</td>', summary) == ["1", "1", "1", "1", "1", "1", "1", "2"]
    body = fragment.split("</style>")[1]
    assert body.index("sisr-summary") < body.index("sisr-figure") < body.index("Claims audit: study")
    # the fragment's style applies only inside the overview or to the containers that hold it (it sits in the
    # report's own page)
    style = fragment.split("<style>")[1].split("</style>")[0]
    selectors = [s.strip() for block in re.findall(r"([^{}]+)\{", style) for s in block.split(",")]
    assert selectors and all(s.startswith(".sisr-overview") or ":has(.sisr-overview)" in s for s in selectors), \
        selectors


def test_wide_tables_scroll_in_their_own_box_and_headings_break_after_underscores():
    """A table wider than the report's frame scrolls sideways by itself (not the whole page), long cells wrap,
    and headings such as ``train_seconds`` may break after the underscore; a value of one word never breaks (a
    browser breaks ``1e-06`` at its hyphen in a narrow column)."""
    body = markdown_to_html("| Run | eta_min | train_seconds | Note |\n|---|---|---|---|\n"
                            "| plain_b1_c8 | 1e-06 | 6.5 | the second training of this run |")
    assert body.startswith('<div class="table-scroll"><table>') and body.endswith("</table></div>")
    assert "<th>eta_<wbr>min</th><th>train_<wbr>seconds</th>" in body
    assert ('<td class="nowrap">plain_b1_c8</td><td class="nowrap">1e-06</td><td class="nowrap">6.5</td>'
            "<td>the second training of this run</td>") in body
    rules = dict(re.findall(r"^([^{\n]+?)\s*\{([^}]*)\}", STYLE, re.M))
    assert "overflow-x: auto" in rules["div.table-scroll"]
    assert "max-width" in rules["td"] and "overflow-wrap: break-word" in rules["td"]
    assert "white-space: nowrap" in rules["td.nowrap"]
