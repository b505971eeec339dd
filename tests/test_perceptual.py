"""LPIPS and FID plumbing: offline weights from the cache, input scaling, batching, FID statistics.

PLUMBING, RANDOM WEIGHTS: the AlexNet trunk and the FID Inception used here are randomly initialised
networks saved under a temporary TORCH_HOME with the expected file names (the real weights cannot be
downloaded here). The values are not meaningful LPIPS / FID values; the tests check what does not depend
on the weights: identical inputs give 0, the cached file is the one loaded, inputs are scaled and repeated
as documented, and a missing file fails before any download. ``frechet_distance`` is checked against
pytorch-fid's reference implementation on small synthetic features.
"""

import hashlib
import warnings
from dataclasses import replace

import numpy as np
import pytest
import torch
import torchvision
from pytorch_fid.fid_score import calculate_frechet_distance

from sisr.data import weights
from sisr.data.lookalike import random_fid_inception
from sisr.base.errors import MissingWeightsError, SisrError
from sisr.base.io import write_image
from sisr.metrics import perceptual, registry
from sisr.metrics.perceptual import fid, frechet_distance, lpips_distance


def _random_fid_inception() -> torch.nn.Module:
    """The FID Inception architecture as ``pytorch_fid.inception.fid_inception_v3`` builds it, left random."""
    return random_fid_inception()


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """A weights cache holding a random AlexNet and a random FID Inception; WEIGHTS patched to their hashes."""
    torch.set_num_threads(1)
    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("weights")
    mp = pytest.MonkeyPatch()
    for name, net in (("alexnet", torchvision.models.alexnet()), ("fid_inception", _random_fid_inception())):
        path = weights.checkpoint_path(name, cache=root)
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(net.state_dict(), path)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        mp.setitem(weights.WEIGHTS, name, replace(weights.WEIGHTS[name], sha256_prefix=digest[:8], sha256=digest))
    mp.delenv("SISR_WEIGHTS", raising=False)
    mp.delenv("TORCH_HOME", raising=False)
    yield root
    mp.undo()


@pytest.fixture
def no_network(monkeypatch):
    """Any torch hub download attempt fails the test."""
    def refuse(url, *args, **kwargs):
        raise AssertionError(f"tried to download {url}")
    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse)


def _images(seed: int, n: int, shape=(48, 40, 3)) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, size=shape, dtype=np.uint8) for _ in range(n)]


# ---------------------------------------------------------------------------------------------- LPIPS

def test_lpips_loads_the_cached_trunk(cache, no_network):
    model = perceptual.lpips_model("alex", device="cpu", cache=cache)
    saved = torch.load(weights.checkpoint_path("alexnet", cache=cache), weights_only=True)
    assert torch.equal(model.net.slice1[0].weight, saved["features.0.weight"])
    assert torch.equal(getattr(model.net.slice5, "10").weight, saved["features.10.weight"])


def test_lpips_identical_zero_different_positive(cache, no_network):
    hr = _images(0, 3)
    sr = [np.clip(img.astype(int) + 40, 0, 255).astype(np.uint8) for img in hr]
    same = lpips_distance(hr, hr, device="cpu", cache=cache)
    diff = lpips_distance(sr, hr, device="cpu", cache=cache)
    assert same.shape == (3,) and np.all(same == 0.0)
    assert np.all(diff > 0)


def test_lpips_scales_to_minus_one_one(cache, no_network):
    """Same value as lpips' own [0, 1] -> [-1, 1] conversion (``normalize=True``)."""
    (sr,), (hr,) = _images(1, 1), _images(2, 1)
    got = lpips_distance([sr], [hr], device="cpu", cache=cache)[0]
    model = perceptual.lpips_model("alex", device="cpu", cache=cache)
    as01 = [torch.from_numpy(x).permute(2, 0, 1)[None].float() / 255 for x in (sr, hr)]
    with torch.no_grad():
        expected = model(*as01, normalize=True).item()
    assert got == pytest.approx(expected, rel=1e-5)


def test_lpips_single_channel_is_repeated(cache, no_network):
    y_sr, y_hr = _images(3, 2, shape=(40, 44))
    got = lpips_distance([y_sr], [y_hr], device="cpu", cache=cache)
    rgb = lpips_distance([np.dstack([y_sr] * 3)], [np.dstack([y_hr] * 3)], device="cpu", cache=cache)
    assert got[0] == pytest.approx(rgb[0], rel=1e-6) and got[0] > 0


