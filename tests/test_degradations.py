"""sisr.degradations: the registry, each degradation against an independent computation of what its source does,
``sisr downscale --degradation``, and a new degradation added as one file plus one registry call."""

import sys
import textwrap

import numpy as np
import pytest
import torch
from scipy import ndimage

from helpers.degradations import NEW_DEGRADATION
from sisr import degradations
from sisr.cli import main
from sisr.data.cache import CachedImages, build_cache, cache_key
from sisr.data.datasets import get_dataset, materialize_lr
from sisr.degradations import bd, dn
from sisr.base.errors import ConfigError, SisrError
from sisr.evaluation import evaluate
from sisr.base.imresize import downscale, imresize, modcrop
from sisr.training.inference import super_resolve
from sisr.base.io import read_image, write_image
from sisr.metrics import psnr
from sisr.models import create_model


def _photo(h=37, w=41, channels=3, seed=0):
    """A smooth random image (noise blurred), so that interpolation differences stay small and visible."""
    rng = np.random.default_rng(seed)
    raw = rng.normal(128, 60, (h, w, channels) if channels else (h, w))
    smooth = ndimage.gaussian_filter(raw, (2, 2, 0) if channels else 2)
    return np.clip(np.round(smooth), 0, 255).astype(np.uint8)


def test_registry_has_the_four_in_order():
    assert degradations.names()[:4] == ["bicubic", "pil_bicubic", "bd", "dn"]
    assert degradations.DEFAULT == "bicubic"
    assert [degradations.get(n).deterministic for n in ("bicubic", "pil_bicubic", "bd", "dn")] == [True, True,
                                                                                                 True, False]


@pytest.mark.parametrize("name", ["bicubic", "pil_bicubic", "bd", "dn"])
@pytest.mark.parametrize("scale", [2, 3, 4])
@pytest.mark.parametrize("channels", [0, 3])
def test_every_degradation_gives_uint8_lr_of_the_modcropped_hr(name, scale, channels):
    hr = _photo(channels=channels)
    lr, hr_crop = degradations.get(name)(hr, scale, image="x")
    np.testing.assert_array_equal(hr_crop, modcrop(hr, scale))
    assert lr.dtype == np.uint8 and lr.shape == (hr_crop.shape[0] // scale, hr_crop.shape[1] // scale,
                                                 *hr.shape[2:])
    assert abs(float(lr.mean()) - float(hr_crop.mean())) < 3  # same content, not a shifted or dark image


def test_bicubic_and_pil_bicubic_are_the_existing_downscalers():
    hr = _photo()
    np.testing.assert_array_equal(degradations.get("bicubic").lr(hr, 3), downscale(hr, 3, method="matlab"))
    np.testing.assert_array_equal(degradations.get("pil_bicubic").lr(hr, 3), downscale(hr, 3, method="pil"))


def test_bicubic_takes_a_tensor_and_gives_the_same_pixels():
    hr = _photo()
    lr, hr_crop = degradations.get("bicubic")(torch.from_numpy(hr), 4)
    np.testing.assert_array_equal(lr.numpy(), downscale(hr, 4))
    assert tuple(hr_crop.shape) == modcrop(hr, 4).shape


def test_bd_kernel_sizes_are_those_of_the_rdn_file():
    assert [bd.kernel_size(s) for s in (2, 3, 4, 5)] == [12, 7, 12, 11]


def test_bd_taps_are_fspecial_gaussian():
    """fspecial('gaussian', k, sigma): exp(-(x^2 + y^2) / (2 sigma^2)) on the grid centred on the kernel, sum 1."""
    for size in (7, 12):
        half = (size - 1) / 2
        y, x = np.mgrid[-half: half + 1, -half: half + 1]
        h = np.exp(-(x * x + y * y) / (2 * 1.6 ** 2))
        h /= h.sum()
        assert h.shape == (size, size) and h.min() > np.finfo(float).eps * h.max()  # fspecial zeroes nothing
        t = bd.gaussian_taps(size, 1.6)
        np.testing.assert_allclose(np.outer(t, t), h, rtol=1e-12, atol=0)


