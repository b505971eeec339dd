"""Downloads and extraction against a local HTTP server on 127.0.0.1 (no internet): checksums, a connection cut
mid-file, resumed downloads, mirrors, safe extraction, and the catalogue with checksums injected as the config does."""

from __future__ import annotations

import hashlib
import io
import tarfile
import zipfile

import numpy as np
import pytest

from helpers.servers import file_server, png_bytes, tar_bytes

from sisr.data import download as dl
from sisr.data.datasets import get_dataset
from sisr.data.sources import ARCHIVES, archive, archives_for
from sisr.base.errors import ConfigError, DataError


@pytest.fixture
def server():
    with file_server() as srv:
        yield srv


def _payload(n: int = 300_000, seed: int = 0) -> bytes:
    return np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8).tobytes()


def _sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def _md5(b: bytes) -> str:
    return hashlib.md5(b).hexdigest()


def test_download_verifies_both_checksums_and_leaves_no_part(server, tmp_path):
    data = _payload()
    server.files["a.bin"] = data
    dest = dl.download(f"{server.url}/a.bin", tmp_path / "a.bin", sha256=_sha(data), md5=_md5(data), size=len(data))
    assert dest.read_bytes() == data
    assert not (tmp_path / "a.bin.part").exists()
    dl.download(f"{server.url}/a.bin", dest, sha256=_sha(data))  # existing dest: taken as done, no new request
    assert len(server.requests) == 1


def test_wrong_checksum_deletes_the_part_and_names_url_and_hashes(server, tmp_path):
    data = _payload()
    server.files["a.bin"] = data
    wrong = "0" * 64
    with pytest.raises(dl.DownloadError) as err:
        dl.download(f"{server.url}/a.bin", tmp_path / "a.bin", sha256=wrong)
    msg = str(err.value)
    assert f"{server.url}/a.bin" in msg and wrong in msg and _sha(data) in msg
    assert not (tmp_path / "a.bin").exists() and not (tmp_path / "a.bin.part").exists()


def test_wrong_md5_and_wrong_size_are_errors(server, tmp_path):
    data = _payload()
    server.files["a.bin"] = data
    with pytest.raises(dl.DownloadError, match="md5 mismatch"):
        dl.download(f"{server.url}/a.bin", tmp_path / "a.bin", md5="f" * 32)
    with pytest.raises(dl.DownloadError, match="sha256 prefix mismatch: expected 00000000"):
        dl.download(f"{server.url}/a.bin", tmp_path / "a.bin", sha256_prefix="00000000")
    dest = dl.download(f"{server.url}/a.bin", tmp_path / "p.bin", sha256_prefix=_sha(data)[:8])
    assert dest.read_bytes() == data
    dest.unlink()
    with pytest.raises(dl.DownloadError, match=f"expected {len(data) + 1} bytes"):
        dl.download(f"{server.url}/a.bin", tmp_path / "a.bin", sha256=_sha(data), size=len(data) + 1)
    assert not list(tmp_path.iterdir())


def test_connection_cut_mid_file_is_resumed_with_a_range_request(server, tmp_path):
    data = _payload()
    server.files["a.bin"] = data
    server.cut.add("a.bin")
    dest = dl.download(f"{server.url}/a.bin", tmp_path / "a.bin", sha256=_sha(data), retries=2, backoff_s=0)
    assert dest.read_bytes() == data
    assert server.requests == [("a.bin", None), ("a.bin", f"bytes={len(data) // 2}-")]


def test_cut_without_retries_keeps_the_part_file_and_a_later_call_resumes(server, tmp_path):
    data = _payload()
    server.files["a.bin"] = data
    server.cut.add("a.bin")
    with pytest.raises(dl.DownloadError, match=r"bytes kept in .*a\.bin\.part, the next attempt resumes"):
        dl.download(f"{server.url}/a.bin", tmp_path / "a.bin", sha256=_sha(data), retries=0)
    assert not (tmp_path / "a.bin").exists()
    assert (tmp_path / "a.bin.part").stat().st_size == len(data) // 2
    dl.download(f"{server.url}/a.bin", tmp_path / "a.bin", sha256=_sha(data), retries=0)
    assert (tmp_path / "a.bin").read_bytes() == data
    assert server.requests[-1] == ("a.bin", f"bytes={len(data) // 2}-")


