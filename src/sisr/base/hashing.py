"""File digests in one place: SHA-256 (archives, pretrained weights, derived datasets) and MD5 (the archives
whose publishers give only an MD5), computed in one pass over the file."""

from __future__ import annotations

import hashlib
import os
from typing import Iterable

CHUNK = 1 << 20  # bytes read at a time


def file_digests(path: str | os.PathLike, algorithms: Iterable[str] = ("sha256",)) -> dict[str, str]:
    """algorithm -> hex digest of the file's bytes, every algorithm in one read of the file."""
    digests = {name: hashlib.new(name) for name in algorithms}
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            for digest in digests.values():
                digest.update(chunk)
    return {name: digest.hexdigest() for name, digest in digests.items()}


def sha256_file(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes."""
    return file_digests(path)["sha256"]