@pytest.mark.parametrize("size", [7, 12])
def test_bd_blur_is_imfilter_replicate(size):
    """imfilter(img, h, 'replicate') of uint8: 2-D correlation anchored at floor((k+1)/2) (1-based), replicated
    borders, rounded once. scipy's correlate centres at k // 2 (0-based): origin -1 for an even k."""
    img = np.random.default_rng(3).integers(0, 256, (23, 19, 3), dtype=np.uint8)
    t = bd.gaussian_taps(size, 1.6)
    ref = np.stack([ndimage.correlate(img[:, :, c].astype(float), np.outer(t, t), mode="nearest",
                                      origin=-1 if size % 2 == 0 else 0) for c in range(3)], axis=2)
    np.testing.assert_array_equal(bd.gaussian_blur(img, size, 1.6), np.floor(ref + 0.5).astype(np.uint8))


@pytest.mark.parametrize("scale", [3, 5])
def test_bd_odd_scales_keep_what_matlab_nearest_keeps(scale):
    """The file's CPU branch: imresize(blur, 1/s, 'nearest') (sisr.base.imresize's MATLAB nearest, written apart)."""
    hr = _photo(h=5 * 9, w=5 * 7)
    cropped = modcrop(hr, scale)
    blurred = bd.gaussian_blur(cropped, bd.kernel_size(scale), 1.6)
    expected = imresize(blurred, 1 / scale, kernel="nearest")
    np.testing.assert_array_equal(degradations.get("bd").lr(hr, scale), expected)
    if scale == 3:  # the file's GPU branch blur(s-1:s:end-1, ...) keeps the same pixels at x3
        np.testing.assert_array_equal(expected, blurred[scale - 2: -1: scale, scale - 2: -1: scale])