def test_lpips_batches_mixed_sizes_like_one_by_one(cache, no_network):
    sr = _images(4, 2) + _images(5, 1, shape=(36, 52, 3)) + _images(6, 1)
    hr = _images(7, 2) + _images(8, 1, shape=(36, 52, 3)) + _images(9, 1)
    batched = lpips_distance(sr, hr, device="cpu", batch_size=2, cache=cache)
    single = [lpips_distance([s], [h], device="cpu", cache=cache)[0] for s, h in zip(sr, hr)]
    np.testing.assert_allclose(batched, single, rtol=1e-5)


def test_lpips_rejects_shape_mismatch(cache):
    with pytest.raises(SisrError, match="pair 0"):
        lpips_distance(_images(0, 1), _images(0, 1, shape=(40, 40, 3)), device="cpu", cache=cache)


def test_missing_trunk_fails_before_any_download(tmp_path, no_network):
    with pytest.raises(MissingWeightsError, match=r"vgg16-397923af\.pth is missing.*sisr fetch-weights vgg16"):
        lpips_distance(_images(0, 1), _images(1, 1), net="vgg", device="cpu", cache=tmp_path)


def test_check_weights_lists_what_is_missing(cache, tmp_path):
    assert registry.check_weights(["psnr_y", "ssim_y"], cache=tmp_path) == {}
    found = registry.check_weights(["lpips_alex", "fid"], cache=cache)
    assert set(found) == {"alexnet", "fid_inception"}
    with pytest.raises(MissingWeightsError) as err:
        registry.check_weights(["psnr_y", "lpips_alex", "lpips_vgg", "fid"], cache=tmp_path)
    for filename in ("alexnet-owt-7be5be79.pth", "vgg16-397923af.pth", "pt_inception-2015-12-05-6726825d.pth"):
        assert filename in str(err.value)


# ------------------------------------------------------------------------------------------------ FID

@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # scipy's sqrtm(disp=) inside pytorch-fid
def test_frechet_distance_matches_pytorch_fid():
    """The exact small-sample formula agrees with pytorch-fid's sqrtm-based one (D = 6 so sqrtm is cheap)."""
    rng = np.random.default_rng(0)
    for n1, n2 in ((4, 5), (3, 3), (30, 40)):  # below and above D: both code paths
        a = rng.normal(size=(n1, 6)) @ rng.normal(size=(6, 6))
        b = rng.normal(loc=0.5, size=(n2, 6))
        expected = calculate_frechet_distance(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))
        assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-6, abs=1e-9), (n1, n2)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-9)


def test_frechet_distance_needs_two_samples():
    with pytest.raises(SisrError, match="at least 2"):
        frechet_distance(np.ones((1, 4)), np.ones((3, 4)))


def test_fid_identical_zero_different_positive_and_warns(cache, no_network):
    hr = _images(10, 2, shape=(64, 64, 3))
    sr = _images(11, 2, shape=(64, 64, 3))
    with pytest.warns(UserWarning, match="FID on N = 2 < 2048 images is biased"):
        same, n = fid(hr, hr, device="cpu", cache=cache)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        different, _ = fid(sr, hr, device="cpu", cache=cache)
    assert n == 2
    assert abs(same) < 1e-6 * different
    assert different > 0


def test_fid_tiles_gray_images_and_counts_tiles(cache, no_network):
    gray = _images(12, 1, shape=(70, 64))  # 2 x 2 tiles of 32 x 32 (the last 6 rows dropped)
    with pytest.warns(UserWarning, match="N = 4 <"):
        value, n = fid(gray, [np.dstack([g] * 3) for g in gray], crop=32, device="cpu", cache=cache)
    assert n == 4
    assert abs(value) < 1e-6  # gray repeated to RGB = the RGB images themselves


