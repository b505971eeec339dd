"""Config and study files: schema validation names the key path; runs resolve by deep merge."""

from pathlib import Path

import pytest
import yaml

from sisr.base.errors import ConfigError
from sisr.config.studies import DatasetRef, deep_merge, load_config, load_study

ROOT = Path(__file__).resolve().parents[1]
STUDIES = ROOT / "studies"


def test_default_config_is_valid():
    cfg = load_config(yaml.safe_load((ROOT / "config.yaml").read_text()))
    assert cfg["tier"] == "demo" and cfg["studies"] == ["espcn"]


def test_one_study_name_is_a_list_of_one():
    """`--config studies=espcn` (found trying a GPU check: it was refused although the error text allowed it)."""
    assert load_config({"tier": "demo", "studies": "espcn"})["studies"] == ["espcn"]


@pytest.mark.parametrize(
    "config, expected",
    [
        ({"tier": "demo", "studies": ["espcn"], "epochs": 3}, "unknown key(s): 'epochs'"),
        ({"tier": "huge", "studies": ["espcn"]}, "config: tier: 'huge' is not one of"),
        ({"tier": "demo", "studies": "ESPCN"}, "config: studies: ['ESPCN'] is not valid; expected: Names of study files"),
        ({"tier": "demo", "studies": ["espcn"], "num_workers": -1}, "config: num_workers: -1 is less than"),
        ({"studies": ["espcn"]}, "'tier' is a required property"),
    ],
)
def test_config_errors_name_the_key(config, expected):
    with pytest.raises(ConfigError, match=None) as info:
        load_config(config)
    assert expected in str(info.value)


def test_every_study_file_validates_for_every_tier():
    for path in sorted(STUDIES.glob("*.yaml")):
        spec = yaml.safe_load(path.read_text())
        for tier in spec["tiers"]:
            study = load_study(path, tier)
            assert study.runs, f"{path.name} tier {tier} has no runs"


def test_espcn_demo_resolution():
    study = load_study(STUDIES / "espcn.yaml", "demo")
    assert list(study.runs) == ["espcn", "srcnn", "resnet_small"]
    espcn, srcnn = study.runs["espcn"], study.runs["srcnn"]
    assert espcn["model"] == "espcn_bn_residual" and espcn["batch_size"] == 8 and espcn["patch_size"] == 24
    assert espcn["optimizer"]["lr"] == 1e-3 and srcnn["optimizer"]["lr"] == 1e-4
    assert espcn["loss"] == [{"name": "mse", "weight": 1.0}]
    assert espcn["scale"] == 4 and espcn["in_channels"] == 3
    assert study.baselines == ("bicubic",)
    assert [r.label for r in study.eval_data] == ["skimage-valid"]
    paper = load_study(STUDIES / "espcn.yaml", "paper")
    assert "resnet_small" not in paper.runs and paper.runs["espcn"]["epochs"] == 50
    assert [r.label for r in paper.eval_data] == ["Set5", "div2k-valid"]


def test_train_overrides_apply_last():
    study = load_study(STUDIES / "espcn.yaml", "demo", train_overrides={"epochs": 1, "optimizer": {"lr": 0.5}})
    assert all(r["epochs"] == 1 and r["optimizer"]["lr"] == 0.5 for r in study.runs.values())
    assert study.runs["espcn"]["optimizer"]["name"] == "adam"


def test_study_errors(tmp_path):
    spec = yaml.safe_load((STUDIES / "espcn.yaml").read_text())
    spec["runs"]["espcn"]["learning_rate"] = 0.1
    bad = tmp_path / "espcn.yaml"
    bad.write_text(yaml.safe_dump(spec))
    with pytest.raises(ConfigError) as info:
        load_study(bad, "demo")
    assert "runs.espcn" in str(info.value) and "learning_rate" in str(info.value)
    with pytest.raises(ConfigError, match="no tier 'nope'"):
        load_study(STUDIES / "espcn.yaml", "nope")
    with pytest.raises(ConfigError, match="no study file"):
        load_study(STUDIES / "nonexistent.yaml", "demo")


