"""Verified, resumable downloads and safe, atomic extraction (standard library only: urllib, zipfile, tarfile).

Guarantees (what a Snakemake rule may rely on):
- ``dest`` appears only after its size and checksum(s) matched (the data go to ``dest.part``, then an
  atomic rename). An existing ``dest`` is taken as done; a ``dest.part`` is resumed with an HTTP Range request.
- A wrong checksum deletes ``dest.part`` and raises ``DownloadError`` naming the URL, expected and actual hash.
- A cut connection is retried (``retries`` times) from where it stopped. The whole download, retries included,
  must end within ``SISR_DOWNLOAD_DEADLINE_S`` seconds (default 6 hours; a server that trickles never trips the
  per-read timeout of 60 s); past it ``DownloadError`` names the URL and the part file is kept for the next attempt.
- ``verify_archive`` checks a file already in ``downloads/`` (e.g. placed there by hand) the same way before it
  is extracted: the extract job does, so no archive is extracted unverified.
- ``extract`` unpacks into a temporary folder inside ``dest_dir``, refuses absolute paths, ``..``, links and
  device files, checks that the archive's expected folder holds images (``contents``), then moves the entries
  into ``dest_dir`` and writes the marker ``.<archive>.complete`` last.

Mirrors, for clusters without internet: ``mirror`` is a URL prefix (``http(s)://host/path/``, ``file:///path/``)
or a local folder that holds the archives by file name; the archive's file name is appended to it.
Progress goes to the ``sisr.data.download`` logger, one line every 5 % (or every 100 MB when the size is unknown).
"""

from __future__ import annotations

import errno
import http.client
import json
import logging
import math
import os
import shutil
import socket
import tarfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
import zlib
from pathlib import Path, PurePosixPath
from typing import Any, Mapping

from sisr.base.hashing import file_digests
from sisr.data.sources import archive as catalogue_row
from sisr.base.errors import ConfigError, DataError
from sisr.base.io import IMAGE_SUFFIXES, atomic_write

log = logging.getLogger(__name__)

_CHUNK = 1 << 20
_TIMEOUT_S = 60
DEADLINE_ENV = "SISR_DOWNLOAD_DEADLINE_S"
DEFAULT_DEADLINE_S = 6 * 3600.0


class DownloadError(DataError):
    """A download failed, or its size or checksum did not match the published one."""


def mirror_url(url: str, mirror: str | os.PathLike | None) -> str:
    """The URL to fetch: ``url`` itself, or the archive's file name under ``mirror`` (prefix URL or folder)."""
    if mirror is None or str(mirror) == "":
        return url
    filename = PurePosixPath(urllib.parse.urlparse(url).path).name
    mirror = str(mirror)
    if urllib.parse.urlparse(mirror).scheme in ("http", "https", "file"):
        return mirror.rstrip("/") + "/" + urllib.parse.quote(filename)
    folder = Path(mirror).expanduser().resolve()
    if not folder.is_dir():
        raise ConfigError(f"data.mirror: {mirror!r} is neither a URL prefix (http://, https://, file://) nor a folder")
    return (folder / filename).as_uri()


def deadline_s() -> float:
    """Seconds a whole download may take: ``$SISR_DOWNLOAD_DEADLINE_S``, else 6 hours."""
    text = os.environ.get(DEADLINE_ENV, "")
    try:
        value = float(text) if text else DEFAULT_DEADLINE_S
    except ValueError:
        raise ConfigError(f"{DEADLINE_ENV}: expected a number of seconds, got {text!r}") from None
    if value <= 0:
        raise ConfigError(f"{DEADLINE_ENV}: expected a number of seconds > 0, got {text!r}")
    return value


def _mismatch(path: Path, *, size: int | None, sha256: str | None, md5: str | None,
              sha256_prefix: str | None = None) -> str | None:
    """What differs between ``path`` and the expected size and checksums (one phrase), or None if all match."""
    got_size = path.stat().st_size
    if size is not None and got_size != size:
        return f"{got_size:,} bytes, expected {size:,}"
    wanted = [name for name, want in (("sha256", sha256 is not None or bool(sha256_prefix)), ("md5", md5 is not None))
              if want]
    actual = file_digests(path, wanted)
    checks = [("sha256", sha256, actual.get("sha256")), ("md5", md5, actual.get("md5")),
              ("sha256 prefix", sha256_prefix, (actual.get("sha256") or "")[: len(sha256_prefix or "")])]
    for name, expected, got in checks:
        if expected and got != expected.lower():
            return f"{name} mismatch: expected {expected}, got {got}"
    return None


