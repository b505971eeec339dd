"""Study tables: claimed beside ours, quoted cells marked, three formats; the claims report's verdicts."""

import pandas as pd

from sisr.report.audit import Gate, claims_report
from sisr.report.render import to_latex, to_markdown, write_table
from sisr.report.tables import build_table, mark_rehearsal

SPEC = {
    "title": "Table 1: test",
    "caption": "A caption with 100% and an_underscore.",
    "runs": {"bicubic": "Bicubic", "aplus": "A+", "espcn": "ESPCN"},
    "metrics": {"psnr_y": "PSNR", "ssim_y": "SSIM"},
    "claimed": {"bicubic": {"psnr_y": 28.42, "ssim_y": 0.8104}, "aplus": {"psnr_y": 30.28},
                "espcn": {"psnr_y": 30.57, "ssim_y": 0.7855}},
    "quoted": ["aplus"],
    "claimed_on": {"data": "benchmark/Set5", "dataset": "Set5", "scale": 4, "protocol": "standard",
                   "section": "Table 1"},
}
SUMMARY = pd.DataFrame([
    {"study": "s", "run": "bicubic", "model": "bicubic", "dataset": "Set5", "scale": 4, "n_images": 5,
     "psnr_y": 28.43, "ssim_y": 0.8112},
    {"study": "s", "run": "espcn", "model": "espcn", "dataset": "Set5", "scale": 4, "n_images": 5,
     "psnr_y": 29.50, "ssim_y": 0.8400},
])


def test_build_table_values():
    long = build_table(SUMMARY, SPEC, table="t1")
    assert len(long) == 1 * 3 * 2
    row = long[(long.run == "espcn") & (long.metric == "psnr_y")].iloc[0]
    assert row.claimed == 30.57 and row.ours == 29.50 and abs(row["diff"] - (29.50 - 30.57)) < 1e-12
    aplus = long[(long.run == "aplus") & (long.metric == "psnr_y")].iloc[0]
    assert aplus.quoted and pd.isna(aplus.ours)


def test_formats(tmp_path):
    out = {ext: tmp_path / f"t1.{ext}" for ext in ("csv", "md", "tex")}
    long = write_table(_summary_csv(tmp_path), SPEC, table="t1", out_csv=out["csv"], out_md=out["md"],
                       out_tex=out["tex"], tier_note="demo")
    md = out["md"].read_text()
    assert "| Metric | Bicubic | A+ | ESPCN |" in md
    assert "30.28 (quoted)" in md and "29.50 vs 30.57 (-1.07)" in md
    assert "- Bicubic, A+, ESPCN: Table 1; measured on Set5 x4, standard protocol." in md
    tex = out["tex"].read_text()
    assert r"\toprule" in tex and r"\bottomrule" in tex and r"100\%" in tex and r"an\_underscore" in tex
    assert pd.read_csv(out["csv"]).shape[0] == len(long)


def _summary_csv(tmp_path):
    path = tmp_path / "summary.csv"
    SUMMARY.to_csv(path, index=False)
    return path


def _report_rows(text):
    return {tuple(c.strip() for c in line.split("|")[2:4]): line for line in text.splitlines()
            if line.startswith("| t1")}


PAPER = Gate(tier="paper", hashes={"espcn": frozenset({"h1"})}, expected={"espcn": frozenset({"h1"})})


def test_claims_report_verdicts():
    long = build_table(SUMMARY, SPEC, table="t1", scale=4)
    text = claims_report({"t1": long}, {"psnr_y": 0.05, "ssim_y": 0.01}, study="s", tier="paper", gate=PAPER,
                         trained={"espcn"})
    lines = _report_rows(text)
    assert "| reproduced |" in lines[("Bicubic", "PSNR")]
    assert "| not reproduced |" in lines[("ESPCN", "PSNR")]
    assert "| quoted (not produced here) |" in lines[("A+", "PSNR")]
    assert "Totals: reproduced: 2, not reproduced: 2, indicative: 0" in text  # bicubic PSNR (0.01 <= 0.05), SSIM
    assert "**2 reproduced, 2 not reproduced**" in text


