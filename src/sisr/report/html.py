"""The workflow's Markdown results (study tables, the claims audit, the leaderboard) as HTML pages.

`snakemake --report` shows an HTML result inside the report page (a CSV or Markdown file only as a download), so
every table is also written as a small self-contained HTML page. Only the Markdown that our own writers produce
is understood: ``#`` headings, paragraphs, ``- `` lists, pipe tables, ``**bold**``, ``*italic*`` and
```code```. In a table column headed "Verdict", each cell is coloured by what it says (reproduced, holds: green;
not reproduced, reversed: red; indicative: blue, never a verdict's colour; inconclusive: amber; not comparable,
not measured, quoted: grey). Wide tables stay readable in the report's frame: each table scrolls sideways in
its own box, long cells wrap (a cell of one word never does), and column headings may break after an underscore
(``epochs_run``).
"""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

from sisr.base.io import atomic_write

# Verdict words -> CSS class, checked in this order (so "not reproduced" is never read as "reproduced").
VERDICT_CLASSES = (
    (("indicative",), "indicative"),
    (("not reproduced", "reversed", "contradicted", "does not hold", "refuted", "fails", "failed"), "bad"),
    (("not measured", "not run", "not checked", "quoted", "n/a", "no tolerance", "untested", "not comparable",
      "no verdict"), "none"),
    (("reproduced", "holds", "confirmed", "consistent", "supported"), "good"),
)

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; font-size: 14px; color: #1f2328;
       margin: 16px; line-height: 1.45; }