def verify_archive(path: str | os.PathLike, overrides: Mapping[str, Mapping[str, Any]] | None = None) -> Path:
    """Check an archive in ``downloads/`` (downloaded, or placed there by hand) against its catalogue row.

    A mismatch raises ``DataError`` naming the file, the expected and the actual value and what to do; the file
    is left in place (it is the user's). overrides: the config's ``archives`` (as ``fetch_archive``).
    """
    path = Path(path)
    row = catalogue_row(path.name, overrides)
    if not path.is_file():
        raise DataError(f"{path}: archive not found (download it first)")
    problem = _mismatch(path, size=row.size, sha256=row.sha256, md5=row.md5)
    if problem:
        raise DataError(f"{path}: {problem} (not the published archive: another version or a damaged copy); "
                        f"delete it (rm {path}) and rerun to download it, or place the published file there")
    log.info("verified %s against the published checksum", path)
    return path


def _open(url: str, offset: int, timeout: float = _TIMEOUT_S) -> tuple[Any, int, int | None]:
    """Open ``url`` from byte ``offset``; returns (response, start offset actually served, total size or None)."""
    request = urllib.request.Request(url, headers={"User-Agent": "sisr-bench"})
    if offset > 0 and urllib.parse.urlparse(url).scheme in ("http", "https"):
        request.add_header("Range", f"bytes={offset}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416:  # range not satisfiable: the part file already holds the whole file (or more)
            return None, offset, None
        raise
    status = getattr(response, "status", None)
    length = response.headers.get("Content-Length")
    if status == 206:
        content_range = response.headers.get("Content-Range", "")  # "bytes START-END/TOTAL"
        start = int(content_range.split()[1].split("-")[0]) if content_range.startswith("bytes ") else 0
        total = content_range.rsplit("/", 1)[-1]
        return response, start, int(total) if total.isdigit() else None
    return response, 0, int(length) if length and length.isdigit() else None


class _DeadlinePassed(Exception):
    """The overall deadline of a download passed (raised between reads; not retried)."""


def _fetch_into(url: str, part: Path, size: int | None, deadline: float = math.inf) -> None:
    """Append the rest of ``url`` to ``part`` (resuming from its current length); logs progress.

    deadline: a ``time.monotonic()`` value; past it, ``_DeadlinePassed`` (checked after every read).
    """
    offset = part.stat().st_size if part.exists() else 0
    if size is not None and offset > size:
        part.unlink()
        offset = 0
    response, start, total = _open(url, offset, max(0.1, min(_TIMEOUT_S, deadline - time.monotonic())))
    if response is None:
        return
    total = total or size
    with response, open(part, "r+b" if part.exists() else "wb") as fh:
        fh.seek(start)
        fh.truncate()  # a server that ignores Range restarts at 0: drop what we had
        done = start
        step = max(total // 20, 1) if total else 100 * _CHUNK
        next_report = done + step
        while chunk := _read_some(response):
            fh.write(chunk)
            if time.monotonic() > deadline:
                raise _DeadlinePassed
            done += len(chunk)
            if done >= next_report:
                pct = f" ({100 * done / total:.0f} %)" if total else ""
                log.info("%s: %d MB%s", url, done >> 20, pct)
                next_report = done + step
        if total is not None and done < total:  # connection closed early without an exception
            raise http.client.IncompleteRead(b"", total - done)


def _read_some(response: Any) -> bytes:
    """Up to 1 MiB, returning as soon as some bytes came (``read1``), so that a deadline is checked between."""
    read1 = getattr(response, "read1", None)
    return read1(_CHUNK) if read1 is not None else response.read(_CHUNK)


def network_reason(exc: BaseException) -> str:
    """A network error in words: ``cannot resolve cv.snu.ac.kr (offline, or no DNS)``, ``connection refused``."""
    reason = getattr(exc, "reason", exc)
    if isinstance(reason, socket.gaierror):
        return f"cannot resolve the host name ({reason.strerror or reason}): offline, or no DNS"
    if isinstance(reason, (socket.timeout, TimeoutError)):
        return "timed out"
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, ConnectionResetError):
        return "connection reset by the server"
    if isinstance(exc, http.client.IncompleteRead):
        return "the connection closed before the end of the file"
    text = getattr(reason, "strerror", None) or str(reason) or type(reason).__name__
    return " ".join(str(text).split())


def download(
    url: str,
    dest: str | os.PathLike,
    *,
    sha256: str | None = None,
    md5: str | None = None,
    size: int | None = None,
    mirror: str | os.PathLike | None = None,
    retries: int = 3,
    backoff_s: float = 2.0,
    sha256_prefix: str | None = None,
) -> Path:
    """Download ``url`` to ``dest``, verified, resuming ``dest.part`` if present; returns ``dest``.

    sha256 / md5: expected checksums (at least one checksum is required; all given are checked).
    sha256_prefix: the start of the expected SHA-256 (torch hub's convention: the 8 hex digits in a weights
        file name), for files whose full hash is not published.
    size: expected size in bytes (checked first when given).
    mirror: fetch the same file name from this URL prefix or local folder instead (see the module docstring).
    retries: extra attempts after a network error, each resuming where the last stopped;
        ``backoff_s * attempt`` seconds apart.
    """
    dest = Path(dest)
    if sha256 is None and md5 is None and not sha256_prefix:
        raise ConfigError(f"download {url}: no sha256, sha256_prefix or md5 given; "
                          f"refusing to produce an unverified {dest.name}")
    if dest.exists():
        return dest
    source = mirror_url(url, mirror)
    part = dest.with_name(dest.name + ".part")
    dest.parent.mkdir(parents=True, exist_ok=True)
    allowed = deadline_s()
    deadline = time.monotonic() + allowed
    for attempt in range(retries + 1):
        try:
            if time.monotonic() > deadline:
                raise _DeadlinePassed
            log.info("downloading %s -> %s%s", source, dest, " (resuming)" if part.exists() else "")
            _fetch_into(source, part, size, deadline)
            break
        except _DeadlinePassed:
            kept = part.stat().st_size if part.exists() else 0
            raise DownloadError(f"{source}: download did not finish within {allowed:g} s ({DEADLINE_ENV}); "
                                f"{kept:,} bytes kept in {part}, the next attempt resumes (a slow or stalled "
                                f"server: raise {DEADLINE_ENV}, or use a mirror)") from None
        except (urllib.error.URLError, http.client.HTTPException, ConnectionError, socket.timeout, OSError) as exc:
            if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise DataError(f"no space left on device writing {part}") from exc
            if isinstance(exc, urllib.error.HTTPError) and exc.code in (403, 404, 410):
                raise DownloadError(f"{source}: HTTP {exc.code} {exc.reason}") from exc
            if isinstance(exc, urllib.error.URLError) and isinstance(exc.reason, FileNotFoundError):
                raise DownloadError(f"{source}: no such file (is the mirror complete?)") from exc
            reason = network_reason(exc)
            offline = isinstance(getattr(exc, "reason", None), socket.gaierror)  # no DNS: retrying will not help
            if attempt == retries or offline:
                kept = part.stat().st_size if part.exists() else 0
                tried = "" if offline else f" after {attempt + 1} attempts"
                raise DownloadError(
                    f"{source}: download failed{tried}: {reason}"
                    + (f"; {kept:,} bytes kept in {part}, the next attempt resumes" if kept else "")
                    + f"; fetch {dest.name} on a machine with internet into {dest.parent}/, or use a mirror "
                      f"(config mirror:, sisr fetch-weights --mirror)") from None
            log.warning("%s: %s; retrying in %.0f s (%d/%d)", source, reason, backoff_s * (attempt + 1),
                        attempt + 1, retries)
            time.sleep(min(backoff_s * (attempt + 1), max(0.0, deadline - time.monotonic())))
    got_size = part.stat().st_size
    if size is not None and got_size != size:
        part.unlink()
        raise DownloadError(f"{source}: expected {size} bytes, got {got_size}; the partial file was deleted")
    problem = _mismatch(part, size=None, sha256=sha256, md5=md5, sha256_prefix=sha256_prefix)
    if problem:
        part.unlink()
        raise DownloadError(f"{source}: {problem}; the downloaded file was deleted")
    os.replace(part, dest)
    log.info("verified %s (%d bytes)", dest, got_size)
    return dest


def fetch_archive(
    filename: str,
    downloads_dir: str | os.PathLike,
    *,
    mirror: str | os.PathLike | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
    retries: int = 3,
) -> Path:
    """Download catalogue archive ``filename`` into ``downloads_dir`` (one call per Snakemake download rule).

    overrides: the config's ``data.archives`` (replaces url/size/sha256/md5 of catalogue rows).
    """
    row = catalogue_row(filename, overrides)
    return download(row.url, Path(downloads_dir) / row.filename, sha256=row.sha256, md5=row.md5,
                    size=row.size, mirror=mirror, retries=retries)


def _check_member(archive: Path, name: str, *, is_file: bool, is_dir: bool) -> PurePosixPath:
    """Reject absolute paths, ``..`` components and anything that is neither a file nor a folder."""
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or (path.parts and ":" in path.parts[0]):
        raise DataError(f"{archive}: unsafe member path {name!r} (absolute or with '..'); not extracted")
    if not (is_file or is_dir):
        raise DataError(f"{archive}: member {name!r} is a link or special file; not extracted")
    return path


def _unpack(archive: Path, tmp: Path) -> int:
    """Extract all members of a zip or tar archive into ``tmp`` after checking every member; returns the count."""
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            infos = zf.infolist()
            for info in infos:
                is_link = (info.external_attr >> 16) & 0o170000 == 0o120000
                _check_member(archive, info.filename, is_file=not is_link, is_dir=info.is_dir())
            zf.extractall(tmp)
            return len(infos)
    if tarfile.is_tarfile(archive):
        with tarfile.open(archive) as tf:
            members = tf.getmembers()
            for m in members:
                _check_member(archive, m.name, is_file=m.isfile(), is_dir=m.isdir())
            tf.extractall(tmp, filter="data")
            return len(members)
    raise DataError(f"{archive}: not a zip or tar archive")


def _merge_move(src: Path, dst: Path) -> None:
    """Move the tree ``src`` into ``dst``: folders are merged, files replace (each move is one rename)."""
    for entry in src.iterdir():
        target = dst / entry.name
        if entry.is_dir() and target.is_dir():
            _merge_move(entry, target)
        else:
            if target.is_dir():
                shutil.rmtree(target)
            os.replace(entry, target)


def extraction_marker(archive: str | os.PathLike, dest_dir: str | os.PathLike) -> Path:
    """Path of the marker file ``extract`` writes when ``archive`` is fully extracted into ``dest_dir``."""
    return Path(dest_dir) / f".{Path(archive).name}.complete"


def _holds_images(folder: Path) -> bool:
    return folder.is_dir() and any(p.suffix.lower() in IMAGE_SUFFIXES for p in folder.rglob("*") if p.is_file())


def extract(archive: str | os.PathLike, dest_dir: str | os.PathLike, *, contents: str | None = None) -> Path:
    """Extract a zip or tar ``archive`` into ``dest_dir`` safely and atomically; returns the marker path.

    Several archives may share ``dest_dir`` (DIV2K HR and LR zips go to ``data/div2k``): their folders merge.
    If the marker already exists nothing is done. contents: the folder inside the archive that must hold
    images (the catalogue's ``contents``); an archive without any there raises ``DataError`` and nothing of it
    is moved into ``dest_dir``.
    """
    archive, dest_dir = Path(archive), Path(dest_dir)
    marker = extraction_marker(archive, dest_dir)
    if marker.exists():
        return marker
    if not archive.is_file():
        raise DataError(f"{archive}: archive not found (download it first)")
    dest_dir.mkdir(parents=True, exist_ok=True)
    tmp = dest_dir / f".extract-{archive.name}.tmp"
    if tmp.exists():
        shutil.rmtree(tmp)  # left by an interrupted run
    tmp.mkdir()
    try:
        log.info("extracting %s -> %s", archive, dest_dir)
        count = _unpack(archive, tmp)
        if contents is not None and not _holds_images(tmp / contents):
            raise DataError(f"{archive}: no images under {contents}/ in the archive (the published {archive.name} "
                            f"holds its images under {contents}/); not extracted: delete it (rm {archive}) and "
                            f"rerun to download it, or place the published file there")
        _merge_move(tmp, dest_dir)
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error) as exc:
        raise DataError(f"{archive}: truncated or corrupt archive ({type(exc).__name__}: {exc}); delete it and "
                        f"download it again") from exc
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise DataError(f"no space left on device extracting {archive} into {dest_dir}") from exc
        raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    with atomic_write(marker, "w") as fh:
        json.dump({"archive": archive.name, "bytes": archive.stat().st_size, "members": count}, fh)
    return marker
