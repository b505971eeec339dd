"""The workflow's closing message: what this run built or found up to date, never more.

A study is called done only when every one of its outputs (summary, claims audit, tables, figures) was a job of
this run; a run of one target (a checkpoint, one table) lists that target and says what finishes the study.
"""

from __future__ import annotations

from typing import Iterable, Mapping, Sequence

MAX_LISTED = 10  # requested targets listed one per line; the rest counted


def _kind(path: str, study_dir: str) -> str | None:
    """Which line of a study's listing ``path`` belongs to (None: not one of the listed outputs)."""
    rel = path[len(study_dir) + 1:] if path.startswith(study_dir + "/") else None
    if rel is None:
        return None
    if rel == "summary.csv":
        return "summary"
    if rel == "REPORT.md":
        return "report"
    if rel.startswith("tables/"):
        return "tables"
    if rel.startswith("figures/"):
        return "figures"
    return None


def finish_lines(study_targets: Mapping[str, Sequence[str]], tier: str, results: str, produced: Iterable[str],
                 requested: Sequence[str]) -> list[str]:
    """The lines printed when a run succeeds.

    study_targets: each selected study's outputs (``rule all``'s per study); results: ``<results_dir>/<tier>``;
    produced: the outputs of every job of this run (run now or found up to date); requested: the files asked for
    on the command line (empty for the default target).
    """
    produced = set(produced)
    lines: list[str] = []
    complete = []
    for name, targets in study_targets.items():
        study_dir = f"{results}/{name}"
        done = [t for t in targets if t in produced]
        if not done:
            continue
        kinds = {_kind(t, study_dir) for t in done} - {None}
        if len(done) == len(targets):
            complete.append(name)
            lines.append(f"\nsisr-bench: study {name!r}, tier {tier!r} is done.")
        else:
            lines.append(f"\nsisr-bench: study {name!r}, tier {tier!r}: {len(done)} of its {len(targets)} outputs "
                         f"built or up to date (run without a target to finish it):")
        if "summary" in kinds:
            lines.append(f"  summary : {study_dir}/summary.csv")
        if "report" in kinds:
            lines.append(f"  report  : {study_dir}/REPORT.md")
        if "tables" in kinds:
            tables = sorted(t for t in done if _kind(t, study_dir) == "tables")
            n = len(tables)
            what = "(CSV, Markdown, LaTeX, HTML)" if len(done) == len(targets) else f"({n} file{'s' * (n > 1)})"
            lines.append(f"  tables  : {study_dir}/tables/ {what}")
        if "figures" in kinds:
            lines.append(f"  figures : {study_dir}/figures/")
    listed = {t for name in study_targets for t in study_targets[name] if t in produced}
    others = [t for t in requested if t not in listed]
    if others:
        lines.append(f"\nsisr-bench: built or up to date ({len(others)} requested):")
        lines += [f"  {t}" for t in others[:MAX_LISTED]]
        if len(others) > MAX_LISTED:
            lines.append(f"  ... and {len(others) - MAX_LISTED} more")
    if complete and len(complete) == len(study_targets):
        lines.append("\nAll of it in one HTML page: snakemake --report report.html (with the same --config / "
                     "--configfile)")
    return lines
