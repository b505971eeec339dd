"""Claims: every number of every source document is claimed, as the document gives it, with its provenance.

The expected claims are parsed out of the source documents themselves (``../shared/docs/seeds``), so a claimed
value that differs from the document's, or a dropped row, fails here; the count written beside each study's
``source`` must match too. The ci and demo tiers (scikit-image photographs) must give no verdict at all.
"""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
import yaml

from sisr.config.studies import load_study

ROOT = Path(__file__).resolve().parents[1]
STUDIES = ROOT / "studies"
SEEDS = ROOT / ".." / "shared" / "docs" / "seeds"
NAMES = ["espcn", "srresnet_edsr", "residual_sweep", "rrdb_gan", "inverted_unet"]
needs_seeds = pytest.mark.skipif(not SEEDS.is_dir(), reason="../shared/docs/seeds is not present")


def _spec(name: str) -> dict:
    return yaml.safe_load((STUDIES / f"{name}.yaml").read_text())


def _seed(name: str) -> str:
    return (SEEDS / _spec(name)["source"]).read_text()


def _claims(spec: dict) -> dict[tuple, float]:
    """(table, run, metric[, epoch]) -> claimed value, every non-null claim of the study file."""
    out = {}
    for table, t in spec.get("tables", {}).items():
        for run, values in (t.get("claimed") or {}).items():
            for key, value in values.items():
                if isinstance(value, dict):  # epoch_rows: epoch -> metric -> value
                    out.update({(table, run, metric, key): v for metric, v in value.items() if v is not None})
                elif value is not None:
                    out[(table, run, key)] = value
    return out


def _num(text: str) -> float:
    return float(re.sub(r"</?b>", "", text).strip())


def _tab_rows(text: str, after: str) -> list[list[str]]:
    """The tab-separated rows of the first table after the line containing ``after`` (header row included)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if after in line)
    rows, seen = [], False
    for line in lines[start + 1:]:
        if "\t" in line:
            rows.append([c.strip() for c in line.split("\t")])
            seen = True
        elif seen and line.strip():
            break
    return rows


def _expected_espcn(text: str) -> dict:
    rows = _tab_rows(text, "lower values indicate higher perceptual quality")
    runs = ["bicubic", "aplus", "srcnn_dong", "espcn"]  # SRCNN: Dong et al.'s, quoted (our srcnn is unclaimed)
    metrics = {"PSNR": "psnr_y", "SSIM": "ssim_y", "LPIPS": "lpips_alex"}
    assert rows[0][1:] == ["Bicubic", "A+", "SRCNN", "ESPCN"]
    return {("table1", run, metrics[r[0]]): _num(v) for r in rows[1:] for run, v in zip(runs, r[1:]) if v != "-"}


def _epoch_blocks(text: str) -> list[dict[int, tuple[float, float, float]]]:
    """Every per-epoch table of the srresnet_edsr document: epoch -> (PSNR, SSIM, FID)."""
    blocks, current = [], {}
    for line in text.splitlines():
        cells = [c for c in line.replace("\u2022", "").split("\t") if c.strip()]
        if len(cells) == 5 and cells[0].strip().isdigit():
            current[int(cells[1])] = tuple(float(c) for c in cells[2:])
        elif current and not line.strip() == "":
            blocks.append(current)
            current = {}
    return blocks + ([current] if current else [])


def _expected_srresnet_edsr(text: str) -> dict:
    blocks = _epoch_blocks(text)
    assert len(blocks) == 6, len(blocks)
    base, ours, base_again, ours_again, original, ablated = blocks
    assert base == base_again and ours == ours_again  # Sec. 3.6 repeats the tables of 3.4.1.4 and 3.5.6
    names = ("val_psnr_y", "val_ssim_y", "val_fid")
    out = {}
    for table, run, block in (("table_epochs", "srresnet", base), ("table_epochs", "edsr_l1", ours),
                              ("table_epochs_ablation", "edsr_l1#ablation", original),
                              ("table_epochs_ablation", "edsr_mse", ablated)):
        for epoch, values in block.items():
            out.update({(table, run, m, epoch): v for m, v in zip(names, values)})
        out.update({("table_final", run, m): v for m, v in zip(("psnr_y", "ssim_y", "fid"), block[49])})
    # per-image SSIM of named validation images (Secs. 3.6.1, 3.7.4), and of the best / worst image (3.4.1.4, 3.5.6)
    columns = {"SRResNet My Model": ("srresnet", "edsr_l1"), "Our model L1 Ablated Model MSE": ("edsr_l1", "edsr_mse")}
    for image, header, a, b in re.findall(r"Performed (?:Well|Poorly|Better) \u2014 (\d{4})\.png\n+(.+)\n"
                                          r"SSIM: ([\d.]+) SSIM: ([\d.]+)", text):
        for run, value in zip(columns[header.strip()], (a, b)):
            out[("table_images", run, "ssim_y", image)] = float(value)
    found = {("srresnet", "worst"): r"did not get a very good \*\*SSIM \(([\d.]+)\)\*\*",
             ("srresnet", "best"): r"relatively high SSIM score of ([\d.]+)",
             ("edsr_l1", "best"): r"reflected in the high SSIM value of ([\d.]+), indicating strong structural"
                                  r" similarity to the original\n\nLow Resolution",
             ("edsr_l1", "worst"): r"Worst Results \(Lowest SSIM\)\nSuper Resolution\nSSIM: ([\d.]+)"}
    for (run, image), pattern in found.items():
        (value,) = re.findall(pattern, text)
        out[("table_best_worst", run, "ssim_y", image)] = float(value)
    return out


def _residual_rows(text: str) -> list[list[str]]:
    return [line.split("\t") for line in text.splitlines()
            if line.startswith('<input type="checkbox"/> ') and "NAME" not in line]


def _run_keys(rows: list[list[str]]) -> list[str]:
    """The study's run key of each document row: its name without '-', _rep2 for a second row of that name."""
    seen: dict[str, int] = {}
    keys = []
    for row in rows:
        key = row[0].split()[-1].replace("-", "")
        seen[key] = seen.get(key, 0) + 1
        keys.append(key if seen[key] == 1 else f"{key}_rep{seen[key]}")
    return keys


