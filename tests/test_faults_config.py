"""Fault injection on the workflow's configuration, as a user meets it in ``snakemake -n``: a key repeated in a
study or config file, a YAML mistake, a ``--config`` override typed on the command line.

Part of the fault-injection suite (marker ``fault``; README "Reliability"). Each error is one line naming the file
and line, or where the value came from (command line, config file, study file), without stack frames.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sisr.base.errors import ConfigError
from sisr.config.studies import COMMAND_LINE, load_workflow_config, load_yaml_file, yaml_typed

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.fault


def dry_run(tmp_path: Path, *args: str, configfile: Path | None = None) -> subprocess.CompletedProcess:
    """``snakemake -n`` with the repository's config.yaml, then ``configfile`` (both given as --configfile)."""
    files = [str(ROOT / "config.yaml")] + ([str(configfile)] if configfile else [])
    cmd = [sys.executable, "-m", "snakemake", "-n", "--cores", "1", "--snakefile", str(ROOT / "Snakefile"),
           "--directory", str(tmp_path), "--configfile", *files, *args]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)


def error_lines(res: subprocess.CompletedProcess) -> list[str]:
    """Everything printed but Snakemake's banner about the workflow profile."""
    out = (res.stdout + res.stderr).splitlines()
    return [line for line in out if line.strip() and not line.startswith("Using workflow specific profile")]


def one_line(res: subprocess.CompletedProcess, *parts: str) -> str:
    lines = error_lines(res)
    assert res.returncode != 0 and len(lines) == 1, "\n".join(lines)
    assert all(p in lines[0] for p in parts), lines[0]
    assert "Traceback" not in lines[0] and 'File "' not in lines[0]
    return lines[0]


def study_copy(tmp_path: Path, edit) -> Path:
    folder = tmp_path / "studies"
    folder.mkdir()
    path = folder / "espcn.yaml"
    path.write_text(edit((ROOT / "studies" / "espcn.yaml").read_text()))
    return path


# ---------------------------------------------------------------------------------------------- repeated keys


def test_a_run_name_given_twice_in_a_study_file_fails_the_dry_run_naming_file_line_and_key(tmp_path):
    # the second `espcn:` (SRCNN) silently replaced the first: the run labelled espcn trained SRCNN
    path = study_copy(tmp_path, lambda text: text.replace("runs:\n", "runs:\n  espcn:\n    model: srcnn\n", 1))
    res = dry_run(tmp_path, "--config", f"studies_dir={path.parent}")
    one_line(res, f"{path}:", "duplicate key 'espcn'", "first at line")


def test_a_key_given_twice_in_a_config_file_fails_the_dry_run(tmp_path):
    cfg = tmp_path / "mine.yaml"
    cfg.write_text(f"studies_dir: {ROOT / 'studies'}\ntier: demo\nstudies: espcn\ntier: ci\n")
    one_line(dry_run(tmp_path, configfile=cfg), f"{cfg}:4: duplicate key 'tier' (first at line 2")