def test_another_tier_or_config_gives_no_verdict_only_indicative_differences():
    """A verdict needs the paper tier's training: another tier, or a run trained with other settings (another
    config hash), gives the difference and the reason, never reproduced / not reproduced."""
    long = build_table(SUMMARY, SPEC, table="t1", scale=4)
    quick = claims_report({"t1": long}, {"psnr_y": 0.05, "ssim_y": 0.01}, study="s", tier="quick",
                          trained={"espcn"})
    assert "| reproduced |" not in quick and "| not reproduced |" not in quick
    assert "indicative, -1.07: tier quick: not the paper tier's training" in _report_rows(quick)[("ESPCN", "PSNR")]
    assert "Totals: reproduced: 0, not reproduced: 0, indicative: 4" in quick
    other = Gate(tier="paper", hashes={"espcn": frozenset({"h2"})}, expected={"espcn": frozenset({"h1"})})
    text = claims_report({"t1": long}, {"psnr_y": 0.05, "ssim_y": 0.01}, study="s", tier="paper", gate=other,
                         trained={"espcn"})
    assert "trained with other settings than the paper tier's" in _report_rows(text)[("ESPCN", "PSNR")]
    assert "| reproduced |" in _report_rows(text)[("Bicubic", "PSNR")]  # a baseline is not trained: still judged


def test_a_rehearsal_gives_no_verdict_even_on_a_set_named_as_the_claims():
    """Look-alike data carries the real datasets' names: its numbers must never reproduce (or refute) a claim."""
    long = build_table(SUMMARY, SPEC, table="t1", scale=4)
    text = claims_report({"t1": mark_rehearsal(long)}, {"psnr_y": 0.05, "ssim_y": 0.01}, study="s", tier="paper",
                         gate=PAPER, trained={"espcn"})
    assert "| reproduced |" not in text and "| not reproduced |" not in text
    assert "not comparable in this tier: a dress rehearsal on look-alike data" in _report_rows(text)[("ESPCN", "PSNR")]
    assert "Totals: reproduced: 0, not reproduced: 0, indicative: 0, not comparable: 4" in text


def test_a_rehearsal_table_shows_no_difference_to_a_claim():
    """In a rehearsal the tables, like REPORT.md, compare nothing: no diff, no 'vs claimed' in Markdown/LaTeX."""
    long = build_table(SUMMARY, SPEC, table="t1", scale=4)
    assert long["diff"].notna().any() and "vs 30.57" in to_markdown(long, SPEC)  # the same table, not a rehearsal
    marked = mark_rehearsal(long)
    assert marked["diff"].isna().all() and not marked["comparable"].any() and marked["compared"].isna().all()
    assert "vs 30.57" not in to_markdown(marked, SPEC) and "vs 30.57" not in to_latex(marked, SPEC)
    claimed = marked[marked["claimed"].notna() & ~marked["quoted"]]
    assert (claimed["reason"] == "a dress rehearsal on look-alike data").all()
    assert long["diff"].notna().any()  # the input is not modified