def _seconds(runtime: str) -> int:
    return sum(int(p[:-1]) * {"h": 3600, "m": 60, "s": 1}[p[-1]] for p in runtime.split())


def _expected_residual_sweep(text: str) -> dict:
    rows = _residual_rows(text)
    assert len(rows) == 31
    out = {}
    for key, row in zip(_run_keys(rows), rows):
        runtime, _ch, _eta, _lr, _blocks, train_mse, val_mse, val_psnr, val_ssim = row[1:]
        table = "table_deep" if key.startswith("plain") else "table_refiner"
        out[(table, key, "mse_noshave")] = float(val_mse)
        out[(table, key, "psnr_rgb_skimage_noshave")] = float(val_psnr)
        out[(table, key, "ssim_rgb_skimage_noshave")] = float(val_ssim)
        out[("table_training", key, "train_loss")] = float(train_mse)
        out[("table_training", key, "train_seconds")] = _seconds(runtime)
    best = re.search(r"\*\*([0-9.]+)\*\* MSE score on validation dataset, \*\*([0-9.]+) PSNR\*\* and "
                     r"\*\*([0-9.]+)\*\* SSIM", text)
    for metric, value in zip(("mse_noshave", "psnr_rgb_skimage_noshave", "ssim_rgb_skimage_noshave"), best.groups()):
        out[("headline", "plain_b24_c612", metric)] = float(value)
    return out


def _expected_rrdb_gan(text: str) -> dict:
    out = {}
    for n, table in enumerate(("t1", "t2", "t3", "t4", "t5"), start=1):
        rows = _tab_rows(text, f"**Table {n}:**")
        assert rows[0] == ["Method", "PSNR", "SSIM", "LPIPS"], rows[0]
        spec = _spec("rrdb_gan")["tables"][table]  # the study lists the claimed runs in the document's order
        runs = [r for r in spec["runs"] if r in spec["claimed"]]
        assert len(runs) == len(rows) - 1, table
        for run, row in zip(runs, rows[1:]):
            out.update({(table, run, m): _num(v) for m, v in zip(("psnr_rgb", "ssim_rgb", "lpips_alex"), row[1:])})
    return out


