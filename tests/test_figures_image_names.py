"""Example figures find the images of sets whose names are digits (DIV2K: 0801.png, ...): pandas must not read the
``image`` column of an evaluation CSV as integers (found by a quick-tier rehearsal: KeyError '0801')."""

from types import SimpleNamespace

import numpy as np
import pandas as pd

from sisr.report import figures
from sisr.base.io import write_image


def _study_dir(tmp_path):
    rng = np.random.default_rng(0)
    study_dir = tmp_path / "study"
    rows = []
    for i, name in enumerate(["0801", "0802"]):
        hr = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
        write_image(tmp_path / "hr" / f"{name}.png", hr)
        write_image(study_dir / "a" / "sr" / "div2k-valid_x4" / f"{name}.png", hr)
        rows.append({"image": name, "hr_path": str(tmp_path / "hr" / f"{name}.png"), "psnr_y": 30.0 + i,
                     "ssim_y": 0.8 + i / 10})
    (study_dir / "a" / "eval").mkdir(parents=True)
    pd.DataFrame(rows).to_csv(study_dir / "a" / "eval" / "div2k-valid_x4.csv", index=False)
    summary = study_dir / "summary.csv"
    pd.DataFrame([{"run": "a", "dataset": "div2k-valid", "psnr_y": 30.5}]).to_csv(summary, index=False)
    return study_dir, str(summary)


def test_comparison_grid_and_triptychs_read_image_names_as_text(tmp_path):
    study_dir, summary = _study_dir(tmp_path)
    spec = SimpleNamespace(scale=4, tier="", degradation="bicubic", spec={"runs": {"a": {}}})  # a Study's fields
    grid = figures._comparison_grid(spec, {"n_images": 2, "crop": 32}, study_dir, summary, "examples")
    trip = figures._triptychs(spec, {"crop": 32}, study_dir, summary, "best and worst")
    grid_text = " ".join(t.get_text() for ax in grid.axes for t in [*ax.texts, ax.title, ax.yaxis.label])
    assert "30.00 dB" in grid_text and "31.00 dB" in grid_text, grid_text  # both images' panels
    trip_text = " ".join(t.get_text() for t in trip.findobj(lambda o: hasattr(o, "get_text")))
    assert "best: 0802\nssim_y 0.9000" in trip_text and "worst: 0801\nssim_y 0.8000" in trip_text, trip_text
