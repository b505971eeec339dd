"""Folder pairing and per-image evaluation on small PNGs written to a temporary folder."""

import numpy as np
import pytest

from sisr import evaluation
from sisr.base.errors import SisrError
from sisr.evaluation import evaluate_folders, load_pair, pair_folders
from sisr.metrics import registry
from sisr.metrics.registry import METRICS
from sisr.metrics.spec import Metric
from sisr.base.io import write_image
from sisr.metrics import ms_ssim, psnr, ssim


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(3)


def _touch_images(folder, names):
    for name in names:
        write_image(folder / name, np.zeros((4, 4, 3), dtype=np.uint8))


def test_pair_folders_ignores_trailing_scale(tmp_path):
    _touch_images(tmp_path / "sr", ["babyx4.png", "bird.png", "x4.png"])
    _touch_images(tmp_path / "hr", ["baby.png", "birdx4.png", "x4.png"])
    pairs = pair_folders(tmp_path / "sr", tmp_path / "hr", scale=4)
    assert [(n, s.name, h.name) for n, s, h in pairs] == [
        ("baby", "babyx4.png", "baby.png"), ("bird", "bird.png", "birdx4.png"), ("x4", "x4.png", "x4.png")]


def test_pair_folders_names_unmatched_files(tmp_path):
    _touch_images(tmp_path / "sr", ["babyx2.png", "birdx2.png", "headx4.png"])
    _touch_images(tmp_path / "hr", ["baby.png", "woman.png"])
    with pytest.raises(SisrError, match=r"without HR: \['birdx2.png', 'headx4.png'\].*without SR: \['woman.png'\]"):
        pair_folders(tmp_path / "sr", tmp_path / "hr", scale=2)


def test_pair_folders_rejects_ambiguous_names(tmp_path):
    _touch_images(tmp_path / "sr", ["baby.png", "babyx3.png"])
    _touch_images(tmp_path / "hr", ["baby.png"])
    with pytest.raises(SisrError, match="baby.png and babyx3.png both match"):
        pair_folders(tmp_path / "sr", tmp_path / "hr", scale=3)


def test_evaluate_folders_values_and_hr_crop(tmp_path, rng):
    scale = 3
    hr_a = rng.integers(0, 256, size=(50, 47, 3), dtype=np.uint8)  # not divisible by 3: cropped to 48 x 45
    sr_a = np.clip(hr_a[:48, :45].astype(int) + rng.integers(-9, 10, size=(48, 45, 3)), 0, 255).astype(np.uint8)
    hr_b = rng.integers(0, 256, size=(30, 33), dtype=np.uint8)  # grayscale
    sr_b = np.clip(hr_b.astype(int) + rng.integers(-5, 6, size=hr_b.shape), 0, 255).astype(np.uint8)
    write_image(tmp_path / "hr" / "a.png", hr_a)
    write_image(tmp_path / "sr" / "ax3.png", sr_a)
    write_image(tmp_path / "hr" / "b.png", hr_b)
    write_image(tmp_path / "sr" / "bx3.png", sr_b)

    df = evaluate_folders(tmp_path / "sr", tmp_path / "hr", scale=scale)
    assert list(df.columns) == ["image", "height", "width", "psnr_y", "ssim_y", "psnr_rgb", "ssim_rgb"]
    assert df["image"].tolist() == ["a", "b"]
    assert df[["height", "width"]].values.tolist() == [[48, 45], [30, 33]]
    a, b = df.iloc[0], df.iloc[1]
    assert a["psnr_y"] == pytest.approx(psnr(sr_a, hr_a[:48, :45], crop=3))
    assert a["ssim_rgb"] == pytest.approx(ssim(sr_a, hr_a[:48, :45], crop=3, y_channel=False))
    assert a["psnr_rgb"] < a["psnr_y"]  # independent channel noise averages out partly in Y
    # Grayscale: Y metrics and RGB metrics are both computed on the single channel.
    assert b["psnr_y"] == pytest.approx(b["psnr_rgb"])
    assert b["ssim_y"] == pytest.approx(ssim(sr_b, hr_b, crop=3))
    assert df.attrs["set_metrics"] == {}