@pytest.mark.parametrize("scale", [2, 4])
def test_bd_even_scales_keep_pixel_s_over_2(scale):
    """The file: LR = blur(s/2:s:end-s/2, s/2:s:end-s/2, :) (1-based)."""
    hr = _photo(h=36, w=44)
    blurred = bd.gaussian_blur(hr, 12, 1.6)
    h, w = hr.shape[:2]
    expected = blurred[scale // 2 - 1: h - scale // 2: scale, scale // 2 - 1: w - scale // 2: scale]
    np.testing.assert_array_equal(degradations.get("bd").lr(hr, scale), expected)


def test_bd_impulse_lands_on_the_kept_pixel():
    """A bright pixel at the centre of an LR block gives a symmetric LR peaked at that block (x3)."""
    hr = np.zeros((9, 9), np.uint8)
    hr[4, 4] = 255
    lr = degradations.get("bd").lr(hr, 3)
    assert lr[1, 1] == lr.max() and lr[1, 1] == round(255 * bd.gaussian_taps(7, 1.6)[3] ** 2)
    np.testing.assert_array_equal(lr, lr.T)
    np.testing.assert_array_equal(lr, lr[::-1, ::-1])


def test_dn_noise_depends_on_seed_and_image_name_not_on_order():
    hr = np.full((60, 60, 3), 128, np.uint8)
    deg = degradations.get("dn")
    a = deg.lr(hr, 3, seed=0, image="baby")
    deg.lr(hr, 3, seed=0, image="bird")  # another image in between changes nothing
    np.testing.assert_array_equal(deg.lr(hr, 3, seed=0, image="baby"), a)
    assert not np.array_equal(deg.lr(hr, 3, seed=0, image="bird"), a)
    assert not np.array_equal(deg.lr(hr, 3, seed=1, image="baby"), a)


def test_dn_is_bicubic_plus_gaussian_noise_of_sigma_30():
    hr = np.full((300, 300, 3), 128, np.uint8)  # 4 sigma from 0 and 255: hardly any clipping
    noise = degradations.get("dn").lr(hr, 3, image="flat").astype(float) - downscale(hr, 3).astype(float)
    assert abs(noise.mean()) < 0.5 and abs(noise.std() - 30) < 0.5
    assert np.array_equal(noise, np.round(noise))  # rounded to integers (uint8)


class _FixedNoise:
    """Stands in for a generator: its "standard normal" draws are the values given."""

    def __init__(self, values):
        self.values = np.array(values, dtype=np.float64)

    def standard_normal(self, shape):
        return self.values.reshape(shape)


def test_dn_rounds_half_away_from_zero_and_clips():
    rng = np.random.default_rng(0)
    lr = np.array([[0, 10, 250, 255]], np.uint8)
    noisy = dn.add_noise(lr, rng, sigma=0.0)
    np.testing.assert_array_equal(noisy, lr)
    np.testing.assert_array_equal(dn.add_noise(lr, _FixedNoise([[-0.5, 0.5, 6.0, 0.5]]), sigma=1.0),
                                  [[0, 11, 255, 255]])


@pytest.mark.parametrize(("call", "message"), [
    (lambda: degradations.get("bdd"), "unknown degradation 'bdd'; did you mean 'bd'? (valid: bicubic, pil_bicubic"),
    (lambda: degradations.get("bd").lr(np.zeros((9, 9), np.float32), 3), "expected a uint8 image, got float32"),
    (lambda: degradations.get("bd").lr(np.zeros((2, 9), np.uint8), 3), "image 9x2 is smaller than the scale 3"),
    (lambda: degradations.get("bd").lr(np.zeros((9, 9), np.uint8), 1.5), "scale must be a positive integer"),
    (lambda: degradations.get("dn").lr(torch.zeros(9, 9, dtype=torch.uint8), 3), "not a torch tensor"),
    (lambda: degradations.Degradation("BD-2", "x", True, bd.blur_downscale), "lower-case letters"),
    (lambda: degradations.Degradation("bd2", "two\nlines", True, bd.blur_downscale), "one non-empty line"),
    (lambda: degradations.register(degradations.Degradation("bd", "other", True, dn.bicubic_noise)),
     "'bd' is already registered"),
    (lambda: degradations.register("sisr.base.imresize"), "sisr.base.imresize: expected a module defining DEGRADATION"),
])
def test_errors_say_what_was_expected(call, message):
    with pytest.raises(SisrError) as info:
        call()
    assert message in str(info.value) and "\n" not in str(info.value)


def test_check_name_names_the_key():
    degradations.check_name("bd", "studies/x.yaml: datasets[0].degradation")
    with pytest.raises(ConfigError, match=r"^studies/x.yaml: datasets\[0\].degradation: unknown degradation 'dnn'; "
                                          r"did you mean 'dn'\?"):
        degradations.check_name("dnn", "studies/x.yaml: datasets[0].degradation")


# ---------------------------------------------------------------------------------------------- the command
def test_downscale_degradation_writes_that_degradation(tmp_path, capsys):
    write_image(tmp_path / "hr" / "a.png", _photo(h=30, w=33))
    for name in ("bicubic", "pil_bicubic", "bd", "dn"):
        assert main(["downscale", "--degradation", name, "--scale", "3", str(tmp_path / "hr"),
                     str(tmp_path / name)]) == 0
        expected = degradations.get(name).lr(_photo(h=30, w=33), 3, seed=0, image="a")
        np.testing.assert_array_equal(read_image(tmp_path / name / "a.png", mode="any"), expected)
    assert "(dn)" in capsys.readouterr().out
    assert main(["downscale", "--degradation", "dn", "--seed", "5", "--scale", "3", str(tmp_path / "hr"),
                 str(tmp_path / "seed5")]) == 0
    assert not np.array_equal(read_image(tmp_path / "seed5" / "a.png"), read_image(tmp_path / "dn" / "a.png"))


def test_downscale_method_is_a_deprecated_alias(tmp_path, capsys):
    write_image(tmp_path / "hr.png", _photo())
    assert main(["downscale", "--method", "pil", "--scale", "2", str(tmp_path / "hr.png"), str(tmp_path / "lr.png")]) == 0
    assert "--method pil is deprecated; use --degradation pil_bicubic" in capsys.readouterr().err
    np.testing.assert_array_equal(read_image(tmp_path / "lr.png"), downscale(_photo(), 2, method="pil"))
    assert main(["downscale", "--method", "pil", "--degradation", "bd", "--scale", "2", str(tmp_path / "hr.png"),
                 str(tmp_path / "lr2.png")]) == 2
    assert "contradicts --degradation bd" in capsys.readouterr().err


@pytest.mark.fault
def test_downscale_unknown_degradation_is_one_line_with_a_suggestion(tmp_path, capsys):
    write_image(tmp_path / "hr.png", _photo())
    assert main(["downscale", "--degradation", "bicubc", "--scale", "2", str(tmp_path / "hr.png"),
                 str(tmp_path / "lr.png")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "did you mean 'bicubic'?" in err and "bicubic, pil_bicubic, bd, dn" in err
    assert not (tmp_path / "lr.png").exists()




@pytest.fixture
def extra_package(tmp_path, monkeypatch):
    """An empty package ``extra_degradations`` on sys.path; afterwards unloaded, and the registry as it was."""
    package = tmp_path / "extra_degradations"
    package.mkdir()
    (package / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(degradations, "REGISTRY", dict(degradations.REGISTRY))
    yield package
    for module in [m for m in sys.modules if m.split(".")[0] == "extra_degradations"]:
        del sys.modules[module]


def test_a_new_degradation_is_one_file_plus_one_registry_call(extra_package, tmp_path, capsys):
    (extra_package / "box2.py").write_text(textwrap.dedent(NEW_DEGRADATION))  # the file
    degradations.register("extra_degradations.box2")  # the one registry line

    hr = np.zeros((8, 8), np.uint8)
    hr[::2, ::2] = 200  # one bright pixel per 2 x 2 block: the box average is 50 everywhere
    write_image(tmp_path / "hr" / "dots.png", hr)
    assert main(["downscale", "--degradation", "box2", "--scale", "2", str(tmp_path / "hr"), str(tmp_path / "lr")]) == 0
    np.testing.assert_array_equal(read_image(tmp_path / "lr" / "dots.png", mode="any"), np.full((4, 4), 50))
    assert "(box2)" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["downscale", "--help"])
    assert "box2: 2 x 2 box average" in " ".join(capsys.readouterr().out.split())


# ------------------------------------------------------------------------- the call sites that make LR images
def _benchmark_set(root, n=2, scale=3):
    """A benchmark-layout set with shipped (bicubic) LR files."""
    for i in range(n):
        hr = _photo(h=30 + i, w=33, seed=i)
        write_image(root / "Set" / "HR" / f"im{i}.png", hr)
        write_image(root / "Set" / "LR_bicubic" / f"X{scale}" / f"im{i}x{scale}.png", downscale(hr, scale))
    return get_dataset("benchmark", root=root, split="Set", scale=scale)


def test_cache_makes_every_lr_with_a_named_degradation(tmp_path):
    pairs = _benchmark_set(tmp_path)
    assert cache_key(pairs, scale=3, mode="rgb", on_bad="error") == cache_key(
        pairs, scale=3, mode="rgb", on_bad="error", degradation="bicubic")  # existing caches keep their key
    assert cache_key(pairs, scale=3, mode="rgb", on_bad="error", degradation="bd") != cache_key(
        pairs, scale=3, mode="rgb", on_bad="error")
    manifest = build_cache(pairs, tmp_path / "bd", scale=3, degradation="bd")
    assert [e["lr_file"] for e in manifest["images"]] == [None, None]  # the shipped bicubic LR is not BD
    cache = CachedImages(tmp_path / "bd")
    for i, p in enumerate(pairs):
        np.testing.assert_array_equal(cache.lr(i), degradations.get("bd").lr(read_image(p.hr), 3).transpose(2, 0, 1))
    build_cache(pairs, tmp_path / "bi", scale=3)
    np.testing.assert_array_equal(CachedImages(tmp_path / "bi").lr(0), read_image(pairs[0].lr).transpose(2, 0, 1))
    with pytest.raises(SisrError, match="unknown degradation 'bdd'"):
        build_cache(pairs, tmp_path / "x", scale=3, degradation="bdd")


def test_materialize_lr_writes_the_named_degradation(tmp_path):
    pairs = _benchmark_set(tmp_path)
    made = materialize_lr(pairs, tmp_path / "lr_dn", scale=3, degradation="dn")
    assert [p.lr for p in made] == [tmp_path / "lr_dn" / f"im{i}x3.png" for i in range(2)]
    for p in made:
        np.testing.assert_array_equal(read_image(p.lr), degradations.get("dn").lr(read_image(p.hr), 3, image=p.name))
    assert materialize_lr(pairs, tmp_path / "lr_bi", scale=3) == pairs  # shipped LR files stand for bicubic


def test_evaluate_a_model_on_a_named_degradation(tmp_path):
    pairs = _benchmark_set(tmp_path)
    model = create_model("bicubic", scale=3, in_channels=3)
    df = evaluate(pairs, scale=3, metrics=["psnr_y"], model=model, sr_dir=tmp_path / "sr", device="cpu",
                  degradation="bd")
    for row, p in zip(df.itertuples(), pairs):
        lr, hr = degradations.get("bd")(read_image(p.hr), 3)
        with torch.no_grad():
            sr = super_resolve(model, lr, scale=3, device="cpu")
        np.testing.assert_array_equal(read_image(tmp_path / "sr" / f"{p.name}.png"), sr)
        assert row.psnr_y == pytest.approx(psnr(sr, hr, crop=3), abs=1e-9)
    bicubic_df = evaluate(pairs, scale=3, metrics=["psnr_y"], model=model, sr_dir=tmp_path / "sr_bi", device="cpu")
    assert (bicubic_df["psnr_y"] > df["psnr_y"]).all()  # BD's blur costs the bicubic baseline