def test_a_claim_is_judged_only_on_its_own_dataset():
    """A Set5 claim is not compared with our number on another set: no difference, no verdict, the reason."""
    other = SUMMARY.assign(dataset="skimage-valid")
    long = build_table(other, SPEC, table="t1", scale=4)
    assert long["diff"].isna().all() and not long["comparable"].any()
    md = to_markdown(long, SPEC)
    assert "vs 28.42" not in md and "| 28.43 |" not in md.split("**skimage-valid**")[0]
    text = claims_report({"t1": long}, {"psnr_y": 0.05, "ssim_y": 0.01}, study="s", tier="paper", gate=PAPER)
    assert "reproduced |" not in text.replace("not comparable", "")
    assert "| not comparable in this tier: claimed on Set5 x4 |" in _report_rows(text)[("Bicubic", "PSNR")]
    assert "Totals: reproduced: 0, not reproduced: 0, indicative: 0, not comparable: 4, quoted: 1, " \
        "not measured: 0" in text
    # both sets evaluated: the claim is judged once, on Set5, and listed once
    both = build_table(pd.concat([SUMMARY, other]), SPEC, table="t1", scale=4)
    text = claims_report({"t1": both}, {"psnr_y": 0.05, "ssim_y": 0.01}, study="s", tier="paper", gate=PAPER,
                         trained={"espcn"})
    assert len(_report_rows(text)) == 5 and "**2 reproduced, 2 not reproduced**" in text
    # another scale than the claim's is never comparable
    assert not build_table(SUMMARY, SPEC, table="t1", scale=2)["comparable"].any()


def test_protocol_picks_the_compared_column():
    spec = {**SPEC, "their_protocol": {"psnr_y": "psnr_crop"},
            "claimed_on": {**SPEC["claimed_on"], "protocol": "unstated"}}
    long = build_table(SUMMARY.assign(psnr_crop=30.6), spec, table="t1", scale=4)
    row = long[(long.run == "espcn") & (long.metric == "psnr_y")].iloc[0]
    assert row.compared == 30.6 and abs(row["diff"] - 0.03) < 1e-9
    text = claims_report({"t1": long}, {"psnr_y": 0.05}, study="s", tier="paper", gate=PAPER, trained={"espcn"})
    assert "| indicative, +0.03: the document does not state how it measured |" in _report_rows(text)[("ESPCN", "PSNR")]
    standard = build_table(SUMMARY.assign(psnr_crop=30.6), {**spec, "claimed_on": SPEC["claimed_on"]}, table="t1")
    assert standard[(standard.run == "espcn") & (standard.metric == "psnr_y")].iloc[0].compared == 29.50


def test_markdown_and_latex_have_every_dataset():
    two = pd.concat([SUMMARY, SUMMARY.assign(dataset="div2k-valid")])
    long = build_table(two, SPEC, table="t1")
    assert to_markdown(long, SPEC).count("| Metric |") == 3  # the claims, then one grid per set
    assert to_latex(long, SPEC).count(r"\multicolumn") == 3


def test_epoch_rows_reads_history_at_the_report_epochs():
    from sisr.report.tables import build_epoch_table

    spec = {"title": "per epoch", "layout": "epoch_rows", "epochs": [0, 2], "runs": {"a": "A"},
            "metrics": {"val_psnr_y": "PSNR"}, "claimed": {"a": {2: {"val_psnr_y": 30.0}}},
            "claimed_on": {"data": "div2k/valid", "dataset": "DIV2K valid", "scale": 4, "protocol": "unstated",
                           "section": "Sec. 3"}}
    hist = pd.DataFrame({"epoch": [1, 2, 3], "val_psnr_y": [20.0, 25.0, 29.5]})
    assert not build_epoch_table({"a": hist}, spec, table="t", dataset="skimage-valid")["comparable"].any()
    long = build_epoch_table({"a": hist}, spec, table="t", dataset="div2k-valid")
    by_epoch = long.set_index("epoch")
    assert by_epoch.loc[0, "ours"] == 20.0 and by_epoch.loc[2, "ours"] == 29.5  # report epoch e = our e + 1
    assert by_epoch.loc[2, "diff"] == -0.5 and pd.isna(by_epoch.loc[0, "claimed"])
    md = to_markdown(long, spec)
    assert "| Epoch | A: PSNR |" in md and "29.50 vs 30.00 (-0.50)" in md


