"""The pretrained-weight cache: fetch from a local HTTP server / mirrors with hash checks, locate, clear errors.

The served files are small random byte strings standing in for the real weights (whose hashes are
published but which we cannot download here); each test patches ``WEIGHTS`` to point at them.
"""

import hashlib
import http.server
import inspect
import os
import threading
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest
import torch

from sisr.data import weights
from sisr.data.download import download
from sisr.base.errors import ConfigError, DataError, MissingWeightsError

NAME = "alexnet"
FILENAME = weights.WEIGHTS[NAME].filename


@pytest.fixture
def server(tmp_path):
    """An HTTP server on 127.0.0.1 serving ``tmp_path / "served"``; yields (folder, base URL)."""
    folder = tmp_path / "served"
    folder.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(folder), **kwargs)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield folder, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _payload(seed: int) -> bytes:
    return np.random.default_rng(seed).integers(0, 256, size=50_000, dtype=np.uint8).tobytes()


def _publish(monkeypatch, folder: Path, base_url: str, *, full_hash: bool = True) -> bytes:
    """Put a file named like the AlexNet weights in ``folder`` and point ``WEIGHTS["alexnet"]`` at it."""
    data = _payload(1)
    (folder / FILENAME).write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    spec = replace(weights.WEIGHTS[NAME], url=f"{base_url}/{FILENAME}", sha256_prefix=digest[:8],
                   sha256=digest if full_hash else None)
    monkeypatch.setitem(weights.WEIGHTS, NAME, spec)
    return data


def _cache_files(dest: Path) -> list[str]:
    return sorted(p.name for p in dest.rglob("*") if p.is_file())


def test_fetch_downloads_and_verifies(server, tmp_path, monkeypatch):
    folder, url = server
    data = _publish(monkeypatch, folder, url)
    dest = tmp_path / "cache"
    paths = weights.fetch([NAME], dest=dest)
    assert paths == [dest / "hub" / "checkpoints" / FILENAME]  # torch hub layout
    assert paths[0].read_bytes() == data
    assert weights.require(NAME, cache=dest) == paths[0]
    assert _cache_files(dest) == [FILENAME]  # no .part or temporary file left


def test_corrupted_download_is_rejected_and_not_cached(server, tmp_path, monkeypatch):
    folder, url = server
    data = _publish(monkeypatch, folder, url)
    (folder / FILENAME).write_bytes(data[:-10] + b"corrupted!")  # same size, wrong bytes
    dest = tmp_path / "cache"
    with pytest.raises(DataError, match="sha256 mismatch"):
        weights.fetch([NAME], dest=dest)
    assert _cache_files(dest) == []
    with pytest.raises(MissingWeightsError, match="is missing"):
        weights.require(NAME, cache=dest)


def test_fetch_from_mirror_folder_and_file_url(server, tmp_path, monkeypatch):
    folder, url = server
    data = _publish(monkeypatch, folder, "http://127.0.0.1:9/unreachable")  # only the mirrors have it
    for mirror, dest in ((folder, tmp_path / "c1"), (folder.as_uri(), tmp_path / "c2"), (url, tmp_path / "c3")):
        (path,) = weights.fetch([NAME], dest=dest, mirror=mirror)
        assert path.read_bytes() == data, mirror
        assert _cache_files(dest) == [FILENAME]


def test_fetch_replaces_a_corrupt_cached_file(server, tmp_path, monkeypatch):
    folder, url = server
    data = _publish(monkeypatch, folder, url)
    target = weights.checkpoint_path(NAME, cache=tmp_path)
    target.parent.mkdir(parents=True)
    target.write_bytes(b"truncated")
    with pytest.raises(MissingWeightsError, match="SHA-256 starts with .* expected .*corrupt"):
        weights.require(NAME, cache=tmp_path)
    with pytest.warns(UserWarning, match="fetching it again"):
        weights.fetch([NAME], dest=tmp_path)
    assert target.read_bytes() == data