def test_offline_download_fails_at_once_in_one_line_without_promising_a_part_file(tmp_path, monkeypatch):
    import socket
    import urllib.error

    calls = []

    def offline(url, part, size, deadline):
        calls.append(url)
        raise urllib.error.URLError(socket.gaierror(-2, "Name or service not known"))

    monkeypatch.setattr(dl, "_fetch_into", offline)
    with pytest.raises(dl.DownloadError) as info:
        dl.download("https://example.invalid/a.bin", tmp_path / "a.bin", sha256="0" * 64, retries=3, backoff_s=0)
    message = str(info.value)
    assert len(calls) == 1  # no DNS: retrying cannot help
    assert "\n" not in message and "cannot resolve the host name" in message and "URLError" not in message
    assert ".part" not in message and not (tmp_path / "a.bin.part").exists()
    assert f"into {tmp_path}/" in message and "mirror" in message  # what to do instead


def test_refused_connection_retries_then_says_why(tmp_path, monkeypatch):
    def refused(url, part, size, deadline):
        raise urllib.error.URLError(ConnectionRefusedError(111, "Connection refused"))

    import urllib.error

    monkeypatch.setattr(dl, "_fetch_into", refused)
    with pytest.raises(dl.DownloadError, match=r"download failed after 3 attempts: connection refused; fetch a\.bin"):
        dl.download("http://127.0.0.1:9/a.bin", tmp_path / "a.bin", sha256="0" * 64, retries=2, backoff_s=0)


@pytest.mark.parametrize("honour_range", [True, False])
def test_existing_part_is_resumed_or_restarted_when_range_is_ignored(server, tmp_path, honour_range):
    data = _payload()
    server.files["a.bin"] = data
    server.honour_range = honour_range
    (tmp_path / "a.bin.part").write_bytes(data[:1000])
    dl.download(f"{server.url}/a.bin", tmp_path / "a.bin", sha256=_sha(data))
    assert (tmp_path / "a.bin").read_bytes() == data
    assert server.requests == [("a.bin", "bytes=1000-")]


def test_missing_file_and_missing_checksum_are_clear_errors(server, tmp_path):
    with pytest.raises(dl.DownloadError, match="HTTP 404"):
        dl.download(f"{server.url}/nope.bin", tmp_path / "nope.bin", md5="0" * 32)
    with pytest.raises(ConfigError, match="no sha256, sha256_prefix or md5"):
        dl.download(f"{server.url}/a.bin", tmp_path / "a.bin")


def test_mirror_as_folder_file_url_and_http_prefix(server, tmp_path):
    data = _payload(5000)
    folder = tmp_path / "mirror"
    folder.mkdir()
    (folder / "DIV2K_valid_HR.zip").write_bytes(data)
    url = "https://data.vision.ee.ethz.ch/cvl/DIV2K/DIV2K_valid_HR.zip"  # never contacted
    for i, mirror in enumerate([str(folder), folder.as_uri() + "/"]):
        dest = dl.download(url, tmp_path / f"out{i}" / "DIV2K_valid_HR.zip", sha256=_sha(data), mirror=mirror)
        assert dest.read_bytes() == data
    server.files["sub/DIV2K_valid_HR.zip"] = data
    dest = dl.download(url, tmp_path / "out_http" / "DIV2K_valid_HR.zip", sha256=_sha(data), mirror=server.url + "/sub")
    assert dest.read_bytes() == data
    with pytest.raises(dl.DownloadError, match="no such file"):
        dl.download(url.replace("valid", "train"), tmp_path / "x.zip", sha256=_sha(data), mirror=str(folder))
    with pytest.raises(ConfigError, match="neither a URL prefix"):
        dl.mirror_url(url, tmp_path / "does-not-exist")


def _png_bytes(h: int, w: int, seed: int) -> bytes:
    return png_bytes(seed, h, w)


_tar = tar_bytes


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, content in members.items():
            zf.writestr(name, content)
    return buf.getvalue()