def test_repeated_keys_at_any_depth_are_refused_and_merge_keys_kept(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text("a:\n  b: {c: 1, c: 2}\n")
    with pytest.raises(ConfigError, match=r"x\.yaml:2: duplicate key 'c'"):
        load_yaml_file(path)
    path.write_text("base: &b {lr: 1}\nrun:\n  <<: *b\n  lr: 2\n")  # a merge key overriding is not a repetition
    assert load_yaml_file(path) == {"base": {"lr": 1}, "run": {"lr": 2}}


# ---------------------------------------------------------------------------------------------- YAML mistakes


def test_a_yaml_mistake_in_a_study_file_is_one_line_with_line_and_column(tmp_path):
    path = study_copy(tmp_path, lambda text: text.replace("\n  espcn:\n", "\n  espcn: [oops\n", 1))
    res = dry_run(tmp_path, "--config", f"studies_dir={path.parent}")
    line = one_line(res, f"{path}:", "YAML syntax error")
    assert line.split(f"{path}:")[1].split(":")[0].isdigit()


def test_a_yaml_mistake_in_config_yaml_is_one_line_with_line_and_column(tmp_path):
    (tmp_path / "config.yaml").write_text("tier: demo\nstudies: [espcn\n")
    cmd = [sys.executable, "-m", "snakemake", "-n", "--cores", "1", "--snakefile", str(ROOT / "Snakefile"),
           "--directory", str(tmp_path)]
    res = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    one_line(res, "config.yaml:3:1: YAML syntax error")


# ---------------------------------------------------------------------------------------------- --config overrides


@pytest.mark.parametrize("override", ["train_overrides={epochs: 1}", "train_overrides={optimizer: {lr: 0.001}}",
                                      "tensorboard=true", "train_overrides={batch_size: 4, grad_clip: null, val_ssim: false}"])
def test_command_line_overrides_are_typed_as_in_a_config_file(tmp_path, override):
    res = dry_run(tmp_path, "--config", f"studies_dir={ROOT / 'studies'}", override)
    assert res.returncode == 0, "\n".join(error_lines(res))


@pytest.mark.parametrize(("override", "parts"), [
    ("tensorboard=maybe", [f"{COMMAND_LINE}: tensorboard: 'maybe' is not of type 'boolean'"]),
    ("train_overrides={epochs: x}", [f"{COMMAND_LINE}: train_overrides.epochs: expected int, got str 'x'",
                                     "applied to the runs of", "espcn.yaml, tier demo"]),
    ("train_overrides={optimizer: {lr: -1}}", [f"{COMMAND_LINE}: train_overrides.optimizer.lr: expected > 0"]),
])
def test_a_bad_command_line_value_is_blamed_on_the_command_line(tmp_path, override, parts):
    one_line(dry_run(tmp_path, "--config", f"studies_dir={ROOT / 'studies'}", override), *parts)


def test_a_bad_config_file_value_names_the_config_file(tmp_path):
    cfg = tmp_path / "mine.yaml"
    cfg.write_text(f"studies_dir: {ROOT / 'studies'}\ntrain_overrides: {{epochs: 0}}\n")
    one_line(dry_run(tmp_path, configfile=cfg),
             f"config file {cfg}: train_overrides.epochs: expected an integer >= 1")


def test_a_study_file_error_is_still_blamed_on_the_study_file_under_overrides(tmp_path):
    path = study_copy(tmp_path, lambda text: text.replace("model: espcn_bn_residual", "model: espcn_typo", 1))
    res = dry_run(tmp_path, "--config", f"studies_dir={path.parent}", "train_overrides={epochs: 1}")
    one_line(res, f"{path}: runs.espcn.model: unknown model 'espcn_typo'")


def test_yaml_typed_reads_words_and_numbers_as_a_config_file_would():
    cli = {"train_overrides": {"epochs": "1", "optimizer": {"lr": "0.001", "name": "adam"}, "amp": "false",
                               "keep_checkpoints": ["2", "4"], "note": "a: b", "init_checkpoint": ""},
           "tensorboard": "true", "tier": "paper", "mirror": "http://host:8000/x", "num_workers": 2}
    assert yaml_typed(cli) == {
        "train_overrides": {"epochs": 1, "optimizer": {"lr": 0.001, "name": "adam"}, "amp": False,
                            "keep_checkpoints": [2, 4], "note": "a: b", "init_checkpoint": None},
        "tensorboard": True, "tier": "paper", "mirror": "http://host:8000/x", "num_workers": 2}


def test_load_workflow_config_merges_the_typed_command_line_over_the_files(tmp_path):
    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text("tier: demo\nstudies: espcn\ntrain_overrides: {epochs: 3, batch_size: 4}\n")
    merged = {"tier": "demo", "studies": "espcn", "train_overrides": {"epochs": "1", "batch_size": 4}}
    cfg, origin = load_workflow_config(merged, files=[cfg_file], command_line={"train_overrides": {"epochs": "1"}})
    assert cfg["train_overrides"] == {"epochs": 1, "batch_size": 4}
    assert origin(("train_overrides", "epochs")) == COMMAND_LINE
    assert origin(("train_overrides", "batch_size")) == f"config file {cfg_file}"
    assert origin(("tier",)) == f"config file {cfg_file}" and origin(("device",)) == "config"
