"""Speed modes (sisr.training.modes): resolution per device and model, and the CPU path of the engine options."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from sisr.data.cache import CacheWriter
from sisr.data.loader import open_train_source
from sisr.base.errors import ConfigError
from sisr.training import TrainConfig, load_checkpoint, train
from sisr.training import modes as modes_mod
from sisr.training.modes import Mode, resolve


def _cfg(**overrides) -> TrainConfig:
    d = {"model": "espcn", "scale": 2, "in_channels": 1, "loss": [{"name": "mse", "weight": 1.0}],
         "optimizer": {"name": "adam", "lr": 1e-3}, "epochs": 2, "batch_size": 4, "patch_size": 6, "seed": 0}
    d.update(overrides)
    return TrainConfig.from_dict(d, where="runs.x")


def _row(shape, work, *modes, gan=False):
    return modes_mod.Measured(shape, int(work), 1, 1, tuple((m, 100.0 - i) for i, m in enumerate(modes)),
                              baseline=1.0, gan=gan)


def test_auto_is_all_off_on_the_cpu_and_explicit_settings_win(monkeypatch):
    fast = Mode(amp="bf16", channels_last=True, cuda_graph=True)
    monkeypatch.setitem(modes_mod.FASTEST, "espcn", (_row("s", 1e6, fast, Mode(amp="off", cuda_graph=True)),))
    cpu = torch.device("cpu")
    assert resolve(_cfg(), cpu, cache_bytes=lambda: 1) == Mode()
    assert resolve(_cfg(channels_last=True, data_on_device=True), cpu, cache_bytes=lambda: 1) == \
        Mode(channels_last=True, data_on_device=True)
    said = []
    assert resolve(_cfg(cuda_graph=True), cpu, log=said.append) == Mode()
    assert said == ["cuda_graph ignored on cpu"]
    # on CUDA the table decides what is left out (no GPU needed: data_on_device given, so nothing is queried)
    cuda = torch.device("cuda")
    assert resolve(_cfg(data_on_device=False), cuda) == fast
    assert resolve(_cfg(amp="off", data_on_device=False), cuda) == Mode(cuda_graph=True)  # the fastest fp32 mode
    assert resolve(_cfg(amp="bf16", cuda_graph=False, data_on_device=True), cuda, cache_bytes=lambda: 1) == \
        Mode(amp="bf16", channels_last=True, data_on_device=True)
    assert resolve(_cfg(compile=True, data_on_device=False), cuda).cuda_graph is False  # graphs never with compile
    assert resolve(_cfg(grad_clip=1.0, data_on_device=False), cuda).cuda_graph is False  # not measured with clipping
    assert resolve(_cfg(amp="fp16", data_on_device=False), cuda) == Mode(amp="fp16")  # nothing measured in fp16
    assert resolve(_cfg(data_on_device=True), cuda).data_on_device is False  # a source that cannot move
    monkeypatch.delitem(modes_mod.FASTEST, "srcnn")
    assert resolve(_cfg(model="srcnn", data_on_device=False), cuda) == Mode()  # no row: float32, eager


def test_the_nearest_measured_shape_decides(monkeypatch):
    small, big = Mode(amp="off", cuda_graph=True), Mode(amp="bf16", channels_last=True, compile=True)
    monkeypatch.setitem(modes_mod.FASTEST, "espcn", (_row("small", 1e4, small), _row("big", 1e8, big)))
    cuda = torch.device("cuda")
    assert resolve(_cfg(data_on_device=False), cuda, work=3e4) == small
    assert resolve(_cfg(data_on_device=False), cuda, work=3e7) == big
    assert resolve(_cfg(data_on_device=False, cuda_graph=True), cuda, work=3e7) == \
        Mode(amp="bf16", channels_last=True, cuda_graph=True)  # an explicit graph turns the table's compile off
    assert modes_mod.nearest("espcn", 1e4, gan=True) is None


def test_every_measured_row_is_consistent():
    from sisr.models import MODELS

    for model, rows in modes_mod.FASTEST.items():
        assert model in MODELS and rows
        for row in rows:
            speeds = [v for _, v in row.modes]
            assert speeds == sorted(speeds, reverse=True) and speeds[0] >= row.baseline, (model, row.shape)
            assert len({m.amp for m, _ in row.modes}) == len(row.modes)  # one mode per precision
            assert not any(m.compile and m.cuda_graph for m, _ in row.modes)
            assert not (row.gan and any(m.cuda_graph for m, _ in row.modes))


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