@pytest.mark.skipif("sha256_prefix" not in inspect.signature(download).parameters,
                    reason="sisr.data.download.download has no sha256_prefix parameter yet (torch hub hash prefixes)")
def test_fetch_with_hash_prefix_only(server, tmp_path, monkeypatch):
    folder, url = server
    data = _publish(monkeypatch, folder, url, full_hash=False)  # as the real entries: prefix only
    (path,) = weights.fetch([NAME], dest=tmp_path / "ok")
    assert path.read_bytes() == data
    (folder / FILENAME).write_bytes(_payload(2))
    with pytest.raises(DataError):
        weights.fetch([NAME], dest=tmp_path / "bad")
    assert _cache_files(tmp_path / "bad") == []


def test_require_names_the_file_and_the_command(tmp_path):
    with pytest.raises(MissingWeightsError) as err:
        weights.require("fid_inception", cache=tmp_path)
    msg = str(err.value)
    assert str(tmp_path / "hub" / "checkpoints" / "pt_inception-2015-12-05-6726825d.pth") in msg
    assert f"sisr fetch-weights fid_inception --dest {tmp_path}" in msg
    assert "snakemake fetch_weights" in msg


def test_require_all_lists_every_missing_file(tmp_path):
    with pytest.raises(MissingWeightsError) as err:
        weights.require_all(["vgg16", "vgg19", "vgg16"], cache=tmp_path)
    assert str(err.value).count("is missing") == 2
    assert "vgg16-397923af.pth" in str(err.value) and "vgg19-dcbb9e9d.pth" in str(err.value)


def test_unknown_name_lists_valid_ones(tmp_path):
    with pytest.raises(ConfigError, match="unknown name 'resnet'; valid names: alexnet, fid_inception, vgg16, vgg19"):
        weights.require("resnet", cache=tmp_path)


def test_weights_dir_precedence_and_use_cache(tmp_path, monkeypatch):
    monkeypatch.delenv("SISR_WEIGHTS", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "th"))  # torch's own cache is not ours
    assert weights.weights_dir() == Path("weights")  # the workflow's default weights_dir, one cache for both
    monkeypatch.setenv("SISR_WEIGHTS", str(tmp_path / "sw"))
    assert weights.weights_dir() == tmp_path / "sw"
    root = weights.use_cache(tmp_path / "job")
    assert root == tmp_path / "job"
    assert weights.weights_dir() == root
    assert os.environ["TORCH_HOME"] == str(root)
    assert Path(torch.hub.get_dir()) == root / "hub"  # where torchvision / pytorch-fid will look


def test_weights_table_follows_torch_hub_naming():
    assert set(weights.WEIGHTS) == {"alexnet", "vgg16", "vgg19", "fid_inception"}
    for name, spec in weights.WEIGHTS.items():
        assert Path(urlparse(spec.url).path).name == spec.filename, name
        assert spec.filename.rsplit(".", 1)[0].endswith(f"-{spec.sha256_prefix}"), name


def test_config_checksum_override_accepts_a_stand_in_file_and_says_so(tmp_path, monkeypatch, caplog):
    """weights_checksums (rehearsals): another file than the published one is checked against the given hash."""
    monkeypatch.setattr(weights, "WEIGHTS", dict(weights.WEIGHTS))
    path = weights.checkpoint_path("alexnet", cache=tmp_path)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"random-init stand-in")
    with pytest.raises(weights.MissingWeightsError, match="7be5be79"):
        weights.require("alexnet", cache=tmp_path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    with caplog.at_level("WARNING", logger="sisr"):
        weights.override_checksums({"alexnet": {"sha256": digest}})
    assert [r.getMessage() for r in caplog.records] == [  # one line, naming the file: not comparable to published
        f"weights_checksums: alexnet-owt-7be5be79.pth ({digest[:8]}...) checked against other files than the "
        "published ones: values made with them are not comparable to published ones"]
    assert weights.require("alexnet", cache=tmp_path) == path
    assert weights.WEIGHTS["vgg16"].sha256_prefix == "397923af"  # the others untouched