def test_deep_merge_and_refs():
    assert deep_merge({"a": {"b": 1, "c": 2}, "l": [1]}, {"a": {"b": 3}, "l": [2]}) == {"a": {"b": 3, "c": 2}, "l": [2]}
    assert DatasetRef.parse("benchmark/Set5").label == "Set5"
    assert DatasetRef.parse("div2k/valid").label == "div2k-valid"


def test_sweep_expansion_keeps_types_and_names():
    from sisr.config.studies import expand_sweeps

    spec = {"sweeps": [{"name": "plain_b{blocks}_c{channels}_lr{lr}",
                        "axes": {"blocks": [8, 16], "channels": [64, 612], "lr": [1e-4, 7.5e-5]},
                        "run": {"model": "deep_residual", "model_args": {"blocks": "{blocks}", "channels": "{channels}"},
                                "optimizer": {"lr": "{lr}"}}}]}
    runs = expand_sweeps(spec, where="t")
    assert len(runs) == 8
    run = runs["plain_b16_c612_lr7.5e-05"]
    assert run["model_args"] == {"blocks": 16, "channels": 612} and run["optimizer"]["lr"] == 7.5e-5
    spec["sweeps"].append(spec["sweeps"][0])
    with pytest.raises(ConfigError, match="generated twice"):
        expand_sweeps(spec, where="t")


def test_deep_merge_replaces_a_renamed_component():
    base = {"scheduler": {"name": "multistep", "milestones": [100], "gamma": 0.5}}
    assert deep_merge(base, {"scheduler": {"name": "none"}}) == {"scheduler": {"name": "none"}}
    assert deep_merge(base, {"scheduler": {"gamma": 0.1}})["scheduler"] == {"name": "multistep", "milestones": [100],
                                                                            "gamma": 0.1}


def test_size_hint_orders_a_study_runs_as_their_parameter_counts():
    """The rules' priorities (largest training first) follow the models' real sizes within a family."""
    from sisr.config.studies import load_study, size_hint
    from sisr.models import count_parameters, create_model

    study = load_study(ROOT / "studies" / "residual_sweep.yaml", tier="quick")
    runs = {name: cfg for name, cfg in study.runs.items() if cfg.get("model") == "deep_residual"}
    assert len(runs) >= 4
    params = {name: count_parameters(create_model("deep_residual", scale=study.scale, in_channels=3, **cfg["model_args"]))
              for name, cfg in runs.items()}
    assert sorted(runs, key=lambda n: size_hint(runs[n])) == sorted(runs, key=params.get)
    assert size_hint({"model": "bicubic"}) < size_hint(runs["plain_b24_c612"])


def test_size_hint_knows_models_that_a_study_leaves_at_their_defaults():
    """srresnet_edsr's quick tier gives no model_args: EDSR (32 x 256, fixed by the registered name edsr_like) and
    SRResNet (16 x 64, the class's defaults) ranked as 1 x 64 and ran last in the quick-tier rehearsal."""
    from sisr.config.studies import load_study, size_hint
    from sisr.models import count_parameters, create_model

    study = load_study(ROOT / "studies" / "srresnet_edsr.yaml", tier="quick")
    runs = {name: cfg for name, cfg in study.runs.items() if not cfg.get("model_args")}
    assert {cfg["model"] for cfg in runs.values()} >= {"srresnet", "edsr_like"}
    params = {name: count_parameters(create_model(cfg["model"], scale=study.scale, in_channels=3))
              for name, cfg in runs.items()}
    per_epoch = {name: size_hint({**cfg, "epochs": 1}) for name, cfg in runs.items()}
    assert sorted(runs, key=per_epoch.get) == sorted(runs, key=params.get)
    edsr = next(n for n, cfg in runs.items() if cfg["model"] == "edsr_like")
    assert per_epoch[edsr] == 32 * 256**2  # not 1 x 64^2
