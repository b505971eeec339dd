"""Image I/O: strict reading with errors naming the file; atomic writes leave no partial file."""

import os
import stat
import warnings

import numpy as np
import pytest
from PIL import Image

from sisr.base.errors import ImageError
from sisr.base.io import atomic_write, list_images, read_image, write_image


def test_read_modes_and_errors(tmp_path):
    rgb = np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3)
    write_image(tmp_path / "rgb.png", rgb)
    assert np.array_equal(read_image(tmp_path / "rgb.png"), rgb)
    Image.fromarray(rgb[:, :, 0]).save(tmp_path / "gray.png")
    with pytest.raises(ImageError, match="gray.png: expected an RGB image"):
        read_image(tmp_path / "gray.png")
    assert read_image(tmp_path / "gray.png", mode="any").shape == (4, 5)
    Image.fromarray(np.dstack([rgb, np.full((4, 5), 7, np.uint8)])).save(tmp_path / "rgba.png")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert np.array_equal(read_image(tmp_path / "rgba.png"), rgb)
    assert any("alpha" in str(w.message) for w in caught)
    data = (tmp_path / "rgb.png").read_bytes()
    (tmp_path / "truncated.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError, match="truncated.png"):
        read_image(tmp_path / "truncated.png")
    (tmp_path / "junk.png").write_bytes(b"not an image")
    with pytest.raises(ImageError, match="junk.png: cannot decode"):
        read_image(tmp_path / "junk.png")
    with pytest.raises(ImageError, match="missing.png: no such image file"):
        read_image(tmp_path / "missing.png")
    assert [p.name for p in list_images(tmp_path)] == ["gray.png", "junk.png", "rgb.png", "rgba.png",
                                                       "truncated.png"]


def test_atomic_write_keeps_the_old_file_on_failure(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_write(target, "w") as fh:
            fh.write("new, half written")
            raise RuntimeError("disk full")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]  # no temp file left behind
    with atomic_write(target, "w") as fh:
        fh.write("new")
    assert target.read_text() == "new"
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask  # readable like any other file, not 0600
