"""The audit (sisr.report.audit, `sisr audit`): findings judged against seed noise, claims judged only like-for-like.

Every study is audited on summaries made from its own template (what a perfect reproduction gives): the template
itself, all values equal, values mirrored within each column, the template named as another tier, one run trained
with other settings, and a constant summary. Each must move the counts the way the rules say, so the audit can fail.
"""

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from helpers.studies import edited_study
from sisr.report.audit import (Gate, audit_summary, finding_pairs, pair_judgement, pooled_sd, sourced, template,
                        tolerances)
from sisr.cli import main
from sisr.config.studies import load_study

STUDIES = Path(__file__).resolve().parents[1] / "studies"
NAMES = sorted(p.stem for p in STUDIES.glob("*.yaml"))
META = ("study", "run", "replica_of", "dataset", "scale", "tier", "config_hash", "status")


def _metrics(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if c not in META]


def _file(name: str) -> Path:
    return STUDIES / f"{name}.yaml"


def _ordering(finding) -> bool:
    return finding["relation"] in (">", "<", "best")


# ---------------------------------------------------------------------------------------------- the rule


def test_a_pair_is_judged_against_two_standard_errors_of_seed_noise():
    # three replicas each, sd 0.1: se = 0.1 * sqrt(2/3) = 0.0816, threshold 0.163
    assert pair_judgement([30.2] * 3, [30.0] * 3, ">", 0.1) == "holds"
    assert pair_judgement([30.1] * 3, [30.0] * 3, ">", 0.1) == "inconclusive"
    assert pair_judgement([29.8] * 3, [30.0] * 3, ">", 0.1) == "reversed"
    assert pair_judgement([29.8] * 3, [30.0] * 3, "<", 0.1) == "holds"
    # a baseline (no training) adds no noise: se = 0.1 / sqrt(3) = 0.0577, threshold 0.115
    assert pair_judgement([30.12] * 3, [30.0], ">", 0.1, b_trained=False) == "holds"
    assert pair_judgement([30.12] * 3, [30.0], ">", 0.1) == "inconclusive"
    # no noise estimate: never a verdict either way
    assert pair_judgement([40.0], [30.0], ">", None) == "inconclusive"
    # about equal: the whole 2-se interval within the margin holds; beyond it by 2 se: they differ ("reversed")
    assert pair_judgement([30.0] * 3, [30.02] * 3, "~", 0.01, margin=0.05) == "holds"
    assert pair_judgement([30.0] * 3, [30.3] * 3, "~", 0.01, margin=0.05) == "reversed"
    assert pair_judgement([30.0] * 3, [30.06] * 3, "~", 0.01, margin=0.05) == "inconclusive"


def test_pooled_sd_of_the_replicated_runs():
    rows = [("a", "a", 1.0), ("a_seed1", "a", 3.0), ("b", "b", 10.0), ("b_seed1", "b", 10.0), ("c", "c", 5.0)]
    frame = pd.DataFrame([{"run": r, "replica_of": of, "dataset": "Set5", "m": v} for r, of, v in rows])
    sd, dof = pooled_sd(frame, "Set5", "m")
    assert dof == 2 and math.isclose(sd, math.sqrt((2.0 + 0.0) / 2))  # (1-2)^2 + (3-2)^2 = 2 over 2 dof
    assert pooled_sd(frame, "Set14", "m") == (None, 0)


def test_best_is_judged_in_the_metrics_direction():
    psnr = {"relation": "best", "metric": "psnr_y", "runs": ["a", "b", "c"]}
    lpips = {"relation": "best", "metric": "lpips_alex", "runs": ["a", "b"]}
    assert finding_pairs(psnr) == [("a", ">", "b"), ("a", ">", "c")]
    assert finding_pairs(lpips) == [("a", "<", "b")]


def test_a_gate_gives_verdicts_only_for_the_paper_tiers_training():
    gate = Gate(tier="paper", hashes={"a": frozenset({"h"}), "b": frozenset({"x"}), "c": frozenset({""})},
                expected={"a": frozenset({"h", "h1"}), "b": frozenset({"h"}), "c": frozenset({"h"})})
    assert gate.why_not("a", True) == ""
    assert "other settings" in gate.why_not("b", True)
    assert "no config hash" in gate.why_not("c", True)
    assert gate.why_not("bicubic", False) == ""  # a baseline is not trained
    assert "tier quick" in Gate(tier="quick").why_not("a", True)
    assert "dress rehearsal" in Gate(tier="paper", rehearsal=True).why_not("a", True)


# ---------------------------------------------------------------------------------------------- every study


def _audit(name: str, frame: pd.DataFrame, tier: str | None = None):
    return audit_summary(_file(name), frame, tier=tier)