def _expected_inverted_unet(text: str) -> dict:
    rows = _tab_rows(text, "Lower LPIPS and higher MS-SSIM")
    assert rows[0] == ["Architecture", "Epochs", "LPIPS", "MS-SSIM"]
    runs = {"Inverted U-Net": "unet_lpips", "SRCNN": "srcnn_lpips", "ESPCN": "espcn_lpips"}
    paper = load_study(STUDIES / "inverted_unet.yaml", "paper")
    out = {}
    for name, epochs, lpips, ms_ssim in rows[1:]:
        run = runs[name]
        assert paper.runs[run]["epochs"] == int(epochs), run  # the table's epochs are the run's
        out[("table1", run, "lpips_vgg")] = float(lpips)
        out[("table1", run, "ms_ssim")] = float(ms_ssim)
    return out


EXPECTED = {"espcn": _expected_espcn, "srresnet_edsr": _expected_srresnet_edsr,
            "residual_sweep": _expected_residual_sweep, "rrdb_gan": _expected_rrdb_gan,
            "inverted_unet": _expected_inverted_unet}


@needs_seeds
@pytest.mark.parametrize("name", NAMES)
def test_every_number_of_the_document_is_claimed_as_it_gives_it(name):
    expected = EXPECTED[name](_seed(name))
    claimed = _claims(_spec(name))
    assert sorted(set(expected) - set(claimed), key=str) == [], "dropped claims"
    assert sorted(set(claimed) - set(expected), key=str) == [], "claims the document does not make"
    wrong = {k: (claimed[k], v) for k, v in expected.items() if claimed[k] != pytest.approx(v, rel=0, abs=1e-12)}
    assert wrong == {}, "claimed (study file) vs document"


@pytest.mark.parametrize("name", NAMES)
def test_claim_count_written_beside_the_source(name):
    spec = _spec(name)
    assert spec["claimed_values"] == len(_claims(spec))


def test_every_claimed_table_states_its_provenance():
    for name in NAMES:
        for table, t in _spec(name)["tables"].items():
            if not t.get("claimed"):
                continue
            prov = t["claimed_on"]
            assert {"data", "dataset", "scale", "protocol", "section"} <= set(prov), (name, table)
            assert prov["scale"] == _spec(name)["scale"], (name, table)


def test_schema_requires_provenance(tmp_path):
    from sisr.base.errors import ConfigError

    spec = _spec("espcn")
    del spec["tables"]["table1"]["claimed_on"]
    bad = tmp_path / "espcn.yaml"
    bad.write_text(yaml.safe_dump(spec))
    with pytest.raises(ConfigError, match="table1: 'claimed_on' is a required property"):
        load_study(bad, "demo")
    spec = _spec("espcn")
    del spec["tables"]["table1"]["claimed_on"]["data"]
    bad.write_text(yaml.safe_dump(spec))
    with pytest.raises(ConfigError, match="claimed_on: 'data' is a required property"):
        load_study(bad, "demo")


@needs_seeds
def test_residual_sweep_paper_runs_have_the_rows_hyper_parameters():
    rows = _residual_rows(_seed("residual_sweep"))
    paper = load_study(STUDIES / "residual_sweep.yaml", "paper")
    seeds = {}
    for key, row in zip(_run_keys(rows), rows):
        name, channels, eta_min, lr, blocks = row[0].split()[-1], int(row[2]), float(row[3]), float(row[4]), int(row[5])
        cfg = paper.runs[key]
        assert cfg["model"] == ("deep_residual" if name.startswith("plain") else "bicubic_refiner"), key
        assert cfg["model_args"] == {"blocks": blocks, "channels": channels}, key
        assert cfg["optimizer"]["lr"] == lr and cfg["scheduler"]["eta_min"] == eta_min, key
        assert cfg["epochs"] == (75 if name.endswith("_e75") else 50), key
        seeds.setdefault(key.split("_rep")[0], []).append(cfg["seed"])
    assert all(len(set(s)) == len(s) for s in seeds.values()), "a replica shares its seed"
    assert sum(len(s) == 2 for s in seeds.values()) == 6  # six names appear twice in the tables