def test_extract_merges_div2k_zips_writes_marker_and_adapter_reads_them(tmp_path):
    hr = _zip({"DIV2K_train_HR/0001.png": _png_bytes(16, 24, 0), "DIV2K_train_HR/0002.png": _png_bytes(16, 24, 1)})
    lr = _zip({"DIV2K_train_LR_bicubic/X2/0001x2.png": _png_bytes(8, 12, 2),
               "DIV2K_train_LR_bicubic/X2/0002x2.png": _png_bytes(8, 12, 3)})
    (tmp_path / "DIV2K_train_HR.zip").write_bytes(hr)
    (tmp_path / "DIV2K_train_LR_bicubic_X2.zip").write_bytes(lr)
    dest = tmp_path / "data" / "div2k"
    for name in ("DIV2K_train_HR.zip", "DIV2K_train_LR_bicubic_X2.zip"):
        marker = dl.extract(tmp_path / name, dest)
        assert marker == dl.extraction_marker(name, dest) and marker.exists()
    assert sorted(p.name for p in dest.iterdir() if not p.name.startswith(".")) == \
        ["DIV2K_train_HR", "DIV2K_train_LR_bicubic"]
    pairs = get_dataset("div2k", root=dest, split="train", scale=2)
    assert [p.name for p in pairs] == ["0001", "0002"] and all(p.lr.exists() for p in pairs)
    assert not [p for p in dest.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("bad", ["../evil.png", "/abs/evil.png", "ok/../../evil.png"])
def test_extract_refuses_path_traversal(tmp_path, bad):
    (tmp_path / "bad.zip").write_bytes(_zip({"good/a.png": b"x", bad: b"evil"}))
    (tmp_path / "bad.tar").write_bytes(_tar({"good/a.png": b"x", bad: b"evil"}))
    for name in ("bad.zip", "bad.tar"):
        with pytest.raises(DataError, match="unsafe member path"):
            dl.extract(tmp_path / name, tmp_path / "out")
        assert not dl.extraction_marker(name, tmp_path / "out").exists()
    assert not (tmp_path / "evil.png").exists() and not (tmp_path / "out" / "good").exists()


def test_extract_refuses_links(tmp_path):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        info = tarfile.TarInfo("benchmark/link")
        info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tf.addfile(info)
    (tmp_path / "l.tar").write_bytes(buf.getvalue())
    with pytest.raises(DataError, match="link or special file"):
        dl.extract(tmp_path / "l.tar", tmp_path / "out")


def test_catalogue_rows_and_overrides():
    row = ARCHIVES["DIV2K_train_HR.zip"]
    assert row.size == 3_530_603_713 and len(row.sha256) == 64 and len(row.md5) == 32
    assert all(a.sha256 or a.md5 for a in ARCHIVES.values())
    assert archive("benchmark.tar", {"benchmark.tar": {"md5": "abc"}}).md5 == "abc"
    with pytest.raises(ConfigError, match="unknown keys"):
        archive("benchmark.tar", {"benchmark.tar": {"sha1": "abc"}})
    with pytest.raises(ConfigError, match="not in the catalogue"):
        archive("DIV8K.zip")
    assert archives_for("df2k", split="train", scales=[4, 8]) == [
        "DIV2K_train_HR.zip", "DIV2K_train_LR_bicubic_X4.zip", "Flickr2K.tar"]
    assert archives_for("set5", split="test") == ["benchmark.tar"]


def test_fetch_and_extract_benchmark_with_checksums_injected_like_the_config(server, tmp_path):
    members = {"benchmark/Set5/HR/baby.png": _png_bytes(12, 12, 0),
               **{f"benchmark/Set5/LR_bicubic/X{s}/babyx{s}.png": _png_bytes(12 // s, 12 // s, s) for s in (2, 3, 4)}}
    data = _tar(members)
    server.files["benchmark.tar"] = data
    config = {"data": {"archives": {"benchmark.tar": {"url": f"{server.url}/benchmark.tar", "md5": _md5(data)}}}}
    path = dl.fetch_archive("benchmark.tar", tmp_path / "downloads", overrides=config["data"]["archives"])
    marker = dl.extract(path, tmp_path / "benchmark")
    assert marker.exists()
    (pair,) = get_dataset("set5", root=tmp_path / "benchmark", split="test", scale=3)
    assert pair.name == "baby" and pair.lr.read_bytes() == members["benchmark/Set5/LR_bicubic/X3/babyx3.png"]
    config["data"]["archives"]["benchmark.tar"]["md5"] = "0" * 32
    (tmp_path / "downloads" / "benchmark.tar").unlink()
    with pytest.raises(dl.DownloadError, match="md5 mismatch"):
        dl.fetch_archive("benchmark.tar", tmp_path / "downloads", overrides=config["data"]["archives"])