def test_evaluate_folders_ms_ssim_and_mse(tmp_path, rng):
    hr = rng.integers(0, 256, size=(170, 168, 3), dtype=np.uint8)
    sr = np.clip(hr.astype(int) + rng.integers(-20, 21, size=hr.shape), 0, 255).astype(np.uint8)
    write_image(tmp_path / "hr" / "c.png", hr)
    write_image(tmp_path / "sr" / "c.png", sr)
    df = evaluate_folders(tmp_path / "sr", tmp_path / "hr", scale=2, metrics=["ms_ssim", "mse"])
    assert df["ms_ssim"].iloc[0] == pytest.approx(ms_ssim(sr, hr, crop=2))
    expected_mse = np.mean((sr[2:-2, 2:-2] / 255.0 - hr[2:-2, 2:-2] / 255.0) ** 2)
    assert df["mse"].iloc[0] == pytest.approx(expected_mse)


def test_size_mismatch_names_both_files(tmp_path):
    write_image(tmp_path / "hr" / "a.png", np.zeros((40, 40, 3), dtype=np.uint8))
    write_image(tmp_path / "sr" / "a.png", np.zeros((36, 40, 3), dtype=np.uint8))  # 4 rows short at x4
    with pytest.raises(SisrError, match=r"SR .*sr/a.png \(40x36 RGB\) does not fit HR .*hr/a.png \(40x40 RGB\): sizes differ"):
        evaluate_folders(tmp_path / "sr", tmp_path / "hr", scale=4)
    write_image(tmp_path / "sr" / "a.png", np.zeros((40, 40), dtype=np.uint8))  # gray SR, RGB HR
    with pytest.raises(SisrError, match=r"\(40x40 gray\) does not fit HR .* \(40x40 RGB\): channels differ"):
        load_pair(tmp_path / "sr" / "a.png", tmp_path / "hr" / "a.png", scale=4)


def test_unknown_metric_lists_valid_names(tmp_path):
    with pytest.raises(SisrError, match=r"unknown metric 'niqe'; valid metrics: .*psnr_y.*ssim_y_crop96$"):
        evaluate_folders(tmp_path, tmp_path, scale=2, metrics=["psnr_y", "niqe"])
    with pytest.raises(SisrError, match=r"unknown metric 'ssimy' \(did you mean 'ssim_y'\?\); valid metrics: "
                                        rf"fid, .*, \.\.\. \({len(METRICS)} in all\)"):
        evaluate_folders(tmp_path, tmp_path, scale=2, metrics=["ssimy"])


def test_registry_holds_the_perceptual_metrics():
    assert {"psnr_y", "ssim_y", "psnr_rgb", "ssim_rgb", "ms_ssim", "mse", "lpips_alex"} <= set(METRICS)
    assert METRICS["fid"].per_set and not METRICS["lpips_alex"].per_set  # FID is per set, never per image
    assert not METRICS["fid"].higher_is_better and METRICS["psnr_y"].higher_is_better
    assert METRICS["fid"].weights == "fid_inception" and METRICS["psnr_y"].weights is None


def test_registered_metrics_are_used(tmp_path, rng, monkeypatch):
    hr = rng.integers(0, 256, size=(24, 24, 3), dtype=np.uint8)
    for name in ("p", "q"):
        write_image(tmp_path / "hr" / f"{name}.png", hr)
        write_image(tmp_path / "sr" / f"{name}x2.png", 255 - hr)
    records = dict(METRICS)
    records["mean_sr"] = Metric("mean_sr", lambda sr, hr, scale: float(sr.mean()))
    records["n_pairs"] = Metric("n_pairs", lambda pairs, scale: float(len(pairs) * scale), per_set=True)
    monkeypatch.setattr(registry, "METRICS", records)
    monkeypatch.setattr(evaluation, "REGISTRY", records)
    df = evaluate_folders(tmp_path / "sr", tmp_path / "hr", scale=2, metrics=["mean_sr", "n_pairs"])
    assert list(df.columns) == ["image", "height", "width", "mean_sr"]
    assert df["mean_sr"].iloc[0] == pytest.approx((255 - hr).mean())
    assert df.attrs["set_metrics"] == {"n_pairs": 4.0}
