"""Every LR pixel and every metric value on Set5 / Set14 equals what the code gave before the kernels were
rewritten (tests/golden_values.py recorded them; tests/data/golden_eval.json)."""

import json
import math

import pytest

import golden_values as golden

pytestmark = pytest.mark.reference


@pytest.fixture(scope="module")
def current():
    if not (golden.BENCHMARK / "Set5" / "HR").is_dir():
        pytest.skip(f"{golden.BENCHMARK} not found (shared test datasets absent)")
    return golden.compute()


@pytest.fixture(scope="module")
def recorded():
    return json.loads(golden.GOLDEN.read_text())


def test_golden_covers_every_image(current, recorded):
    assert sorted(current) == sorted(recorded)
    assert len(recorded) == 5 + 14


@pytest.mark.parametrize("what", ["downscale", "upscale_bicubic", "upscale_bilinear", "upscale_nearest"])
def test_every_pixel_equal(current, recorded, what):
    differ = [(img, s) for img, entry in recorded.items() for s in entry if current[img][s][what] != entry[s][what]]
    assert not differ, f"{what}: arrays differ from the golden ones for {differ}"


@pytest.mark.parametrize("what", ["downscale_float", "upscale_float"])
def test_float_resize_equal(current, recorded, what):
    for img, entry in recorded.items():
        for s, values in entry.items():
            assert current[img][s][what] == pytest.approx(values[what], rel=1e-12, abs=1e-12), (img, s)


def test_metric_values_equal(current, recorded):
    n = 0
    for img, entry in recorded.items():
        for s, values in entry.items():
            for metric, want in values["metrics"].items():
                got = current[img][s]["metrics"][metric]
                if isinstance(want, str) or (isinstance(want, float) and not math.isfinite(want)):
                    assert got == want, (img, s, metric)
                else:
                    assert got == pytest.approx(want, rel=1e-9, abs=0), (img, s, metric, got, want)
                    n += 1
    assert n >= 19 * 3 * 10