def _fake_results(study, tmp_path):
    """A summary (every run on every evaluation set, every metric 0.5) and histories, as a tier would make."""
    rows = [{"run": r, "dataset": e.label, "scale": study.scale,
             **{m: 0.5 for m in study.metrics + ("psnr_y_crop96", "ssim_y_crop96", "psnr_rgb_skimage_noshave",
                                                 "ssim_rgb_skimage_noshave", "lpips_alex_standardised")}}
            for r in study.all_models for e in study.eval_data]
    folder = tmp_path / study.name
    folder.mkdir()
    pd.DataFrame(rows).to_csv(folder / "summary.csv", index=False)
    histories = {}
    for run in study.runs:
        (folder / run).mkdir()
        pd.DataFrame({"epoch": range(1, 51), "train_loss": 0.1, "val_loss": 0.1, "val_psnr_y": 30.0,
                      "val_ssim_y": 0.8}).to_csv(folder / run / "history.csv", index=False)
        histories[run] = str(folder / run / "history.csv")
    return folder / "summary.csv", histories


@pytest.mark.parametrize("tier", ["ci", "demo"])
@pytest.mark.parametrize("name", NAMES)
def test_photograph_tiers_give_no_verdict(name, tier, tmp_path):
    """ci/demo evaluate scikit-image photographs, where no document measured anything: no verdict, the reason."""
    from sisr.workflow.jobs import claims_report_job, table_job

    study = load_study(STUDIES / f"{name}.yaml", tier)
    summary, histories = _fake_results(study, tmp_path)
    out = tmp_path / "REPORT.md"
    claims_report_job(study=study, summary=str(summary), out=str(out), histories=histories)
    text = out.read_text()
    claims_part = text.split("## Claims", 1)[1]
    rows = [line for line in claims_part.splitlines() if line.startswith("| ") and not line.startswith("| Table")]
    assert len(rows) == _spec(name)["claimed_values"]
    for row in rows:
        verdict = row.rstrip(" |").rsplit("|", 1)[-1].strip()
        assert verdict.startswith("not comparable in this tier: claimed on ") or verdict.startswith("quoted"), row
    assert "**0 reproduced, 0 not reproduced**" in text and "Totals: reproduced: 0, not reproduced: 0, indicative: 0" in text
    for table in study.tables:  # the tables show our numbers, never a difference to a claim
        md = tmp_path / f"{table}.md"
        table_job(study=study, table=table, summary=str(summary),
                  out_csv=str(tmp_path / f"{table}.csv"), out_md=str(md), out_tex=str(tmp_path / f"{table}.tex"),
                  histories=histories)
        assert not re.search(r"\d vs \d", md.read_text()), (name, table)


def test_family_comparison_draws_the_configurations_both_families_have(tmp_path):
    from sisr.report import figures
    from sisr.report.figures import _best_run

    data = pd.DataFrame([
        {"run": "refiner_b16_c64", "model": "bicubic_refiner", "blocks": 16, "channels": 64, "mse_noshave": 0.009},
        {"run": "plain_b16_c64", "model": "deep_residual", "blocks": 16, "channels": 64, "mse_noshave": 0.006},
        {"run": "plain_b24_c612", "model": "deep_residual", "blocks": 24, "channels": 612, "mse_noshave": 0.005},
    ])
    fig = figures.family_comparison(data, metrics=["mse_noshave"], title="t")
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert labels == ["16 x 64"]
    assert len([p for p in fig.axes[0].patches if p.get_height()]) == 2
    summary = tmp_path / "summary.csv"
    data.assign(dataset="v").to_csv(summary, index=False)
    study = SimpleNamespace(degradation="bicubic")
    assert _best_run(str(summary), "mse_noshave", list(data["run"]), study) == "plain_b24_c612"  # lower is better
    assert _best_run(str(summary), "mse_noshave", ["refiner_b16_c64", "plain_b16_c64"], study) == "plain_b16_c64"


