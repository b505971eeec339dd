"""The path scheme has one owner (sisr.base.paths): the documented copies are its output, the rules build no path by
hand, and a set under a degradation has its own key in every path."""

import re
from pathlib import Path

import pandas as pd
import pytest

from helpers.studies import edited_study
from sisr import degradations
from sisr.base import paths
from sisr.base.errors import ConfigError
from sisr.workflow.jobs import summarize_job
from sisr.base.paths import Paths, scheme_lines, set_key
from sisr.config.studies import DatasetRef, load_study

ROOT = Path(__file__).resolve().parents[1]


def _markdown_block(path: Path) -> list[str]:
    text = path.read_text()
    section = text[text.index("## Path scheme"):]
    return section.split("```\n")[1].splitlines()


def _snakefile_block() -> list[str]:
    lines = (ROOT / "Snakefile").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("# Path scheme"))
    block = [line for line in lines[start:] if line.startswith("#   ")]
    block = block[: next((i for i, line in enumerate(lines[start:]) if not line.startswith("#")), len(block))]
    return [line[4:] for line in block]


def test_the_documented_scheme_is_the_modules():
    assert _markdown_block(ROOT / "docs" / "ARCHITECTURE.md") == scheme_lines()
    assert _markdown_block(ROOT / "README.md") == scheme_lines()
    assert _snakefile_block() == scheme_lines()


def test_rules_build_no_path_by_hand():
    """Every path in rules/*.smk comes from sisr.base.paths (the P object): no f-string on a folder variable, no literal
    results/data file name."""
    for rule_file in sorted((ROOT / "rules").glob("*.smk")):
        text = re.sub(r'""".*?"""|#[^\n]*', "", rule_file.read_text(), flags=re.S)  # code only
        for pattern in (r"\{(RES|DATA|LOGS|TIER_LOGS|WEIGHTS)\}", r"\"[^\"\n]*/(eval|sr|eval_epochs|tables|figures)/",
                        r"checkpoint_best\.pt|train_done\.json|history\.csv|summary\.csv|REPORT\.md"):
            found = re.findall(pattern, text)
            assert not found, f"{rule_file.name}: hand-built path ({pattern}): {found}"


def test_default_degradation_is_the_registrys():
    assert paths.DEFAULT_DEGRADATION == degradations.DEFAULT


def test_a_set_under_a_degradation_has_its_own_key_in_every_path():
    p = Paths(data_dir="d", results_dir="r", logs_dir="l", weights_dir="w", tier="ci")
    bicubic, bd = DatasetRef.parse("benchmark/Set5"), DatasetRef.parse("benchmark/Set5@bd")
    assert (bicubic.key, bd.key, str(bd)) == ("Set5", "bd/Set5", "benchmark/Set5@bd")
    assert DatasetRef.parse("benchmark/Set5", "dn").key == "dn/Set5"  # the study's degradation
    assert DatasetRef.parse("benchmark/Set5@bd", "dn").key == "bd/Set5"  # the set's own wins
    assert p.eval_csv("s", "bicubic", bicubic.key, 4) == "r/ci/s/bicubic/eval/Set5_x4.csv"  # as before
    assert p.eval_csv("s", "bicubic", bd.key, 4) == "r/ci/s/bicubic/eval/bd/Set5_x4.csv"
    assert p.sr_dir("s", "bicubic", bd.key, 4) == "r/ci/s/bicubic/sr/bd/Set5_x4"
    assert p.cache_manifest("div2k", "train", 4, "rgb") == "d/cache/div2k/train/x4_rgb/manifest.json"
    assert p.cache_manifest("div2k", "train", 4, "rgb", "bd") == "d/cache/div2k/train/bd/x4_rgb/manifest.json"
    assert set_key("Set5", "pil_bicubic") == "pil_bicubic/Set5"
    assert p.eval_csv("s", "r", "{evalset}", "{scale}") == "r/ci/s/r/eval/{evalset}_x{scale}.csv"  # a pattern


def _study(tmp_path, edit) -> Path:
    return edited_study(tmp_path, edit)


def test_a_study_chooses_its_degradation_and_one_per_evaluation_set(tmp_path):
    def edit(spec):
        spec["degradation"] = "bd"
        spec["tiers"]["ci"]["data"]["eval"] = ["skimage/valid", "skimage/valid@dn"]

    study = load_study(_study(tmp_path, edit), "ci")
    assert [r.key for r in study.eval_data] == ["bd/skimage-valid", "dn/skimage-valid"]
    assert (study.degradation, study.train_data.degradation) == ("bd", "bd")


@pytest.mark.fault
@pytest.mark.parametrize("edit, where", [
    (lambda s: s.update(degradation="bdd"), "espcn.yaml: degradation: unknown degradation 'bdd'; did you mean 'bd'?"),
    (lambda s: s["tiers"]["ci"]["data"].update(eval=["skimage/valid@nd"]), "tiers.ci.data.eval[0]: unknown degradation"),
])
def test_an_unknown_degradation_in_a_study_file_is_one_line_naming_the_key(tmp_path, edit, where):
    with pytest.raises(ConfigError) as err:
        load_study(_study(tmp_path, edit), "ci")
    assert where in str(err.value) and "\n" not in str(err.value)


def test_summarize_takes_the_sets_from_the_workflow_not_from_file_names(tmp_path):
    csvs = []
    for i, name in enumerate(("first.csv", "second.csv")):  # names that say nothing about the set
        csvs.append(tmp_path / name)
        pd.DataFrame({"study": "s", "run": "bicubic", "model": "bicubic", "dataset": "x", "scale": 3,
                      "image": ["a"], "psnr_y": [30.0 + i]}).to_csv(csvs[-1], index=False)
    summary = summarize_job(csvs=csvs, out=str(tmp_path / "summary.csv"), sets=[("Set5", "bd"), ("Set5", "dn")])
    assert list(zip(summary["dataset"], summary["degradation"], summary["psnr_y"])) == [
        ("Set5", "bd", 30.0), ("Set5", "dn", 31.0)]


def test_the_trainers_file_names_are_the_schemes():
    from sisr.training.engine import BEST, DONE, HISTORY, LAST  # the names the trainer writes in its run folder

    assert [Path(f).name for f in (paths.checkpoint("s", "r", "last"), paths.checkpoint("s", "r"),
                                   paths.history("s", "r"), paths.train_done("s", "r"))] == [LAST, BEST, HISTORY, DONE]