def test_run_rows_sorted_with_info_columns():
    spec = {"title": "sweep", "layout": "run_rows", "sort_by": "mse_noshave", "runs": {},
            "metrics": {"mse_noshave": "val MSE"}}
    summary = pd.DataFrame([{"run": "big", "dataset": "v", "mse_noshave": 0.004},
                            {"run": "small", "dataset": "v", "mse_noshave": 0.006},
                            {"run": "best", "dataset": "v", "mse_noshave": 0.003}])
    long = build_table(summary, spec, table="t")
    md = to_markdown(long, spec, run_info={"big": {"blocks": 16.0, "lr": 1e-4}, "small": {"blocks": 8}})
    body = [line for line in md.splitlines() if line.startswith("| ") and "Run" not in line]
    assert [line.split("|")[1].strip() for line in body] == ["best", "big", "small"]
    assert "| big | 16 | 0.0001 |" in md


def test_image_rows_read_named_images_and_the_best_and_worst():
    from sisr.report.tables import build_image_table

    spec = {"title": "images", "layout": "image_rows", "images": ["0801", "best", "worst"], "runs": {"a": "A"},
            "metrics": {"ssim_y": "SSIM"}, "claimed": {"a": {"0801": {"ssim_y": 0.30}, "worst": {"ssim_y": 0.1}}},
            "claimed_on": {"data": "div2k/valid", "dataset": "DIV2K valid", "scale": 4, "protocol": "unstated",
                           "section": "Sec. 3.6"}}
    frame = pd.DataFrame({"image": ["0801", "0802", "0803"], "ssim_y": [0.32, 0.9, 0.2]})
    long = build_image_table({("a", "div2k-valid"): frame, ("a", "Set5"): frame}, spec, table="t",
                             datasets=["div2k-valid", "Set5"], scale=4).set_index(["dataset", "image"])
    assert long.loc[("div2k-valid", "0801"), "ours"] == 0.32 and long.loc[("div2k-valid", "best"), "ours"] == 0.9
    assert long.loc[("div2k-valid", "worst"), "ours"] == 0.2 and long.loc[("div2k-valid", "0801"), "comparable"]
    assert abs(long.loc[("div2k-valid", "0801"), "diff"] - 0.02) < 1e-12
    assert not long.loc[("Set5", "0801"), "comparable"]
    text = claims_report({"t": long.reset_index()}, {"ssim_y": 0.05}, study="s", tier="paper")
    unstated = "the document does not state how it measured"
    assert f"| t | A | SSIM, image 0801 | 0.3000 | 0.3200 | 0.05 | indicative, +0.0200: {unstated} |" in text
    assert f"| t | A | SSIM, image worst | 0.1000 | 0.2000 | 0.05 | indicative, +0.1000: {unstated} |" in text
    assert "| 0801 | 0.3200 vs 0.3000 (+0.0200) |" in to_markdown(long.reset_index(), spec)


def test_run_rows_add_the_tiers_own_runs_and_hide_listed_runs_it_lacks():
    spec = {"title": "sweep", "layout": "run_rows", "runs": {"plain_b24_c612": "plain_b24_c612 (doc)"},
            "match": "plain_*", "metrics": {"mse_noshave": "val MSE"},
            "claimed": {"plain_b24_c612": {"mse_noshave": 0.0049}},
            "claimed_on": {"data": "residual_sweep/valid", "dataset": "tiles", "scale": 4, "protocol": "study",
                           "section": "Fig. 3 table"}}
    summary = pd.DataFrame([{"run": "plain_b1_c8", "dataset": "skimage-valid", "mse_noshave": 0.01},
                            {"run": "refiner_b1_c8", "dataset": "skimage-valid", "mse_noshave": 0.02}])
    long = build_table(summary, spec, table="t", scale=4)
    assert list(dict.fromkeys(long["run"])) == ["plain_b24_c612", "plain_b1_c8"]  # refiner_* does not match
    md = to_markdown(long, spec)
    claims_block, ours_block = md.split("**skimage-valid**")
    assert "| plain_b24_c612 (doc) | 0.0049000 |" in claims_block
    assert "plain_b24_c612" not in ours_block and "| plain_b1_c8 | 0.0100000 |" in ours_block
