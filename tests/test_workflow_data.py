"""The workflow's download rules against a local HTTP server on 127.0.0.1: the archive comes from a mirror,
its checksum is injected through the config (`archives:`), a wrong checksum fails without leaving a file."""

import hashlib
import json
from pathlib import Path

import pytest

from helpers.servers import benchmark_tar, file_server
from helpers.workflow import run_snakemake, write_config

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def mirror():
    with file_server({"benchmark.tar": benchmark_tar()}) as srv:
        yield srv, f"{srv.url}/"


def _run(tmp_path, cfg, *targets):
    config = write_config(tmp_path / "config.yaml", cfg)
    return run_snakemake(*targets, directory=tmp_path, cores=1, configfiles=[config], timeout=300)


def _config(url, md5):
    return {"tier": "demo", "studies": ["espcn"], "studies_dir": str(ROOT / "studies"), "mirror": url,
            "archives": {"benchmark.tar": {"md5": md5}}, "leaderboard_sets": ["benchmark/Set5"]}


def test_download_extract_and_cache_through_the_workflow(tmp_path, mirror):
    srv, url = mirror
    md5 = hashlib.md5(srv.files["benchmark.tar"]).hexdigest()
    res = _run(tmp_path, _config(url, md5), "data/cache/benchmark/Set5/x4_rgb/manifest.json")
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert (tmp_path / "data/downloads/benchmark.tar").read_bytes() == srv.files["benchmark.tar"]
    assert (tmp_path / "data/datasets/benchmark/benchmark/Set5/HR/baby.png").is_file()
    ready = json.loads((tmp_path / "data/datasets/benchmark/ready.json").read_text())
    assert ready["archives"] == ["benchmark.tar"]
    manifest = json.loads((tmp_path / "data/cache/benchmark/Set5/x4_rgb/manifest.json").read_text())
    assert len(manifest["images"]) == 2


def test_wrong_checksum_fails_and_leaves_no_archive(tmp_path, mirror):
    _srv, url = mirror
    res = _run(tmp_path, _config(url, "0" * 32), "data/datasets/benchmark/ready.json")
    assert res.returncode != 0
    log = (tmp_path / "logs/download/benchmark.tar.log").read_text()
    assert "md5" in log and "0" * 32 in log
    assert not (tmp_path / "data/downloads/benchmark.tar").exists()
    assert not list((tmp_path / "data/downloads").glob("benchmark.tar*"))  # no partial file either
