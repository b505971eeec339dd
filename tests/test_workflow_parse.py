"""Planning the workflow is light and strict: parsing the Snakefile imports no torch, and a typo in a study
file (model, model argument, metric, dataset, run reference) fails `snakemake -n` naming the file and the key."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.studies import edited_study
from sisr.base.errors import ConfigError
from sisr.config.studies import load_study

ROOT = Path(__file__).resolve().parents[1]

# Runs snakemake with every import of torch refused: the parse (and the dry run) must not need it.
NO_TORCH = """
import sys
class _NoTorch:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("torch imported while the workflow was planned")
        return None
sys.meta_path.insert(0, _NoTorch())
from snakemake.cli import main
sys.argv = ["snakemake"] + sys.argv[1:]
main()
"""


def dry_run(tmp_path, *config_args):
    cmd = [sys.executable, "-c", NO_TORCH, "--snakefile", str(ROOT / "Snakefile"), "-n", "--cores", "1",
           "--directory", str(tmp_path), "--configfile", str(ROOT / "config.yaml"), "--config", *config_args]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_dry_run_imports_no_torch(tmp_path):
    res = dry_run(tmp_path, f"studies_dir={ROOT / 'studies'}")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "evaluate" in res.stdout and "train" in res.stdout


def test_the_import_hook_would_catch_torch(tmp_path):
    """The hook of the test above works: a workflow that imports torch fails under it."""
    code = NO_TORCH.replace("from snakemake.cli import main", "import sisr.metrics.perceptual as p; p.rgb_tensor")
    code = code.replace("main()", "import numpy as np; p.rgb_tensor(np.zeros((2, 2), np.uint8))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode != 0 and "torch imported while the workflow was planned" in res.stderr


def _study_with(tmp_path, edit) -> Path:
    return edited_study(tmp_path / "studies", edit)


def _set(keys, value):
    def edit(spec):
        node = spec
        for k in keys[:-1]:
            node = node[k]
        node[keys[-1]] = value
    return edit


TYPOS = [
    ("model", _set(["runs", "espcn", "model"], "espcn_bn_residuall"),
     r"runs\.espcn\.model: unknown model 'espcn_bn_residuall' \(did you mean 'espcn_bn_residual'\?\)"),
    ("model argument", _set(["tiers", "demo", "runs", "resnet_small", "model_args"], {"blocks": 4, "chanels": 32}),
     r"runs\.resnet_small\.model_args: model 'deep_residual' has no argument\(s\) chanels"),
    ("metric", _set(["tiers", "demo", "metrics"], ["psnr_y", "ssim_yy"]),
     r"tiers\.demo\.metrics: unknown metric 'ssim_yy' \(did you mean 'ssim_y'\?\)"),
    ("baseline", _set(["baselines"], ["bicubicc"]), r"baselines\.0: 'bicubicc' is not one of"),  # the schema's check
    ("run reference", _set(["runs", "espcn", "init_checkpoint"], "{run:srcnnn}"),
     r"runs\.espcn\.init_checkpoint: \{run:srcnnn\} names no other run"),
]


@pytest.mark.parametrize(("what", "edit", "message"), TYPOS, ids=[t[0] for t in TYPOS])
def test_typo_fails_resolution_naming_file_and_key(tmp_path, what, edit, message):
    path = _study_with(tmp_path, edit)
    try:
        load_study(path, "demo")
    except ConfigError as exc:
        assert str(path) in str(exc) and re.search(message, str(exc)), str(exc)
    else:
        pytest.fail(f"a misspelt {what} was accepted")


@pytest.mark.parametrize(("what", "edit", "message"), [
    TYPOS[0], TYPOS[2],
    ("dataset", _set(["tiers", "demo", "data", "eval"], ["skimagee/valid"]),
     r"tiers\.demo\.data\.eval\[0\]: unknown dataset 'skimagee' \(did you mean 'skimage'\?\)"),
], ids=["model", "metric", "dataset"])
def test_typo_fails_the_dry_run_naming_file_and_key(tmp_path, what, edit, message):
    path = _study_with(tmp_path, edit)
    res = dry_run(tmp_path, f"studies_dir={path.parent}")
    out = res.stdout + res.stderr
    assert res.returncode != 0, out
    assert str(path.parent) in out and re.search(message, out), out


def test_replicas_are_planned_as_training_jobs_and_the_config_key_overrides_their_count(tmp_path):
    def replicated(spec):
        spec["tiers"]["paper"]["replicas"] = {"n": 3, "runs": ["espcn"]}

    path = _study_with(tmp_path, replicated)
    res = dry_run(tmp_path, f"studies_dir={path.parent}", "tier=paper", "leaderboard=False")
    assert res.returncode == 0, res.stdout + res.stderr
    trained = set(re.findall(r"results/paper/espcn/(\w+)/train_done.json", res.stdout))
    assert trained == {"espcn", "espcn_seed1", "espcn_seed2", "srcnn"}, res.stdout[-2000:]
    res = dry_run(tmp_path, f"studies_dir={path.parent}", "tier=paper", "leaderboard=False", "replicas=1")
    assert set(re.findall(r"results/paper/espcn/(\w+)/train_done.json", res.stdout)) == {"espcn", "srcnn"}