@pytest.fixture(scope="module")
def templates():
    return {name: template(_file(name)) for name in NAMES}


def _supported(name: str, result) -> list[dict]:
    """The findings whose document numbers support them (the template gives the document's numbers)."""
    return [f for f in result.findings if f["document_verdict"] == "holds"]


@pytest.mark.parametrize("name", NAMES)
def test_the_template_reproduces_every_comparable_claim_and_every_supported_finding_holds(name, templates):
    frame = templates[name]
    result = _audit(name, frame)
    counts = result.counts()["claims"]
    assert counts["not_reproduced"] == 0 and counts["not_comparable"] == 0, result.claims.query("kind != 'reproduced'")
    for _, row in result.claims.iterrows():  # every claim without a verdict says why
        assert row["kind"] in ("reproduced", "quoted", "not measured") or \
            (row["kind"] == "indicative" and ": " in row["verdict"]), row["verdict"]
    for finding in result.findings:
        if finding["document_verdict"] == "holds":
            assert finding["verdict"] == "holds", finding
        # a verdict only where like-for-like: else indicative, saying why (a stand-in set, an unstated protocol)
        assert finding["kind"] == "verdict" or (finding["kind"] == "indicative" and finding["reason"]), finding
    # the template's rows: one per run and replica on each set a claim or finding needs, hashes of the paper tier
    paper = load_study(_file(name), "paper")
    trained = frame[frame["config_hash"] != ""]
    assert set(trained["run"]) <= set(paper.runs) and trained["config_hash"].str.len().eq(16).all()


@pytest.mark.parametrize("name", NAMES)
def test_all_runs_equal_no_ordering_finding_holds(name, templates):
    frame = templates[name].copy()
    for column in _metrics(frame):
        frame[column] = frame.groupby("dataset")[column].transform("mean")
    result = _audit(name, frame)
    for finding in result.findings:
        if _ordering(finding):
            assert finding["verdict"] == "inconclusive", finding


@pytest.mark.parametrize("name", NAMES)
def test_values_mirrored_within_each_column_reverse_the_orderings(name, templates):
    frame = templates[name].copy()
    for column in _metrics(frame):
        values = frame[column]
        frame[column] = values.max() + values.min() - values
    result = _audit(name, frame)
    for finding in _supported(name, _audit(name, templates[name])):
        if _ordering(finding):
            mirrored = next(f for f in result.findings if f["id"] == finding["id"])
            assert mirrored["verdict"] == "reversed", mirrored


@pytest.mark.parametrize("tier", ["quick", "demo"])
@pytest.mark.parametrize("name", NAMES)
def test_another_tier_gives_no_verdict(name, tier, templates):
    result = _audit(name, templates[name].assign(tier=tier), tier=tier)
    counts = result.counts()
    assert counts["claims"]["reproduced"] == 0 and counts["claims"]["not_reproduced"] == 0
    assert all(f["kind"] != "verdict" for f in result.findings)
    assert counts["claims"]["indicative"] == len(result.claims[~result.claims["kind"].isin(["quoted", "not measured"])])


@pytest.mark.parametrize("name", NAMES)
def test_a_run_trained_with_other_settings_gets_no_verdict(name, templates):
    frame = templates[name].copy()
    trained = frame[frame["config_hash"] != ""]
    if trained.empty:
        pytest.skip("no trained run has a claim")
    run = trained["replica_of"].iloc[0]
    frame.loc[frame["run"] == run, "config_hash"] = "0" * 16  # e.g. trained with train_overrides
    result = _audit(name, frame)
    mine = result.claims[result.claims["run"].str.split("#").str[0] == run]
    assert len(mine) and not mine["kind"].isin(["reproduced", "not reproduced"]).any()
    assert mine["verdict"].str.contains("other settings than the paper tier").any()


@pytest.mark.parametrize("name", NAMES)
def test_a_constant_summary_reproduces_only_claims_within_tolerance_of_the_constant(name, templates):
    frame = templates[name].copy()
    for column in _metrics(frame):
        frame[column] = float(frame[column].median())
    result = _audit(name, frame)
    tol = tolerances(result_spec := load_study(_file(name), "paper").spec)
    within = 0
    for _, row in result.claims.iterrows():
        if row["kind"] in ("reproduced", "not reproduced"):
            close = abs(row["compared"] - row["claimed"]) <= tol[row["metric"]]
            assert (row["kind"] == "reproduced") == close, row
            within += close
    assert result.counts()["claims"]["reproduced"] == within
    assert result_spec["name"] == name


# ---------------------------------------------------------------------------------------------- the command