def test_fid_set_metric_reads_the_pairs(cache, no_network, tmp_path):
    from sisr.evaluation import pair_folders

    for i, (s, h) in enumerate(zip(_images(13, 2, (40, 40, 3)), _images(14, 2, (41, 41, 3)))):
        write_image(tmp_path / "sr" / f"im{i}x2.png", s)
        write_image(tmp_path / "hr" / f"im{i}.png", h)
    pairs = pair_folders(tmp_path / "sr", tmp_path / "hr", scale=2)
    weights.use_cache(cache)
    with pytest.warns(UserWarning, match="biased"):
        value = perceptual.fid_set(pairs, 2)
    with pytest.warns(UserWarning, match="biased"):
        expected, _ = fid(_images(13, 2, (40, 40, 3)), [h[:40, :40] for h in _images(14, 2, (41, 41, 3))],
                          cache=cache)
    assert value == pytest.approx(expected, rel=1e-6)
    assert perceptual.fid_images(pairs, 2) == 2


def test_fid_missing_weights_fail_before_download(tmp_path, no_network):
    with pytest.raises(MissingWeightsError, match=r"pt_inception-2015-12-05-6726825d\.pth is missing"):
        fid(_images(0, 2), _images(1, 2), device="cpu", cache=tmp_path)


def test_lpips_standardised_equals_lpips_called_as_the_rrdb_gan_code(cache, no_network, monkeypatch):
    """RANDOM TRUNK (the cache fixture): ``lpips_alex_standardised`` against the lpips network called as the
    authors' utils/metrics.py calls it: per-channel torchvision Normalize of float32 3 x H x W tensors in [0, 1],
    then ``loss_fn(img1, img2)`` on the unbatched tensors, HR first. Checks the arithmetic, not the weights."""
    from sisr.metrics import protocols

    monkeypatch.setenv("SISR_WEIGHTS", str(cache))
    (sr,), (hr,) = _images(11, 1), _images(12, 1)
    for img in (sr, hr):  # channels with different means and spreads, as in photographs
        img[:, :, 0] = img[:, :, 0] // 4 + 150
        img[:, :, 2] = img[:, :, 2] // 2
    loss_fn = perceptual.lpips_model("alex", device="cpu", cache=cache)
    tensors, raw = [], []
    for img in (hr, sr):  # their calculate_lpips_distance(original_img, upscaled_img)
        x = torch.tensor(img.astype(np.float32) * np.reciprocal(np.float32(255.0))).permute(2, 0, 1).float()
        raw.append(x)
        tensors.append(torchvision.transforms.Normalize(x.mean([1, 2]), x.std([1, 2]))(x))
    with torch.no_grad():
        theirs = loss_fn(*tensors).item()
    assert protocols.lpips_alex_standardised(sr, hr) == pytest.approx(theirs, rel=1e-5)
    whole = [(x - x.mean()) / x.std() for x in raw]  # standardising over all channels gives another value
    with torch.no_grad():
        assert abs(loss_fn(*whole).item() - theirs) > 1e-3 * theirs


# ---------------------------------------------------------------------------------------------- building without init


def test_lpips_and_fid_built_without_random_init_equal_a_normal_build(cache, no_network):
    """The evaluation jobs build LPIPS and FID under weights.skip_random_init: the same weights as a normal build."""
    import lpips
    from pytorch_fid.inception import InceptionV3

    fast = perceptual.lpips_model("alex", device="cpu", cache=cache)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        slow = lpips.LPIPS(net="alex", version="0.1", pretrained=True, pnet_rand=False, verbose=False)
    assert fast.state_dict().keys() == slow.state_dict().keys()
    assert all(torch.equal(v, slow.state_dict()[k]) for k, v in fast.state_dict().items())
    fast = perceptual.fid_model(device="cpu", cache=cache)
    slow = InceptionV3([InceptionV3.BLOCK_INDEX_BY_DIM[perceptual.FID_DIMS]], resize_input=True, normalize_input=True)
    assert all(torch.equal(v, slow.state_dict()[k]) for k, v in fast.state_dict().items())


def test_a_weight_the_load_missed_is_named():
    with weights.skip_random_init():
        net = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.Linear(2, 2))
    assert torch.nn.init.kaiming_uniform_ is not None and not torch.nn.Linear(2, 2).weight.isnan().any()  # restored
    net[0].load_state_dict(torch.nn.Conv2d(1, 2, 3).state_dict())
    with pytest.raises(MissingWeightsError, match=r"^lpips \(test\): parameter 1.weight was not loaded"):
        weights.check_loaded(net, "lpips (test)")