def _resolutions(name: str) -> list[str]:
    """The study file's ``# Resolution`` comments, each with the comment lines that continue it."""
    blocks: list[str] = []
    current = None
    for line in (STUDIES / f"{name}.yaml").read_text().splitlines():
        comment = line.split("#", 1)[1].strip() if "#" in line else None
        if comment is not None and comment.startswith("Resolution"):
            current = comment
            blocks.append(current)
        elif comment is not None and current is not None and line.lstrip().startswith("#"):
            blocks[-1] += " " + comment
        else:
            current = None
    return blocks


def _resolved(name: str, *words: str) -> bool:
    return any(all(w.lower() in block.lower() for w in words) for block in _resolutions(name))


def test_each_deviation_is_fixed_in_the_paper_tier_or_resolved():
    """The deviations of issue 11: fixed in the paper tier (checked on the resolved study) or a Resolution."""
    from sisr.data.derived import AUTHORS_DATA_PATH

    paper = {n: load_study(STUDIES / f"{n}.yaml", "paper") for n in NAMES}
    # precision: fp16 AMP where the document says so (residual_sweep), else a Resolution per study
    assert all(r["amp"] == "fp16" for r in paper["residual_sweep"].runs.values())
    for name in ("espcn", "srresnet_edsr", "rrdb_gan", "inverted_unet"):
        assert _resolved(name, "precision", "auto"), name
        assert all(r["amp"] == "auto" for r in paper[name].runs.values()), name
    # espcn: Fig. 3 drawn from DIV2K
    assert paper["espcn"].figures["fig3_examples"]["dataset"] == "div2k-valid"
    assert "div2k-valid" in [r.label for r in paper["espcn"].eval_data]
    # residual_sweep: Fig. 5 compares the families, Fig. 6 is the best model's progress; the lr runs as named
    figs = paper["residual_sweep"].figures
    assert figs["fig5_comparison"]["kind"] == "family_comparison" and figs["fig6_progress"]["best_by"] == "mse_noshave"
    assert not any("_lr" in r and "_e75" not in r for r in paper["residual_sweep"].runs)  # no invented lr sweep
    assert _resolved("residual_sweep", "LR column", "name")
    # srresnet_edsr: SRResNet recipe, mean/std shift, best checkpoint (PSNR and loss), per-epoch FID note
    for words in (("SRResNet recipe",), ("mean", "std"), ("best checkpoint", "PSNR and Loss")):
        assert _resolved("srresnet_edsr", *words), words
    assert "FID per epoch" in (STUDIES / "srresnet_edsr.yaml").read_text()
    # rrdb_gan: Eq. 5 perceptual distance in every GAN run; the RRDB residual scaling resolved against their code
    for run, cfg in paper["rrdb_gan"].runs.items():
        for term in cfg["loss"]:
            if term["name"] == "perceptual":
                assert term["criterion"] == "squared_l2", run
    assert _resolved("rrdb_gan", "skip sums", "0.2", "code")
    # inverted_unet: PIL resizing and full-range Y; LPIPS of the loss network (VGG); Fig. 4 a separate 30-epoch run
    assert AUTHORS_DATA_PATH["inverted_unet"] == {"resize": "pil", "luma": "pil"}
    claimed = paper["inverted_unet"].tables["table1"]["claimed"]
    assert all(set(v) == {"lpips_vgg", "ms_ssim"} for v in claimed.values()) and _resolved("inverted_unet", "VGG")
    fig4 = paper["inverted_unet"].figures["fig4_val"]["runs"]
    assert [paper["inverted_unet"].runs[r]["epochs"] for r in fig4 if r in paper["inverted_unet"].runs] == [30]
    assert [r.label for r in paper["inverted_unet"].eval_data][1:] == ["Set5", "Set14"]  # standard protocol beside
