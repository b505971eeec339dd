"""Speed modes (sisr.training.modes): resolution per device and model, and the CPU path of the engine options."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from sisr.data.cache import CacheWriter
from sisr.data.loader import open_train_source
from sisr.errors import ConfigError
from sisr.training import TrainConfig, load_checkpoint, train
from sisr.training import modes
from sisr.training.modes import Mode, resolve


def _cfg(**overrides) -> TrainConfig:
    d = {"model": "espcn", "scale": 2, "in_channels": 1, "loss": [{"name": "mse", "weight": 1.0}],
         "optimizer": {"name": "adam", "lr": 1e-3}, "epochs": 2, "batch_size": 4, "patch_size": 6, "seed": 0}
    d.update(overrides)
    return TrainConfig.from_dict(d, where="runs.x")


def test_auto_is_all_off_on_the_cpu_and_explicit_settings_win(monkeypatch):
    monkeypatch.setitem(modes.FASTEST, "espcn", Mode(amp="bf16", channels_last=True, cuda_graph=True))
    cpu = torch.device("cpu")
    assert resolve(_cfg(), cpu, cache_bytes=lambda: 1) == Mode()
    assert resolve(_cfg(channels_last=True, data_on_device=True), cpu, cache_bytes=lambda: 1) == \
        Mode(channels_last=True, data_on_device=True)
    said = []
    assert resolve(_cfg(cuda_graph=True), cpu, log=said.append) == Mode()
    assert said == ["cuda_graph ignored on cpu"]
    # on CUDA the table decides what is left out (no GPU needed: data_on_device given, so nothing is queried)
    cuda = torch.device("cuda")
    assert resolve(_cfg(data_on_device=False), cuda) == Mode(amp="bf16", channels_last=True, cuda_graph=True)
    assert resolve(_cfg(amp="off", cuda_graph=False, data_on_device=True), cuda, cache_bytes=lambda: 1) == \
        Mode(amp="off", channels_last=True, data_on_device=True)
    assert resolve(_cfg(compile=True, data_on_device=False), cuda).cuda_graph is False  # graphs never with compile
    assert resolve(_cfg(data_on_device=True), cuda).data_on_device is False  # a source that cannot move
    assert resolve(_cfg(model="srcnn", data_on_device=False), cuda) == Mode()  # no row: float32, eager


@pytest.mark.parametrize("extra,clash", [({"amp": "fp16"}, "amp fp16"), ({"compile": True}, "compile")])
def test_cuda_graph_with_an_incompatible_option_is_a_config_error(extra, clash):
    with pytest.raises(ConfigError, match=f"runs.x.cuda_graph: .* {clash}"):
        _cfg(cuda_graph=True, **extra)


def _source(tmp_path, batch_size=4):
    writer = CacheWriter(tmp_path / "cache", scale=2, mode="y")
    for i, (h, w) in enumerate([(10, 12), (9, 9), (14, 8)]):
        rng = np.random.default_rng(i)
        writer.add(f"im{i}", rng.integers(0, 256, (2 * h, 2 * w), dtype=np.uint8),
                   rng.integers(0, 256, (h, w), dtype=np.uint8))
    writer.finish(key="test")
    return open_train_source(tmp_path / "cache", scale=2, patch_size=6, batch_size=batch_size,
                             epoch_def="patches_per_image", patches_per_image=4, augment=("hflip", "vflip", "rot90"),
                             seed=0)


def _valid():
    rng = np.random.default_rng(9)
    hr = torch.from_numpy(rng.integers(0, 256, (1, 1, 16, 16), dtype=np.uint8))
    return [("v", hr[:, :, ::2, ::2].contiguous(), hr)]


def test_device_data_trains_exactly_like_the_host_source_on_the_cpu(tmp_path):
    torch.set_num_threads(1)
    out = {}
    for flag in (False, True):
        result = train(_cfg(data_on_device=flag), train_source=_source(tmp_path), valid_source=_valid(),
                       out_dir=tmp_path / f"run_{flag}", device="cpu", log=lambda m: None)
        out[flag] = load_checkpoint(tmp_path / f"run_{flag}" / "checkpoint_last.pt")["model"]
        done = json.loads((tmp_path / f"run_{flag}" / "train_done.json").read_text())
        assert done["mode"] == Mode(data_on_device=flag).to_dict()
        assert result.epochs_run == 2
    assert all(torch.equal(out[False][k], out[True][k]) for k in out[False])