h1 { font-size: 20px; } h2 { font-size: 17px; } h3 { font-size: 15px; }
div.table-scroll { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; margin: 8px 0 16px; }
th, td { border: 1px solid #d0d7de; padding: 3px 6px; text-align: left; vertical-align: top; }
td { max-width: 36em; overflow-wrap: break-word; }
td.nowrap { white-space: nowrap; }
th { background: #f6f8fa; }
tr:nth-child(even) td { background: #fbfbfc; }
td.verdict { font-weight: 600; }
td.verdict-good { background: #dafbe1 !important; color: #116329; }
td.verdict-bad { background: #ffebe9 !important; color: #a40e26; }
td.verdict-none { background: #eaeef2 !important; color: #57606a; }
td.verdict-other { background: #fff8c5 !important; color: #7d4e00; }
td.verdict-indicative { background: #ddf4ff !important; color: #0a3069; font-weight: 400; }
code { background: #f6f8fa; padding: 0 3px; border-radius: 3px; }
"""


def verdict_class(text: str) -> str:
    """CSS class of a verdict cell: ``verdict-good``, ``-bad``, ``-indicative``, ``-none`` or ``-other``."""
    low = text.strip().lower()
    for words, css in VERDICT_CLASSES:
        if any(low.startswith(w) for w in words):
            return f"verdict-{css}"
    return "verdict-other"


def _inline(text: str) -> str:
    """Escape ``text`` and render inline code, bold and italic."""
    parts = re.split(r"(`[^`]*`)", text)
    out = []
    for part in parts:
        if part.startswith("`") and part.endswith("`") and len(part) >= 2:
            out.append(f"<code>{html.escape(part[1:-1])}</code>")
            continue
        part = html.escape(part)
        part = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", part)
        part = re.sub(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])", r"<em>\1</em>", part)
        out.append(part)
    return "".join(out)


def _cells(line: str) -> list[str]:
    line = line.strip()
    if line.startswith("|"):
        line = line[1:]
    if line.endswith("|"):
        line = line[:-1]
    return [c.strip() for c in line.split("|")]


def _is_separator(line: str) -> bool:
    return bool(re.fullmatch(r"\s*\|?(\s*:?-{3,}:?\s*\|)*\s*:?-{3,}:?\s*\|?\s*", line))


NOWRAP_CHARS = 40  # a table cell of one word up to this long stays on one line


def _heading(text: str) -> str:
    """A column heading that may break after an underscore: ``train_seconds`` takes the width of its values."""
    return _inline(text).replace("_", "_<wbr>")


def _table(lines: list[str]) -> str:
    header = _cells(lines[0])
    verdict_cols = {i for i, h in enumerate(header) if h.strip().lower() == "verdict"}
    out = ['<div class="table-scroll"><table>',
           "<thead><tr>" + "".join(f"<th>{_heading(h)}</th>" for h in header) + "</tr></thead>", "<tbody>"]
    for line in lines[2:]:
        cells = []
        for i, cell in enumerate(_cells(line)):
            if i in verdict_cols:
                css = f' class="verdict {verdict_class(cell)}"'
            else:  # one word (a number, a run name, 1e-06) is never broken at its hyphens
                css = ' class="nowrap"' if cell and len(cell) <= NOWRAP_CHARS and not re.search(r"\s", cell) else ""
            cells.append(f"<td{css}>{_inline(cell)}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out += ["</tbody>", "</table></div>"]
    return "\n".join(out)


def markdown_to_html(text: str, *, heading_offset: int = 0) -> str:
    """The HTML body of our Markdown (see the module docstring); ``heading_offset`` demotes headings."""
    lines = text.splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
        elif m := re.match(r"(#{1,6})\s+(.*)", line):
            level = min(6, len(m.group(1)) + heading_offset)
            out.append(f"<h{level}>{_inline(m.group(2).strip())}</h{level}>")
            i += 1
        elif line.lstrip().startswith("|") and i + 1 < len(lines) and _is_separator(lines[i + 1]):
            block = [line, lines[i + 1]]
            i += 2
            while i < len(lines) and lines[i].lstrip().startswith("|"):
                block.append(lines[i])
                i += 1
            out.append(_table(block))
        elif re.match(r"\s*[-*]\s+", line):
            items = []
            while i < len(lines) and re.match(r"\s*[-*]\s+", lines[i]):
                items.append(re.sub(r"^\s*[-*]\s+", "", lines[i]))
                i += 1
            out.append("<ul>" + "".join(f"<li>{_inline(t)}</li>" for t in items) + "</ul>")
        else:
            para = []
            while i < len(lines) and lines[i].strip() and not re.match(r"#{1,6}\s|\s*\||\s*[-*]\s+", lines[i]):
                para.append(lines[i].strip())
                i += 1
            if not para:  # a line that starts like a table but is not one
                para, i = [line.strip()], i + 1
            out.append(f"<p>{_inline(' '.join(para))}</p>")
    return "\n".join(out)


def html_page(body: str, *, title: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{html.escape(title)}</title>\n'
            f"<style>{STYLE}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n")


def write_markdown_page(md_path: str | Path, html_path: str | Path, *, title: str | None = None) -> None:
    """Render the Markdown file ``md_path`` as a self-contained HTML page at ``html_path`` (atomically)."""
    text = Path(md_path).read_text(encoding="utf-8")
    if title is None:
        first = next((ln for ln in text.splitlines() if ln.startswith("#")), Path(md_path).stem)
        title = first.lstrip("#").strip().replace("`", "")
    with atomic_write(html_path, "w") as fh:
        fh.write(html_page(markdown_to_html(text), title=title))


def verdict_counts(text: str, kind: str = "claims") -> dict[str, int]:
    """How many verdict cells of each class (``good``, ``bad``, ``indicative``, ``none``, ``other``) the
    Markdown's tables have: of the findings tables (first column headed "Finding") or of the others (claims)."""
    counts = {"good": 0, "bad": 0, "indicative": 0, "none": 0, "other": 0}
    lines = text.splitlines()
    for i, line in enumerate(lines[:-1]):
        if not (line.lstrip().startswith("|") and _is_separator(lines[i + 1])):
            continue
        header = _cells(line)
        if (header[0].lower() == "finding") != (kind == "findings"):
            continue
        cols = [j for j, h in enumerate(header) if h.lower() == "verdict"]
        for row in lines[i + 2:]:
            if not row.lstrip().startswith("|"):
                break
            cells = _cells(row)
            for j in cols:
                if j < len(cells):
                    counts[verdict_class(cells[j]).removeprefix("verdict-")] += 1
    return counts


# Layout of the report's front page while the overview is on it (Snakemake's template centres the front page's
# content vertically, which hides the top of a long page, and keeps the description narrow).
FRONT_PAGE_STYLE = """
div.h-screen:has(.sisr-overview) { align-items: flex-start; justify-content: flex-start; }
div.prose:has(.sisr-overview) { max-width: 68rem; }
.sisr-overview code::before, .sisr-overview code::after { content: none; }
.sisr-overview img.sisr-figure { max-width: 100%; height: auto; }
.sisr-overview td.count { text-align: right; }
"""

# (kind of table, class, column heading) of the landing page's count per study: findings and claims apart
SUMMARY_COLUMNS = (("findings", "good", "findings hold"), ("findings", "bad", "reversed"),
                   ("findings", "other", "inconclusive"), ("findings", "indicative", "indicative only"),
                   ("claims", "good", "claims reproduced"), ("claims", "bad", "not reproduced"),
                   ("claims", "indicative", "indicative (no verdict)"),
                   ("claims", "none", "not comparable here, not measured, quoted"))


def _scoped_style(style: str, scope: str) -> str:
    return re.sub(r"(^|\})\s*([^{}@]+?)\s*\{",
                  lambda m: m.group(1) + "\n" + ", ".join(f"{scope} {sel.strip()}" for sel in m.group(2).split(","))
                  + " {", style)


def write_overview(*, claims: dict[str, str | Path], figure: str | Path | None, tier: str,
                   out_page: str | Path, out_fragment: str | Path) -> None:
    """The report's landing page: a verdict count per study, the leaderboard's plot, every claims audit.

    Writes a whole page (a result of the report) and the same content as a fragment for the report's front
    page (report/workflow.rst includes it), with its style scoped to ``.sisr-overview``.
    """
    texts = {study: Path(path).read_text(encoding="utf-8") for study, path in claims.items()}
    head = "".join(f"<th>{label}</th>" for _, _, label in SUMMARY_COLUMNS)
    rows = []
    for study, text in texts.items():
        counts = {kind: verdict_counts(text, kind) for kind in ("findings", "claims")}
        cells = "".join(f'<td class="count{f" verdict verdict-{key}" if counts[kind][key] else ""}">'
                        f"{counts[kind][key]}</td>" for kind, key, _ in SUMMARY_COLUMNS)
        rows.append(f'<tr><td><a href="#claims-{html.escape(study)}">{html.escape(study)}</a></td>{cells}</tr>')
    parts = [f"<h2>Results of tier <code>{html.escape(tier)}</code></h2>",
             "<p>Each study's findings (the document's conclusions, judged against seed noise: hold, reversed or "
             "inconclusive) and claims (its numbers: reproduced or not, where the comparison is like-for-like; "
             "indicative where it is not - another tier, a stand-in dataset, an unstated protocol). Every study's "
             "tables and figures, with captions saying tier, data and protocol: <em>Results</em> in the menu on "
             "the left.</p>",
             f'<table class="sisr-summary"><thead><tr><th>Study (audit)</th>{head}</tr></thead>'
             f"<tbody>{''.join(rows)}</tbody></table>"]
    if figure:
        figure = Path(figure)
        mime = {".png": "image/png", ".svg": "image/svg+xml"}.get(figure.suffix)
        parts.append("<h3>Leaderboard: PSNR versus cost</h3>")
        if mime:
            # lines of 76 characters: the report's reStructuredText parser refuses lines over 10,000 characters,
            # and browsers ignore whitespace inside base64 data URLs
            data = base64.encodebytes(figure.read_bytes()).decode("ascii").strip()
            parts.append(f'<img class="sisr-figure" alt="PSNR versus cost of every model" '
                         f'src="data:{mime};base64,{data}">')
        else:
            parts.append(f"<p>{html.escape(figure.name)} (see the leaderboard in the menu).</p>")
    for study, text in texts.items():
        parts.append(f'<section class="sisr-study" id="claims-{html.escape(study)}">')
        parts.append(markdown_to_html(text, heading_offset=2))
        parts.append("</section>")
    body = "\n".join(parts)
    fragment = (f'<div class="sisr-overview">\n<style>{_scoped_style(STYLE, ".sisr-overview")}\n{FRONT_PAGE_STYLE}'
                f"</style>\n{body}\n</div>\n")
    with atomic_write(out_fragment, "w") as fh:
        fh.write(fragment)
    with atomic_write(out_page, "w") as fh:
        fh.write(html_page(body, title=f"sisr-bench: results of tier {tier}"))
