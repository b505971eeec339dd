"""A rehearsal's ``eval_images`` cap: each evaluation set's first N images (N raised to what a per-set metric needs,
FID 2), in the workflow's evaluation job; no cap outside a rehearsal. Tried first: the rehearsal's evaluations were
half its CPU time, most of it on the second image of every set (docs/BENCHMARKS.md, session 8)."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from sisr.base.io import write_image
from sisr.config.job_settings import EvalJob, EvalSet
from sisr.config.studies import load_config
from sisr.data.lookalike import REHEARSAL_CAPS, SIZES, _images
from sisr.workflow import jobs


def _job(tmp_path, *, max_images, metrics=("psnr_y", "ssim_y")) -> EvalJob:
    rng = np.random.default_rng(0)
    for name in ("a", "b", "c"):
        write_image(tmp_path / "hr" / f"{name}.png", rng.integers(0, 256, (24, 30, 3), dtype=np.uint8))
    return EvalJob(study="s", run="bicubic", scale=2, in_channels=3, metrics=tuple(metrics), tier="quick",
                   device="cpu", max_images=max_images,
                   sets=(EvalSet(dataset="folder", split="all", root=str(tmp_path / "hr"), label="toy"),))


@pytest.mark.parametrize("cap, rows", [(None, 3), (1, 1), (2, 2), (5, 3)])
def test_the_evaluation_job_scores_the_first_n_images_of_each_set(tmp_path, caplog, cap, rows):
    job = _job(tmp_path, max_images=cap)
    with caplog.at_level(logging.INFO, logger="sisr"):
        [df] = jobs.evaluate_job(job, checkpoint=None, out_csvs=[str(tmp_path / "toy.csv")],
                                 sr_dirs=[str(tmp_path / "sr")])
    saved = pd.read_csv(tmp_path / "toy.csv")
    assert list(saved["image"]) == ["a", "b", "c"][:rows] == list(df["image"])
    assert sorted(p.stem for p in (tmp_path / "sr").glob("*.png")) == ["a", "b", "c"][:rows]
    said = f"the first {rows} of the 3 images of toy (a rehearsal's eval_images cap)"
    assert (said in caplog.text) == (rows < 3)


def test_a_per_set_metric_keeps_the_images_it_needs(tmp_path):
    """FID needs two images (a covariance): a job with FID keeps two under a cap of one; checked on the selection
    (FID itself needs the Inception weights)."""
    pairs = list(range(5))
    assert jobs._capped(pairs, _job(tmp_path, max_images=1, metrics=("psnr_y", "fid")), "toy") == [0, 1]
    assert jobs._capped(pairs, _job(tmp_path, max_images=1, metrics=("fid_crop96",)), "toy") == [0, 1]
    assert jobs._capped(pairs, _job(tmp_path, max_images=3, metrics=("fid",)), "toy") == [0, 1, 2]
    assert jobs._capped(pairs, _job(tmp_path, max_images=1, metrics=("fid_n",)), "toy") == [0]
    assert jobs._capped(pairs, _job(tmp_path, max_images=None, metrics=("fid",)), "toy") == pairs


def test_only_a_rehearsal_caps_the_evaluation_and_its_gray_set14_member_comes_first(tmp_path):
    base = {"tier": "ci", "studies": ["espcn"], "studies_dir": str(tmp_path)}
    assert load_config(base)["rehearsal"] is None
    assert load_config({**base, "rehearsal": {}})["rehearsal"]["eval_images"] is None
    assert load_config({**base, "rehearsal": {"eval_images": 1}})["rehearsal"]["eval_images"] == 1
    assert REHEARSAL_CAPS["eval_images"] == 1
    # the look-alike Set14 is read sorted: its grayscale member (the real set's bridge) must be the first, so that
    # every model of a capped rehearsal still meets a gray image (RGB models repeat it to three channels)
    set14 = sorted(_images(SIZES["small"], seed=0)["benchmark/Set14"])
    assert set14[0][0] == "bridge" and set14[0][1][2] is True


def test_without_a_cap_the_job_record_is_the_one_snakemake_stored_before(tmp_path):
    """Found by trying: results made before the cap existed were all planned again ("Params have changed": the record
    had gained ``max_images: None``). Without a cap the record has no such key; with one it has, and both read back."""
    plain, capped = _job(tmp_path, max_images=None), _job(tmp_path, max_images=1)
    assert "max_images" not in plain.to_param() and capped.to_param()["max_images"] == 1
    assert EvalJob.from_param(plain.to_param()) == plain and EvalJob.from_param(capped.to_param()) == capped
