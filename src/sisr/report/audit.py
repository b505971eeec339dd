"""The audit of a study: its findings (the document's conclusions) and its claims (numbers), each judged on our runs.

Three kinds of judgement, counted apart everywhere (REPORT.md, the HTML report, ``sisr audit --json``):

- a **verdict** (claims: *reproduced* / *not reproduced*; findings: *holds* / *reversed* / *inconclusive*) only
  where the comparison is like-for-like: the run was trained as the claim's source says (the ``paper`` tier, every
  run's ``config_hash`` in the summary equal to the hash of that run's paper-tier settings in the study file), on
  the claim's own evaluation set and scale, under the protocol the document states, and the study file does not
  mark the comparison ``indicative`` (a stand-in dataset);
- **indicative**: everything else that can still be compared (another tier or a changed config, a stand-in
  dataset, an unstated protocol, a metric without a stated tolerance): the difference and the reason, never a
  verdict;
- **not comparable** (the claim was measured on a set this run does not evaluate; a dress rehearsal), **quoted**
  (a number the document quotes from another paper) and **not measured**.

Findings (``findings:`` in a study file) are orderings over runs on one metric and evaluation set: ``a > b``
(a chain ``a > b > c`` judges each neighbouring pair), ``best`` (better than every other, in the metric's
direction) and ``a ~ b`` (within the finding's ``margin``). A pair is judged against seed noise
(:func:`pair_judgement`): with ``d`` the difference of the two runs' means over their replicas and
``se = sigma * sqrt(1/n_a + 1/n_b)`` (a baseline without training contributes no noise), the ordering *holds* when
``d`` exceeds ``2 se`` in the stated direction, is *reversed* when it exceeds ``2 se`` in the other, and is
*inconclusive* in between. ``sigma`` is the pooled seed standard deviation of the summary's replicated runs on that
metric and set (:func:`pooled_sd`), else the study file's ``noise`` (with its source), else unknown: inconclusive.
``a ~ b`` holds when ``|d| + 2 se <= margin``, is reversed (they differ) when ``|d| - 2 se > margin``.

Everything works on a summary.csv alone (``sisr audit``): its rows carry ``config_hash`` and ``replica_of``; a
claim that needs the run folders (per-epoch histories, per-image values) is *not measured* there.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from sisr.base.errors import SisrError
from sisr.config.studies import REPLICA_OF, DatasetRef, Study, config_hash, load_study
from sisr.report.tables import (PROTOCOL_WORDS, _fmt, build_long, claim_provenance, diverged_runs, higher_is_better,
                                run_bases, study_longs, study_rows, tier_note)

Z = 2.0  # a difference counts when it exceeds Z standard errors (about 95%, two-sided, for normal noise)

CLAIM_WORDS = ("reproduced", "not reproduced", "indicative", "not comparable", "quoted", "not measured")
FINDING_WORDS = ("holds", "reversed", "inconclusive")


# ---------------------------------------------------------------------------------------------- tolerances


def sourced(value) -> tuple[float | None, str]:
    """(number, source) of a tolerance / noise / margin entry: ``{value, source}`` or a bare number (no source)."""
    if value is None:
        return None, ""
    if isinstance(value, Mapping):
        return float(value["value"]), str(value.get("source", ""))
    return float(value), ""


def tolerances(spec: Mapping) -> dict[str, float]:
    """metric -> tolerance of a study file (its sources dropped)."""
    return {m: sourced(v)[0] for m, v in (spec.get("tolerance") or {}).items()}


# ---------------------------------------------------------------------------------------------- the gate


@dataclass(frozen=True)
class Gate:
    """What a summary says about how its runs were trained: the tier it claims, each run's config hashes (its
    replicas' too), and the hashes the study's paper tier allows for each run (its replicas: seed + k)."""

    tier: str
    hashes: Mapping[str, frozenset] = field(default_factory=dict)    # base run -> hashes of its summary rows
    expected: Mapping[str, frozenset] = field(default_factory=dict)  # base run -> the paper tier's hashes
    rehearsal: bool = False

    def why_not(self, run: str, trained: bool) -> str:
        """'' when ``run`` was trained as its source says, else why not (the reason of an indicative row)."""
        if self.rehearsal:
            return "a dress rehearsal on look-alike data"
        if self.tier != "paper":
            return f"tier {self.tier}: not the paper tier's training"
        if not trained:
            return ""
        got = self.hashes.get(run, frozenset())
        if not got or "" in got:
            return "no config hash in the summary (trained before hashes were recorded)"
        if run not in self.expected:
            return "a run the paper tier does not have"
        if not got <= self.expected[run]:
            return "trained with other settings than the paper tier's (train_overrides or an edited study file)"
        return ""


def paper_hashes(paper: Study, runs: Sequence[str], replicas: int = 1) -> dict[str, frozenset]:
    """base run -> the config hashes the study's paper tier (``paper``, resolved) gives it and its first
    ``replicas`` - 1 replicas (seed + k), for the base runs among ``runs`` that the paper tier has."""
    out = {}
    for run in runs:
        if run in paper.runs and REPLICA_OF not in paper.runs[run]:
            cfg = paper.runs[run]
            seed = int(cfg.get("seed", 0))
            out[run] = frozenset(config_hash({**cfg, "seed": seed + k}) for k in range(max(replicas, 1)))
    return out


def summary_hashes(summary: pd.DataFrame) -> dict[str, frozenset]:
    """base run -> the config hashes of its rows (its replicas' too)."""
    if "config_hash" not in summary.columns:
        return {}
    base = run_bases(summary)
    hashes = summary["config_hash"].fillna("").astype(str)
    return {run: frozenset(hashes[base == run]) for run in dict.fromkeys(base)}


# ---------------------------------------------------------------------------------------------- claims


def claims(long_tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per claimed value (table x run x metric [x epoch]): the comparable row where there is one."""
    picked = []
    for long in long_tables.values():
        if "claimed" not in long.columns:
            continue
        rows = long[long["claimed"].notna()].copy()
        if rows.empty:
            continue
        if "epoch" not in rows.columns:
            rows["epoch"] = float("nan")
        if "image" not in rows.columns:
            rows["image"] = ""
        rows["_key"] = rows["epoch"].fillna(-1).astype(str) + "/" + rows["image"].fillna("").astype(str)
        rows = rows.sort_values("comparable", ascending=False, kind="stable")
        picked.append(rows.drop_duplicates(["table", "run", "metric", "_key"]).drop(columns="_key"))
    if not picked:
        return pd.DataFrame(columns=["table", "run", "metric", "claimed", "comparable"])
    out = pd.concat(picked, ignore_index=True)
    order = {k: i for i, k in enumerate(long_tables)}
    return out.sort_values(["table"], key=lambda c: c.map(order), kind="stable").reset_index(drop=True)


def claim_judgement(row: Mapping, tolerance: Mapping[str, float], gate: Gate, trained: set[str]) -> tuple[str, str]:
    """(kind, text) of one claim: kind in CLAIM_WORDS; text what REPORT.md's Verdict column says."""
    if row["quoted"]:
        return "quoted", "quoted (not produced here)"
    if not row["comparable"]:
        return "not comparable", f"not comparable in this tier: {row['reason']}"
    if pd.isna(row["compared"]):
        return "not measured", "not measured"
    diff = row["compared"] - row["claimed"]
    reasons = []
    run = str(row["run"]).split("#")[0]  # run#tag: the same run under a second claim
    why = gate.why_not(run, run in trained)
    if why:
        reasons.append(why)
    if row.get("indicative"):
        reasons.append(str(row["indicative"]))
    if row["protocol"] == "unstated":
        reasons.append("the document does not state how it measured")
    tol = tolerance.get(row["metric"])
    if tol is None:
        reasons.append("the study file states no tolerance for this metric")
    if reasons:
        return "indicative", f"indicative, {_signed(diff, row['metric'])}: {'; '.join(reasons)}"
    return ("reproduced", "reproduced") if abs(diff) <= tol else ("not reproduced", "not reproduced")


def _signed(value: float, metric: str) -> str:
    text = _fmt(abs(value), metric)
    return ("+" if value >= 0 else "-") + text


def judge_claims(long_tables: Mapping[str, pd.DataFrame], tolerance: Mapping[str, float], gate: Gate,
                 trained: set[str], specs: Mapping[str, Mapping]) -> pd.DataFrame:
    """One row per claimed value (:func:`sisr.report.tables.claims`) with ``kind`` and ``verdict`` (its text)."""
    table = claims(long_tables)
    if table.empty:
        return table.assign(kind=[], verdict=[])
    table["indicative"] = [claim_provenance(specs.get(t, {}), r).get("indicative", "")
                           for t, r in zip(table["table"], table["run"])]
    judged = [claim_judgement(r, tolerance, gate, trained) for _, r in table.iterrows()]
    table["kind"] = [k for k, _ in judged]
    table["verdict"] = [v for _, v in judged]
    return table


# ---------------------------------------------------------------------------------------------- findings


def run_values(summary: pd.DataFrame, run: str, label: str, metric: str) -> list[float]:
    """The values of ``run`` and its replicas on evaluation set ``label``."""
    if metric not in summary.columns:
        return []
    rows = summary[(run_bases(summary) == run) & (summary["dataset"] == label)]
    return [float(v) for v in rows[metric] if pd.notna(v)]


def pooled_sd(summary: pd.DataFrame, label: str, metric: str) -> tuple[float | None, int]:
    """The pooled seed standard deviation of the replicated runs on ``label`` (runs with >= 2 values), and its
    degrees of freedom (0: none replicated)."""
    if metric not in summary.columns:
        return None, 0
    rows = summary[summary["dataset"] == label]
    ss, dof = 0.0, 0
    for _, values in rows.groupby(run_bases(rows))[metric]:
        values = values.dropna()
        if len(values) >= 2:
            ss += float(((values - values.mean()) ** 2).sum())
            dof += len(values) - 1
    return (math.sqrt(ss / dof), dof) if dof else (None, 0)


@dataclass
class Noise:
    sd: float | None
    source: str


def finding_noise(summary: pd.DataFrame, spec: Mapping, finding: Mapping) -> Noise:
    """The seed noise a finding is judged against: measured replicas first, else the study file's ``noise``."""
    label = DatasetRef.parse(finding["data"]).label
    sd, dof = pooled_sd(summary, label, finding["metric"])
    if dof:
        return Noise(sd, f"replicas in the summary (pooled sd {_fmt(sd, finding['metric'])}, {dof} dof)")
    value, source = sourced((spec.get("noise") or {}).get(finding["metric"]))
    if value is not None:
        return Noise(value, f"study file noise.{finding['metric']}: {source}")
    return Noise(None, "no noise estimate (no replicas in the summary, no noise in the study file)")


def pair_judgement(a: Sequence[float], b: Sequence[float], relation: str, sd: float | None, *,
                   a_trained: bool = True, b_trained: bool = True, margin: float | None = None) -> str:
    """holds / reversed / inconclusive for ``a relation b`` (``>``, ``<`` or ``~``); the rule is in the module
    docstring."""
    if sd is None:
        return "inconclusive"
    d = float(np.mean(a)) - float(np.mean(b))
    se = sd * math.sqrt((1 / len(a) if a_trained else 0.0) + (1 / len(b) if b_trained else 0.0))
    if relation == "~":
        if abs(d) + Z * se <= margin:
            return "holds"
        return "reversed" if abs(d) - Z * se > margin else "inconclusive"
    d = d if relation == ">" else -d
    if d > Z * se:
        return "holds"
    return "reversed" if -d > Z * se else "inconclusive"


def finding_pairs(finding: Mapping) -> list[tuple[str, str, str]]:
    """(a, relation, b) pairs a finding consists of."""
    runs, rel = finding["runs"], finding["relation"]
    if rel in (">", "<"):
        return [(runs[i], rel, runs[i + 1]) for i in range(len(runs) - 1)]
    if rel == "best":
        word = ">" if higher_is_better(finding["metric"]) else "<"
        return [(runs[0], word, other) for other in runs[1:]]
    return [(runs[0], "~", other) for other in runs[1:]]


def combine(results: Sequence[str]) -> str:
    """A finding's verdict from its pairs': reversed if any pair is, holds if all do, else inconclusive."""
    if "reversed" in results:
        return "reversed"
    return "holds" if results and all(r == "holds" for r in results) else "inconclusive"


def evidence(spec: Mapping, finding: Mapping) -> dict[str, float]:
    """run -> the document's own number for the finding (a claimed value of a summary-level table on the finding's
    metric, or whose compared column is that metric, measured on the finding's set)."""
    return {run: value for run, (value, _) in _evidence(spec, finding).items()}


def _evidence(spec: Mapping, finding: Mapping) -> dict[str, tuple[float, dict]]:
    """run -> (the document's number, the provenance of its claim)."""
    out: dict[str, tuple[float, dict]] = {}
    for table in (spec.get("tables") or {}).values():
        if table.get("layout") in ("epoch_rows", "image_rows"):
            continue
        their = table.get("their_protocol", {})
        for run in finding["runs"]:
            prov = claim_provenance(table, run)
            if run in out or prov.get("data") != finding["data"]:
                continue
            for metric, value in (table.get("claimed", {}).get(run) or {}).items():
                if isinstance(value, (int, float)) and finding["metric"] in (metric, their.get(metric)):
                    out[run] = (float(value), prov)
                    break
    return out


def evidence_reasons(found: Mapping[str, tuple[float, dict]]) -> list[str]:
    """Why a finding is not like-for-like by its evidence's provenance (:func:`_evidence`): a stand-in dataset
    (``indicative``) or a protocol the document does not state."""
    reasons = []
    for _, prov in found.values():
        if prov.get("indicative"):
            reasons.append(str(prov["indicative"]))
        if prov.get("protocol") == "unstated":
            reasons.append("the document does not state how it measured")
    return list(dict.fromkeys(reasons))


def judge_finding(summary: pd.DataFrame, spec: Mapping, finding: Mapping, gate: Gate, trained: set[str]) -> dict:
    """One finding judged on a summary: its verdict, kind (verdict / indicative / not comparable / not measured),
    our means, the document's evidence and the noise used."""
    label = DatasetRef.parse(finding["data"]).label
    values = {r: run_values(summary, r, label, finding["metric"]) for r in finding["runs"]}
    found = _evidence(spec, finding)
    doc = {run: value for run, (value, _) in found.items()}
    margin = sourced(finding.get("margin"))[0]
    noise = finding_noise(summary, spec, finding)
    out = {"id": finding["id"], "statement": finding["statement"], "metric": finding["metric"],
           "runs": list(finding["runs"]), "data": finding["data"], "cite": finding["cite"],
           "relation": finding["relation"], "ours": {r: (float(np.mean(v)) if v else None) for r, v in values.items()},
           "n": {r: len(v) for r, v in values.items()}, "document": doc, "noise": noise.source}
    doc_pairs = [pair_judgement([doc[a]], [doc[b]], rel, 0.0, margin=margin)
                 for a, rel, b in finding_pairs(finding) if a in doc and b in doc]
    out["document_verdict"] = combine(doc_pairs) if len(doc_pairs) == len(finding_pairs(finding)) else ""
    missing = [r for r, v in values.items() if not v]
    if missing:
        return {**out, "verdict": "not measured", "kind": "not measured",
                "reason": f"no value of {', '.join(missing)} on {label}"}
    results = [pair_judgement(values[a], values[b], rel, noise.sd, a_trained=a in trained, b_trained=b in trained,
                              margin=margin) for a, rel, b in finding_pairs(finding)]
    verdict = combine(results)
    reasons = [w for w in dict.fromkeys(gate.why_not(r, r in trained) for r in finding["runs"]) if w]
    reasons += evidence_reasons(found)
    if gate.rehearsal:
        return {**out, "verdict": verdict, "kind": "not comparable", "reason": reasons[0]}
    if noise.sd is None:
        reasons.append(noise.source)
    return {**out, "verdict": verdict, "kind": "indicative" if reasons else "verdict", "reason": "; ".join(reasons)}


# ---------------------------------------------------------------------------------------------- the audit


@dataclass
class Audit:
    study: str
    tier: str
    findings: list[dict]
    claims: pd.DataFrame
    tolerance: dict[str, float]

    def counts(self) -> dict:
        f = {w: sum(x["verdict"] == w and x["kind"] in ("verdict", "indicative") for x in self.findings)
             for w in FINDING_WORDS}
        f["indicative"] = sum(x["kind"] == "indicative" for x in self.findings)
        f["not_judged"] = sum(x["kind"] not in ("verdict", "indicative") for x in self.findings)
        kinds = list(self.claims["kind"]) if len(self.claims) else []
        c = {w.replace(" ", "_"): kinds.count(w) for w in CLAIM_WORDS}
        return {"findings": f, "claims": c}

    def to_json(self) -> dict:
        return {"study": self.study, "tier": self.tier,
                "findings": [{"id": x["id"], "statement": x["statement"], "metric": x["metric"], "runs": x["runs"],
                              "verdict": x["verdict"], "kind": x["kind"], "reason": x["reason"],
                              "ours": x["ours"], "document": x["document"]} for x in self.findings],
                "counts": self.counts()}


def audit(study_spec: Mapping, summary: pd.DataFrame, long_tables: Mapping[str, pd.DataFrame], *, tier: str,
          gate: Gate) -> Audit:
    """Judge every finding and claim of a study (its file's ``spec``) on ``summary`` and its long tables."""
    trained = set(run_bases(summary)) - set(study_spec.get("baselines", []))
    tol = tolerances(study_spec)
    found = [judge_finding(summary, study_spec, f, gate, trained) for f in study_spec.get("findings", [])]
    judged = judge_claims(long_tables, tol, gate, trained, study_spec.get("tables", {}))
    return Audit(study=study_spec["name"], tier=tier, findings=found, claims=judged, tolerance=tol)


# ---------------------------------------------------------------------------------------------- REPORT.md


def _finding_cells(x: Mapping) -> tuple[str, str, str]:
    rel = {">": " > ", "<": " < ", "~": " ~ "}.get(x["relation"])
    fmt = lambda v: "-" if v is None else _fmt(v, x["metric"])  # noqa: E731
    if rel:
        doc = rel.join(f"{r} {fmt(x['document'].get(r))}" for r in x["runs"])
        ours = ", ".join(f"{r} {fmt(x['ours'].get(r))}" + (f" (n={x['n'][r]})" if x["n"][r] > 1 else "")
                         for r in x["runs"])
    else:  # best: the winner beside the best of the others (the whole list is in the study file)
        better = max if higher_is_better(x["metric"]) else min

        def beside(values: Mapping[str, float | None]) -> str:
            others = {r: v for r, v in values.items() if r != x["runs"][0] and v is not None}
            if not others:
                return f"{x['runs'][0]} {fmt(values.get(x['runs'][0]))}"
            rival = better(others, key=others.get)
            return (f"{x['runs'][0]} {fmt(values.get(x['runs'][0]))}; best of the other {len(x['runs']) - 1}: "
                    f"{rival} {fmt(others[rival])}")

        doc, ours = beside(x["document"]), beside(x["ours"])
    if x["kind"] == "verdict":
        verdict = x["verdict"]
    elif x["kind"] == "indicative":
        verdict = f"indicative: {x['verdict']} ({x['reason']})"
    else:
        verdict = f"{x['kind']}: {x['reason']}"
    return doc, ours, verdict


def report_markdown(a: Audit, *, tier_note: str = "", diverged: Mapping[str, str] | None = None,
                    source: str = "") -> str:
    """REPORT.md: the findings first (finding, the document's evidence, ours, verdict), then every claim once."""
    counts = a.counts()
    lines = [f"# Audit: study `{a.study}`, tier `{a.tier}`", ""]
    if tier_note:
        lines += [tier_note, ""]
    if diverged:
        lines += ["Runs whose training diverged (divergence.policy record; their values are those of their last "
                  "finite weights):", ""] + [f"- `{run}` (diverged): {why}" for run, why in diverged.items()] + [""]
    f = counts["findings"]
    lines += [f"## Findings: the document's conclusions ({len(a.findings)})", "",
              f"**{f['holds']} hold, {f['reversed']} reversed, {f['inconclusive']} inconclusive** "
              f"({f['indicative']} of them indicative only, {f['not_judged']} not judged). A finding holds when "
              f"our runs order as the document says by more than {Z:g} standard errors of seed noise, is reversed "
              "when they order the other way by as much, and is inconclusive in between (README, Findings).", ""]
    if a.findings:
        lines += ["| Finding | Document (its numbers) | Ours | Verdict |", "|---|---|---|---|"]
        for x in a.findings:
            doc, ours, verdict = _finding_cells(x)
            lines.append(f"| **{x['id']}**: {x['statement']} ({x['metric']}, {x['data']}; {x['cite']}) | {doc} | "
                         f"{ours} | {verdict} |")
        lines += ["", "Noise used: " + "; ".join(dict.fromkeys(f"{x['metric']}: {x['noise']}" for x in a.findings)),
                  ""]
    c = counts["claims"]
    n = len(a.claims)
    lines += [f"## Claims: the document's numbers ({n})", "",
              f"**{c['reproduced']} reproduced, {c['not_reproduced']} not reproduced** (verdicts: like-for-like "
              f"only); **{c['indicative']} indicative** (compared, no verdict: the reason is given); "
              f"{c['not_comparable']} not comparable in this tier, {c['quoted']} quoted, {c['not_measured']} not "
              "measured. A verdict needs the paper tier's training (config hash), the claim's own set and scale, "
              "and the protocol the document states; it reproduces when |ours - claimed| <= the tolerance stated "
              "(with its source) in the study file.", ""]
    if n:
        for (src, on, protocol), rows in a.claims.groupby(["claim_source", "claim_on", "protocol"], sort=False):
            lines += [f"### {src or 'source not stated'}: measured on {on}, "
                      f"{PROTOCOL_WORDS.get(protocol, protocol or 'protocol not stated')}", "",
                      "| Table | Run | Metric | Claimed | Ours (compared) | Tolerance | Verdict |",
                      "|---|---|---|---|---|---|---|"]
            for _, row in rows.iterrows():
                lines.append(_claim_line(row, a.tolerance))
            lines.append("")
    lines += ["Totals: " + ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in c.items()), ""]
    if source:
        lines += [source, ""]
    return "\n".join(lines)


def _claim_line(row: Mapping, tolerance: Mapping[str, float]) -> str:
    metric = row["metric"]
    what = row["metric_label"]
    if pd.notna(row.get("epoch")):
        what += f", epoch {int(row['epoch'])}"
    if isinstance(row.get("image"), str) and row["image"]:
        what += f", image {row['image']}"
    tol = tolerance.get(metric)
    ours = row["compared"] if row["comparable"] and pd.notna(row["compared"]) else None
    return (f"| {row['table']} | {row['run_label']} | {what} | {_fmt(row['claimed'], metric)} | {_fmt(ours, metric)} | "
            f"{'-' if tol is None else tol} | {row['verdict']} |")


# ---------------------------------------------------------------------------------------------- the template


def template(study_file: str | Path) -> pd.DataFrame:
    """What a perfect reproduction's summary.csv looks like: every (run, set) row the claims and findings need
    (replicas included), each claim's compared column filled with the claimed value, the paper tier's config
    hashes. Values a claim does not fix are left empty."""
    paper = load_study(study_file, "paper")
    spec = paper.spec
    rows: dict[tuple[str, str], dict] = {}

    def put(run: str, label: str, column: str, value: float) -> None:
        for r in [run] + [x for x, c in paper.runs.items() if c.get(REPLICA_OF) == run]:
            row = rows.setdefault((r, label), {"study": paper.name, "run": r, "replica_of": run, "dataset": label,
                                               "scale": paper.scale, "tier": "paper"})
            row.setdefault(column, value)

    for table in spec.get("tables", {}).values():
        if table.get("layout") in ("epoch_rows", "image_rows"):
            continue
        their = table.get("their_protocol", {})
        for run, values in (table.get("claimed") or {}).items():
            prov = claim_provenance(table, run)
            if run in table.get("quoted", []) or "data" not in prov or prov.get("scale") != paper.scale:
                continue
            label = paper.train_data.label if table.get("values_from") == "training" else \
                DatasetRef.parse(prov["data"]).label
            for metric, value in values.items():
                if not isinstance(value, (int, float)) or isinstance(value, bool):
                    continue
                column = metric if prov.get("protocol") == "standard" or metric not in their else their[metric]
                put(run.split("#")[0], label, column, float(value))
    for finding in spec.get("findings", []):
        label = DatasetRef.parse(finding["data"]).label
        for run, value in evidence(spec, finding).items():
            put(run, label, finding["metric"], value)
    frame = pd.DataFrame(list(rows.values()))
    if frame.empty:
        return frame
    frame["config_hash"] = [config_hash(paper.runs[r]) if r in paper.runs else "" for r in frame["run"]]
    frame["status"] = ["completed" if r in paper.runs else "" for r in frame["run"]]
    fixed = ["study", "run", "replica_of", "dataset", "scale", "tier", "config_hash", "status"]
    return frame[fixed + [c for c in frame.columns if c not in fixed]]


# ---------------------------------------------------------------------------------------------- on a summary


def audit_summary(study_file: str | Path, summary: pd.DataFrame, *, tier: str | None = None) -> Audit:
    """``sisr audit``: judge a study's findings and claims on a summary.csv alone. ``tier``: the tier the summary
    claims to come from (default: its ``tier`` column); verdicts only for ``paper`` with matching config hashes."""
    for column in ("run", "dataset"):
        if column not in summary.columns:
            raise SisrError(f"summary: no column {column!r} (a study's summary.csv has run, dataset, scale and one "
                            "column per metric)")
    if tier is None:
        tiers = sorted(set(summary["tier"].dropna().astype(str))) if "tier" in summary.columns else []
        if len(tiers) != 1:
            raise SisrError(f"summary: its tier column says {tiers or 'nothing'}; name the tier with --tier")
        tier = tiers[0]
    study = load_study(study_file, "paper")
    frame = summary if "scale" in summary.columns else summary.assign(scale=study.scale)
    longs = {}
    for name, spec in study.tables.items():
        table_frame = frame
        if spec.get("values_from") == "training":
            table_frame = frame[frame["dataset"] == study.train_data.label]
        longs[name] = build_long(table_frame, spec, table=name, scale=study.scale, valid_label=study.valid_data.label,
                                 eval_labels=[r.label for r in study.eval_data])
    gate = Gate(tier=tier, hashes=summary_hashes(frame), expected=_expected(study, frame))
    return audit(study.spec, frame, longs, tier=tier, gate=gate)


def study_gate(study: Study, summary: pd.DataFrame, study_file: str | Path | None) -> Gate:
    """The gate of a workflow run's summary (its tier, its runs' hashes, the paper tier's)."""
    expected = _expected(load_study(study_file, "paper"), summary) if study_file and study.tier == "paper" else {}
    return Gate(tier=study.tier, hashes=summary_hashes(summary), expected=expected, rehearsal=study.rehearsal)


def claims_report(long_tables: Mapping[str, pd.DataFrame], tolerance: Mapping[str, float], *, study: str,
                  tier: str, gate: Gate | None = None, trained: set[str] | None = None) -> str:
    """The claims part of an audit on long tables alone (no findings): the report of :func:`report_markdown`.
    ``gate`` defaults to a summary of ``tier`` whose runs carry no training (baselines): verdicts for paper."""
    gate = gate or Gate(tier=tier)
    judged = judge_claims(long_tables, tolerance, gate, trained or set(), {})
    return report_markdown(Audit(study=study, tier=tier, findings=[], claims=judged, tolerance=dict(tolerance)))


def study_report(study: Study, *, summary: str | Path, histories: Mapping[str, str] | None = None,
                 study_file: str | Path | None = None, epoch_evals: Mapping[str, str] | None = None) -> str:
    """REPORT.md of a workflow run: the study's findings and claims judged on its summary (the rows under the
    study's degradation) and run folders; ``epoch_evals``: run -> its epoch evaluation CSV."""
    longs, _ = study_longs(study, str(summary), histories or {}, epoch_evals)
    frame = study_rows(pd.read_csv(summary), study)
    result = audit(study.spec, frame, longs, tier=study.tier, gate=study_gate(study, frame, study_file))
    note = tier_note(study)
    if study.train_overrides:
        note += (f"\n\ntrain_overrides (config) applied to every run: `{json.dumps(study.train_overrides)}`; runs "
                 "trained with them differ from the paper tier's settings, so they get no verdict.")
    return report_markdown(result, tier_note=note,
                           diverged=diverged_runs(Path(summary).parent, list(dict.fromkeys(frame["run"]))))


def _expected(paper: Study, summary: pd.DataFrame) -> dict[str, frozenset]:
    """The paper tier's hashes for the summary's runs and as many replicas as it holds of one run on one set."""
    bases = run_bases(summary)
    most = int(bases.groupby([bases, summary["dataset"]]).size().max()) if len(summary) else 1
    return paper_hashes(paper, list(dict.fromkeys(bases)), replicas=most)


def dump_json(a: Audit) -> str:
    return json.dumps(a.to_json(), indent=2, default=float)
