"""The data layer: downloads, dataset adapters, derived datasets, decoded caches, training/validation sources.

  sources.py    the archive catalogue (URLs, sizes, checksums, layouts) as one table
  download.py   verified, resumable downloads; safe atomic extraction
  datasets.py   ``get_dataset(name, *, root, split, scale) -> list[Pair]``; the scikit-image demo set; our LR files
  derived.py    residual_sweep tiles, rrdb_gan halved DIV2K, inverted_unet letterboxed Y (with manifests)
  cache.py      decoded uint8 caches (memory-mapped), ``build_cache``
  loader.py     ``TrainSource`` / ``ValidSource`` over a cache
"""

import importlib

# Imported on first use (PEP 562), so that the torch-free parts (sources, datasets) load without torch:
# the workflow's parse step imports sisr.data.sources.
_WHERE = {
    "CachedImages": "cache",
    "CacheWriter": "cache",
    "build_cache": "cache",
    "build_dataset_cache": "cache",
    "DATASETS": "datasets",
    "Pair": "datasets",
    "get_dataset": "datasets",
    "materialize_lr": "datasets",
    "prepare_skimage": "datasets",
    "skimage_split": "datasets",
    "build_derived": "derived",
    "build_inverted_unet": "derived",
    "build_residual_sweep": "derived",
    "build_rrdb_gan": "derived",
    "DownloadError": "download",
    "extract": "download",
    "fetch_archive": "download",
    "TrainSource": "loader",
    "ValidSource": "loader",
    "open_train_source": "loader",
    "open_valid_source": "loader",
    "ARCHIVES": "sources",
    "Archive": "sources",
    "archives_for": "sources",
}


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ARCHIVES", "Archive", "CacheWriter", "CachedImages", "DATASETS", "DownloadError", "Pair", "TrainSource",
    "ValidSource", "archives_for", "build_cache", "build_dataset_cache", "build_derived", "build_inverted_unet",
    "build_residual_sweep",
    "build_rrdb_gan", "extract", "fetch_archive", "get_dataset", "materialize_lr", "open_train_source",
    "open_valid_source", "prepare_skimage", "skimage_split",
]
