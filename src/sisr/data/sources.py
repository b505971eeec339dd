"""The archive catalogue: every file the workflow downloads, as one table of data.

Facts from docs/DATA_SOURCES.md (checked against their public sources):

- DIV2K zips (https://data.vision.ee.ethz.ch/cvl/DIV2K/): byte sizes and SHA-256 as listed by
  tensorflow-datasets (``tensorflow_datasets/datasets/div2k/checksums.tsv``); MD5 as listed by torchSR
  (``torchsr/datasets/div2k.py``). SHA-256 is the checksum we rely on; the MD5 is verified too (same pass).
- Flickr2K.tar and benchmark.tar (the EDSR authors' site, https://cv.snu.ac.kr/research/EDSR/): MD5 as listed
  by torchSR (``flickr2k.py``, ``benchmarks.py``); their sizes are not published, so they are not checked.

Columns of ``ARCHIVES`` (one row per archive file):
  filename   the archive's file name (also its key, and the name looked up in a mirror folder)
  url        where it is published
  size       bytes, or None when not published
  sha256/md5 published checksums (None when not published)
  dataset    the folder under ``data/`` it is extracted into (``data/<dataset>/``)
  contents   the top-level path inside the archive once extracted (what the adapters read)

Layouts inside the archives (what ``sisr.data.datasets`` expects under ``data/<dataset>/``):
  DIV2K_{train,valid}_HR.zip            DIV2K_train_HR/0001.png .. 0800.png, DIV2K_valid_HR/0801.png .. 0900.png
  DIV2K_{split}_LR_bicubic_X{s}.zip     DIV2K_{split}_LR_bicubic/X{s}/0001x{s}.png
  Flickr2K.tar                          Flickr2K/Flickr2K_HR/000001.png .. 002650.png,
                                        Flickr2K/Flickr2K_LR_bicubic/X{s}/000001x{s}.png
  benchmark.tar                         benchmark/{Set5,Set14,B100,Urban100}/HR/<name>.png,
                                        benchmark/<set>/LR_bicubic/X{s}/<name>x{s}.png
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Mapping

from sisr.base.errors import ConfigError


@dataclass(frozen=True)
class Archive:
    """One downloadable archive (see the module docstring for the meaning of each field)."""

    filename: str
    url: str
    size: int | None
    sha256: str | None
    md5: str | None
    dataset: str
    contents: str


_DIV2K = "https://data.vision.ee.ethz.ch/cvl/DIV2K/"
_SNU = "https://cv.snu.ac.kr/research/EDSR/"

# fmt: off
_TABLE: tuple[Archive, ...] = (
    #       filename                          url                                          bytes          sha256                                                              md5                                 dataset      contents
    Archive("DIV2K_train_HR.zip",             _DIV2K + "DIV2K_train_HR.zip",             3_530_603_713, "9d0b9c463f6e35b6c62cc6a930ee2224f670b34c1df841a57670f9acf0f6c335", "bdc2d9338d4e574fe81bf7d158758658", "div2k",     "DIV2K_train_HR"),
    Archive("DIV2K_valid_HR.zip",             _DIV2K + "DIV2K_valid_HR.zip",               448_993_893, "20dd31fd84d777bc1cf5d6b7654a3f569c0aec74458ae094122ad1d0489900fc", "9fcdda83005c5e5997799b69f955ff88", "div2k",     "DIV2K_valid_HR"),
    Archive("DIV2K_train_LR_bicubic_X2.zip",  _DIV2K + "DIV2K_train_LR_bicubic_X2.zip",    925_390_592, "a53a424317575838dadce4bcd97cf7b744d6855f43740ed5f0245af3cf4bd850", "9a637d2ef4db0d0a81182be37fb00692", "div2k",     "DIV2K_train_LR_bicubic/X2"),
    Archive("DIV2K_train_LR_bicubic_X3.zip",  _DIV2K + "DIV2K_train_LR_bicubic_X3.zip",    427_847_282, "ad5c8e5507e2765823d3c2c5bd0934842efcd487c5370604c224090898b3163a", "ad80b9fe40c049a07a8a6c51bfab3b6d", "div2k",     "DIV2K_train_LR_bicubic/X3"),
    Archive("DIV2K_train_LR_bicubic_X4.zip",  _DIV2K + "DIV2K_train_LR_bicubic_X4.zip",    246_914_039, "f006b837f4eb52b82909aa01478e6d6d199eefce932179491d0c9dbb706dde3a", "76c43ec4155851901ebbe8339846d93d", "div2k",     "DIV2K_train_LR_bicubic/X4"),
    Archive("DIV2K_valid_LR_bicubic_X2.zip",  _DIV2K + "DIV2K_valid_LR_bicubic_X2.zip",    117_763_600, "60eed9875c697df51204aa579e2a699e1d5215095788a097ff54dd17e2664d57", "1512c9a3f7bde2a1a21a73044e46b9cb", "div2k",     "DIV2K_valid_LR_bicubic/X2"),
    Archive("DIV2K_valid_LR_bicubic_X3.zip",  _DIV2K + "DIV2K_valid_LR_bicubic_X3.zip",     54_513_392, "04b9a2ed3b4a0715d3924d3ae8514830c3328fac8d30512ce716d6f419e052a3", "18b1d310f9f88c13618c287927b29898", "div2k",     "DIV2K_valid_LR_bicubic/X3"),
    Archive("DIV2K_valid_LR_bicubic_X4.zip",  _DIV2K + "DIV2K_valid_LR_bicubic_X4.zip",     31_505_881, "a50a5d1c4b88de4e8d300d8fb2b904c52fe93b2b298a4899697760d7cbb6d553", "21962de700c8d368c6ff83314480eff0", "div2k",     "DIV2K_valid_LR_bicubic/X4"),
    Archive("Flickr2K.tar",                   _SNU + "Flickr2K.tar",                            None, None,                                                               "5d3f39443d5e9489bff8963f8f26cb03", "flickr2k",  "Flickr2K"),
    Archive("benchmark.tar",                  _SNU + "benchmark.tar",                           None, None,                                                               "4ace41d33c2384b97e6b320cd0afd6ba", "benchmark", "benchmark"),
)
# fmt: on

ARCHIVES: dict[str, Archive] = {a.filename: a for a in _TABLE}

BENCHMARK_SETS = ("Set5", "Set14", "B100", "Urban100")
SHIPPED_SCALES = (2, 3, 4)  # the bicubic LR scales every archive above ships

_OVERRIDABLE = ("url", "size", "sha256", "md5")


def archive(filename: str, overrides: Mapping[str, Mapping[str, Any]] | None = None) -> Archive:
    """The catalogue row of ``filename``, with fields replaced from ``overrides[filename]`` if given.

    overrides: the config's ``data.archives`` mapping, e.g. ``{"benchmark.tar": {"md5": "...", "url": "..."}}``
        (tests inject the checksums of their small archives this way; a site can pin another URL).
        Only url, size, sha256 and md5 may be overridden.
    """
    if filename not in ARCHIVES:
        raise ConfigError(f"archive {filename!r}: not in the catalogue; valid archives: {', '.join(ARCHIVES)}")
    row = ARCHIVES[filename]
    extra = dict((overrides or {}).get(filename) or {})
    unknown = sorted(set(extra) - set(_OVERRIDABLE))
    if unknown:
        raise ConfigError(f"data.archives.{filename}: unknown keys {unknown}; valid keys: {', '.join(_OVERRIDABLE)}")
    return replace(row, **extra)


def archives_for(dataset: str, *, split: str, scales: tuple[int, ...] | list[int] = ()) -> list[str]:
    """File names of the archives that ``dataset`` / ``split`` needs, with the shipped LR for ``scales``.

    dataset: ``div2k`` (split train/valid), ``flickr2k``, ``df2k`` (both; valid is DIV2K valid) or
        ``benchmark`` (any split). Scales the archives do not ship are made by us later (no archive).
    """
    scales = [s for s in scales if s in SHIPPED_SCALES]
    if dataset == "div2k":
        if split not in ("train", "valid"):
            raise ConfigError(f"div2k: split must be 'train' or 'valid', got {split!r}")
        return [f"DIV2K_{split}_HR.zip"] + [f"DIV2K_{split}_LR_bicubic_X{s}.zip" for s in scales]
    if dataset == "flickr2k":
        return ["Flickr2K.tar"]
    if dataset == "df2k":
        names = archives_for("div2k", split=split, scales=scales)
        return names + (["Flickr2K.tar"] if split == "train" else [])
    if dataset == "benchmark" or dataset.lower() in {s.lower() for s in BENCHMARK_SETS}:
        return ["benchmark.tar"]
    raise ConfigError(f"archives_for: dataset {dataset!r} is not downloaded; valid: div2k, flickr2k, df2k, benchmark")
