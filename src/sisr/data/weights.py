"""Pretrained-weight cache: fetch once (hash-verified), find offline, fail early with a clear message.

LPIPS (AlexNet / VGG16 trunks), FID (the pytorch-fid Inception) and the VGG19 perceptual loss load
ImageNet weights through torch hub, which downloads on first use. Compute nodes often have no network,
so the workflow fetches every file once (``sisr fetch-weights`` / ``snakemake fetch_weights``) into a
cache directory and every job points torch at it.

The cache directory (``weights_dir()``): ``$SISR_WEIGHTS``, else ``./weights``, the workflow's default
``weights_dir`` (run from the project folder, the ``sisr`` command and the workflow share one cache).
The workflow calls ``use_cache(config["weights_dir"])`` at the start of each job that needs weights, the
``sisr`` command ``use_cache(--weights-dir or --dest)``: it sets ``$SISR_WEIGHTS`` and ``$TORCH_HOME``, so our
checks and torch's loaders look at the same files.

Layout: torch hub's, ``<dir>/hub/checkpoints/<filename>``, so that ``TORCH_HOME=<dir>`` makes torchvision,
lpips and pytorch-fid find the files without network (``torch.hub.load_state_dict_from_url`` reads an
existing file and downloads only when it is absent).

Hashes (source: torch hub's convention, see ``torch.hub.download_url_to_file``): the 8 hex digits in the
file name are the start of the file's SHA-256; that prefix is checked, and the full SHA-256 as well where
one is recorded in ``WEIGHTS``. URLs: docs/DATA_SOURCES.md (torchvision model URLs; the pytorch-fid
release asset ``FID_WEIGHTS_URL`` in ``pytorch_fid/inception.py``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Iterable, Iterator

from sisr.base.errors import ConfigError, MissingWeightsError
from sisr.base.hashing import sha256_file
from sisr.base import suggest

ENV_WEIGHTS = "SISR_WEIGHTS"
HUB_CHECKPOINTS = Path("hub") / "checkpoints"


@dataclass(frozen=True)
class WeightSpec:
    """One pretrained file.

    filename: the name torch hub stores it under (``<dir>/hub/checkpoints/<filename>``).
    url: where it is published.
    sha256_prefix: the start of its SHA-256 (the hex digits in the file name, torch hub's convention).
    sha256: the full SHA-256 when known (checked in addition to the prefix), else None.
    used_by: what needs it, for error messages.
    """

    filename: str
    url: str
    sha256_prefix: str
    sha256: str | None = None
    used_by: str = ""


WEIGHTS: dict[str, WeightSpec] = {
    "alexnet": WeightSpec(
        filename="alexnet-owt-7be5be79.pth",
        url="https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",
        sha256_prefix="7be5be79",
        used_by="lpips_alex (torchvision AlexNet trunk)",
    ),
    "vgg16": WeightSpec(
        filename="vgg16-397923af.pth",
        url="https://download.pytorch.org/models/vgg16-397923af.pth",
        sha256_prefix="397923af",
        used_by="lpips_vgg (torchvision VGG16 trunk)",
    ),
    "vgg19": WeightSpec(
        filename="vgg19-dcbb9e9d.pth",
        url="https://download.pytorch.org/models/vgg19-dcbb9e9d.pth",
        sha256_prefix="dcbb9e9d",
        used_by="the VGG19 perceptual loss (torchvision VGG19)",
    ),
    "fid_inception": WeightSpec(
        filename="pt_inception-2015-12-05-6726825d.pth",
        url="https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
        "pt_inception-2015-12-05-6726825d.pth",
        sha256_prefix="6726825d",
        used_by="fid (pytorch-fid's port of the TensorFlow FID Inception)",
    ),
}

# Files whose hash was already checked in this process: (path, size, mtime_ns) -> spec checked against.
_VERIFIED: dict[tuple[str, int, int], WeightSpec] = {}


DEFAULT_DIR = "weights"  # the workflow's default weights_dir (config.yaml), relative to the current folder


def weights_dir() -> Path:
    """The cache directory: ``$SISR_WEIGHTS``, else ``./weights`` (the workflow's default; module docstring)."""
    value = os.environ.get(ENV_WEIGHTS)
    return Path(value).expanduser() if value else Path(DEFAULT_DIR)


def use_cache(cache: str | os.PathLike | None = None) -> Path:
    """Point this process (and its children) at ``cache``: sets ``$SISR_WEIGHTS`` and ``$TORCH_HOME``.

    cache: the cache directory; None keeps ``weights_dir()``. Returns the absolute directory.
    Call it at the start of every job that needs weights, before any network is built.
    """
    root = Path(cache).expanduser() if cache is not None else weights_dir()
    root = root.absolute()
    os.environ[ENV_WEIGHTS] = str(root)
    os.environ["TORCH_HOME"] = str(root)
    return root


def _spec(name: str) -> WeightSpec:
    if name not in WEIGHTS:
        raise ConfigError(f"weights: {suggest.unknown('name', [name], sorted(WEIGHTS))}")
    return WEIGHTS[name]


def checkpoint_path(name: str, *, cache: str | os.PathLike | None = None) -> Path:
    """Where the file ``name`` lives in the cache: ``<cache>/hub/checkpoints/<filename>`` (may not exist)."""
    root = Path(cache).expanduser() if cache is not None else weights_dir()
    return root / HUB_CHECKPOINTS / _spec(name).filename


def hash_problem(path: Path, spec: WeightSpec) -> str | None:
    """None if ``path`` matches ``spec``'s hash (prefix, and full SHA-256 when known); else what is wrong."""
    digest = sha256_file(path)
    if not digest.startswith(spec.sha256_prefix.lower()):
        return f"SHA-256 starts with {digest[:len(spec.sha256_prefix)]}, expected {spec.sha256_prefix}"
    if spec.sha256 is not None and digest != spec.sha256.lower():
        return f"SHA-256 is {digest}, expected {spec.sha256}"
    return None


def override_checksums(checksums: dict | None) -> None:
    """Expect other files than the published ones (config ``weights_checksums``: ``{name: {"sha256": HEX}}``),
    e.g. the random-init stand-ins of a rehearsal; in this process, ``require`` and ``fetch`` check these hashes."""
    changed = []
    for name, entry in (checksums or {}).items():
        digest = entry["sha256"].lower()
        if _spec(name).sha256 != digest:
            WEIGHTS[name] = replace(WEIGHTS[name], sha256_prefix=digest[:8], sha256=digest)
            changed.append(f"{WEIGHTS[name].filename} ({digest[:8]}...)")
    if changed:  # one line per job, not one warning (and its source line) per file
        logging.getLogger("sisr").warning(
            "weights_checksums: %s checked against other files than the published ones: values made with them are "
            "not comparable to published ones", ", ".join(changed))


def _fetch_hint(name: str, root: Path) -> str:
    return (f"run `sisr fetch-weights {name} --dest {root}` (or `snakemake fetch_weights`) on a machine "
            f"with internet, or copy the file there")


def require(name: str, *, cache: str | os.PathLike | None = None) -> Path:
    """Path of the verified file ``name`` in the cache, or MissingWeightsError naming it and the fix.

    name: a key of ``WEIGHTS``. cache: the cache directory (default ``weights_dir()``).
    The hash is checked once per process for each file (size and modification time memoised); a file
    with the wrong hash (truncated or corrupt) raises MissingWeightsError too.
    """
    spec = _spec(name)
    path = checkpoint_path(name, cache=cache)
    root = path.parents[len(HUB_CHECKPOINTS.parts)]
    if not path.is_file():
        raise MissingWeightsError(f"{path} is missing (needed by {spec.used_by}): {_fetch_hint(name, root)}")
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if _VERIFIED.get(key) != spec:
        problem = hash_problem(path, spec)
        if problem is not None:
            raise MissingWeightsError(f"{path}: {problem} (corrupt or truncated copy): delete it, then "
                                      f"{_fetch_hint(name, root)}")
        _VERIFIED[key] = spec
    return path


def require_all(names: Iterable[str], *, cache: str | os.PathLike | None = None) -> list[Path]:
    """``require`` for several names; one MissingWeightsError listing every missing or corrupt file."""
    paths, problems = [], []
    for name in dict.fromkeys(names):  # unique, in order
        try:
            paths.append(require(name, cache=cache))
        except MissingWeightsError as exc:
            problems.append(str(exc))
    if problems:
        raise MissingWeightsError("\n".join(problems))
    return paths


def load_state_dict(name: str, *, cache: str | os.PathLike | None = None) -> dict:
    """The verified file ``name`` loaded with ``torch.load(map_location="cpu", weights_only=True)``.

    For code that builds a torchvision network itself, e.g. ``vgg19().load_state_dict(load_state_dict("vgg19"))``.
    """
    import torch  # deferred: torch; the workflow's dry run imports this module

    return torch.load(require(name, cache=cache), map_location="cpu", weights_only=True)


_INIT_FILLERS = ("uniform_", "normal_", "trunc_normal_", "constant_", "ones_", "zeros_", "xavier_uniform_",
                 "xavier_normal_", "kaiming_uniform_", "kaiming_normal_", "orthogonal_")


@contextlib.contextmanager
def skip_random_init() -> Iterator[None]:
    """Build networks whose every weight is loaded right after, without drawing their random initialisation
    (seconds of CPU for VGG16, paid by every evaluation job). Inside, ``torch.nn.init``'s fillers set tensors
    to NaN instead, so a weight the load missed shows: check the built network with ``check_loaded``."""
    import torch  # deferred: torch; the workflow's dry run imports this module

    saved = {name: getattr(torch.nn.init, name) for name in _INIT_FILLERS}

    def nan_fill(tensor: Any, *args: Any, **kwargs: Any) -> Any:
        with torch.no_grad():
            return tensor.fill_(float("nan"))

    try:
        for name in saved:
            setattr(torch.nn.init, name, nan_fill)
        yield
    finally:
        for name, fn in saved.items():
            setattr(torch.nn.init, name, fn)


def check_loaded(net: Any, what: str) -> Any:
    """``net`` if none of its parameters is NaN (built under ``skip_random_init`` and then loaded); else an error
    naming the first parameter the load did not fill."""
    for name, param in net.named_parameters():
        if param.isnan().any():
            raise MissingWeightsError(f"{what}: parameter {name} was not loaded from the weights file")
    return net


def fetch(names: Iterable[str] | None = None, *, dest: str | os.PathLike | None = None,
          mirror: str | os.PathLike | None = None) -> list[Path]:
    """Download the named weights into the cache, verified; returns their paths.

    names: keys of ``WEIGHTS`` (None: all). dest: the cache directory (default ``weights_dir()``).
    mirror: None (the published URLs), a URL prefix (``http://``, ``https://``, ``file://``) under which the
    files sit by file name, or a local folder holding them (``sisr.data.download.mirror_url``).

    A file already present with the right hash is kept; one with a wrong hash is fetched again. The
    download itself is ``sisr.data.download.download``: it writes ``<file>.part`` (resumed after a cut),
    checks the hash (the full SHA-256 when ``WEIGHTS`` records one, else the published prefix) and only
    then renames it into place, so a corrupt download raises DownloadError and never appears in the cache.
    """
    from sisr.data.download import download  # deferred: loads numpy and PIL; the dry run imports this module

    paths = []
    for name in (list(WEIGHTS) if names is None else list(dict.fromkeys(names))):
        spec = _spec(name)
        target = checkpoint_path(name, cache=dest)
        if target.is_file():
            problem = hash_problem(target, spec)
            if problem is None:
                paths.append(target)
                continue
            warnings.warn(f"{target}: {problem}; fetching it again", stacklevel=2)
            target.unlink()
        check = {"sha256": spec.sha256} if spec.sha256 else {"sha256_prefix": spec.sha256_prefix}
        paths.append(download(spec.url, target, mirror=mirror, **check))
    return paths