def test_sisr_audit_json_and_template(tmp_path, capsys):
    assert main(["audit", "espcn", "--template", "--studies-dir", str(STUDIES)]) == 0
    csv = tmp_path / "summary.csv"
    csv.write_text(capsys.readouterr().out)
    assert main(["audit", "espcn", "--summary", str(csv), "--json", "--studies-dir", str(STUDIES)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["study"] == "espcn" and out["tier"] == "paper"
    assert set(out["counts"]["findings"]) >= {"holds", "reversed", "inconclusive"}
    assert set(out["counts"]["claims"]) == {"reproduced", "not_reproduced", "indicative", "not_comparable", "quoted",
                                            "not_measured"}
    for finding in out["findings"]:
        assert {"id", "statement", "metric", "runs", "verdict"} <= set(finding)
    assert main(["audit", "espcn", "--summary", str(csv), "--tier", "quick", "--studies-dir", str(STUDIES)]) == 0
    text = capsys.readouterr().out
    assert "**0 reproduced, 0 not reproduced**" in text and "tier quick: not the paper tier's training" in text


def test_sisr_audit_errors_are_one_line(tmp_path, capsys):
    assert main(["audit", "espcm", "--summary", "x.csv", "--studies-dir", str(STUDIES)]) == 2
    assert "did you mean 'espcn'" in capsys.readouterr().err
    assert main(["audit", "espcn", "--summary", str(tmp_path / "none.csv"), "--studies-dir", str(STUDIES)]) == 2
    assert "no such file" in capsys.readouterr().err
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    assert main(["audit", "espcn", "--summary", str(bad), "--studies-dir", str(STUDIES)]) == 2
    assert "no column 'run'" in capsys.readouterr().err


def test_sourced_entries():
    assert sourced({"value": 0.1, "source": "the document's replicate rows"}) == (0.1, "the document's replicate rows")
    assert sourced(0.3) == (0.3, "")


# ---------------------------------------------------------------------------------------------- replicas


def _with_replicas(tmp_path, n=3, runs="findings", findings=True):
    def replicated(spec):
        spec["tiers"]["paper"]["replicas"] = {"n": n, "runs": runs}
        if findings:
            spec["findings"] = [{"id": "f", "statement": "ESPCN beats SRCNN", "cite": "000 l.1: x",
                                 "metric": "psnr_y", "data": "div2k/valid", "relation": ">", "runs": ["espcn", "srcnn"]}]

    return edited_study(tmp_path, replicated)


def test_replicas_train_the_finding_runs_with_other_seeds(tmp_path):
    from sisr.config.studies import config_hash, train_settings
    from sisr.training.config import TrainConfig

    path = _with_replicas(tmp_path)
    study = load_study(path, "paper")
    assert list(study.runs) == ["espcn", "espcn_seed1", "espcn_seed2", "srcnn", "srcnn_seed1", "srcnn_seed2"]
    base, rep = study.runs["espcn"], study.runs["espcn_seed2"]
    assert rep["seed"] == base.get("seed", 0) + 2 and rep["replica_of"] == "espcn" and "replica_of" not in base
    TrainConfig.from_dict(train_settings(rep))  # a replica is an ordinary run for the trainer
    assert len({config_hash(c) for c in study.runs.values()}) == 6  # every replica is told apart by its hash
    assert list(load_study(path, "paper", replicas=1).runs) == ["espcn", "srcnn"]  # --config replicas=1
    assert list(load_study(path, "quick").runs) == ["espcn", "srcnn"]  # only the tier that asks for them
    only = load_study(_with_replicas(tmp_path, n=2, runs=["srcnn"]), "paper")
    assert list(only.runs) == ["espcn", "srcnn", "srcnn_seed1"]


def test_a_replica_list_naming_no_run_is_refused(tmp_path):
    from sisr.base.errors import ConfigError

    with pytest.raises(ConfigError, match=r"tiers.paper.replicas.runs: no such run\(s\) \['espcm'\]"):
        load_study(_with_replicas(tmp_path, runs=["espcm"]), "paper")


def test_the_config_hash_follows_the_settings_not_their_spelling():
    from sisr.config.studies import config_hash

    cfg = load_study(_file("espcn"), "paper").runs["espcn"]
    assert config_hash(cfg) == config_hash({**cfg, "optimizer": {"name": "adam", "lr": 0.001}})  # 1.0e-3 as 0.001
    assert config_hash(cfg) != config_hash({**cfg, "epochs": cfg["epochs"] - 1})
    assert config_hash(cfg) == config_hash({**cfg, "resources": {"gpus": 4}})  # where it runs is not what it trains
    quick = load_study(_file("espcn"), "quick").runs["espcn"]
    assert config_hash(quick) != config_hash(cfg)


def test_tables_average_replicas_and_list_each_run_once():
    from sisr.report.aggregate import primary_rows
    from sisr.report.tables import build_table, table_runs

    rows = [("a", "a", 30.0), ("a_seed1", "a", 30.4), ("a_seed2", "a", 30.2), ("b", "b", 29.0)]
    summary = pd.DataFrame([{"run": r, "replica_of": of, "dataset": "Set5", "psnr_y": v} for r, of, v in rows])
    assert list(table_runs(summary, {"match": "*"})) == ["a", "b"]
    assert list(table_runs(summary, {"runs": {"b": "B"}, "match": "a*"})) == ["b", "a"]
    long = build_table(summary, {"runs": {"a": "A"}, "metrics": {"psnr_y": "PSNR"}}, table="t")
    assert math.isclose(long["ours"].iloc[0], 30.2)
    assert list(primary_rows(summary)["run"]) == ["a", "b"]


def test_summary_rows_carry_the_config_hash_and_the_replica_of(tmp_path):
    from sisr.config.studies import config_hash, train_settings
    from sisr.report.aggregate import summarize
    from sisr.training.config import TrainConfig

    cfg = load_study(_file("espcn"), "paper").runs["espcn"]
    csvs = []
    for run in ("bicubic", "espcn_seed1"):
        (tmp_path / run / "eval").mkdir(parents=True)
        csv = tmp_path / run / "eval" / "Set5_x4.csv"
        pd.DataFrame({"study": "espcn", "run": run, "model": "m", "dataset": "Set5", "scale": 4, "image": ["x"],
                      "psnr_y": [30.0]}).to_csv(csv, index=False)
        csvs.append(csv)
    done = {"stop_reason": "completed", "config": TrainConfig.from_dict(train_settings({**cfg, "seed": 1})).to_dict()}
    (tmp_path / "espcn_seed1" / "train_done.json").write_text(json.dumps(done))
    summary = summarize(csvs, labels=["Set5", "Set5"], replica_of={"espcn_seed1": "espcn"}, study_dir=tmp_path)
    assert list(summary["replica_of"]) == ["bicubic", "espcn"]
    assert list(summary["config_hash"]) == ["", config_hash({**cfg, "seed": 1})]


def _finding_spec(protocol="standard", indicative=None):
    prov = {"data": "benchmark/Set5", "dataset": "Set5", "scale": 4, "protocol": protocol, "section": "Table 1"}
    if indicative:
        prov["indicative"] = indicative
    return {"name": "s", "baselines": ["bicubic"], "runs": {"a": {}},
            "tables": {"t": {"title": "t", "runs": {"a": "A", "bicubic": "Bicubic"}, "metrics": {"psnr_y": "PSNR"},
                             "claimed": {"a": {"psnr_y": 30.0}, "bicubic": {"psnr_y": 28.0}}, "claimed_on": prov}},
            "findings": [{"id": "a_beats_bicubic", "statement": "A beats bicubic", "cite": "000 l.1: x",
                          "metric": "psnr_y", "data": "benchmark/Set5", "relation": ">", "runs": ["a", "bicubic"]}],
            "tolerance": {"psnr_y": {"value": 0.1, "source": "a test's tolerance"}}}


def _replicated(values):
    rows = [{"run": "bicubic", "replica_of": "bicubic", "dataset": "Set5", "psnr_y": 28.0, "config_hash": ""}]
    rows += [{"run": "a" if k == 0 else f"a_seed{k}", "replica_of": "a", "dataset": "Set5", "psnr_y": v,
              "config_hash": "h"} for k, v in enumerate(values)]
    return pd.DataFrame(rows)


@pytest.mark.parametrize(("protocol", "indicative", "tier", "kind"), [
    ("standard", None, "paper", "verdict"),
    ("unstated", None, "paper", "indicative"),
    ("standard", "a stand-in dataset", "paper", "indicative"),
    ("standard", None, "quick", "indicative"),
])
def test_a_finding_gets_a_verdict_only_like_for_like(protocol, indicative, tier, kind):
    from sisr.report.audit import audit

    spec = _finding_spec(protocol, indicative)
    gate = Gate(tier=tier, hashes={"a": frozenset({"h"})}, expected={"a": frozenset({"h"})})
    result = audit(spec, _replicated([29.9, 30.1, 30.0]), {}, tier=tier, gate=gate)
    (finding,) = result.findings
    assert finding["verdict"] == "holds" and finding["kind"] == kind, finding
    # the noise decides: a 0.3 dB lead over three replicas with a 1 dB spread is inconclusive
    noisy = audit(spec, _replicated([28.0, 29.0, 28.0 + 1.9]), {}, tier=tier, gate=gate).findings[0]
    assert noisy["verdict"] == "inconclusive"
    worse = audit(spec, _replicated([27.0, 27.1, 26.9]), {}, tier=tier, gate=gate).findings[0]
    assert worse["verdict"] == "reversed"
