"""The data layer: downloads, dataset adapters, derived datasets, decoded caches, training/validation sources.

  sources.py    the archive catalogue (URLs, sizes, checksums, layouts) as one table
  download.py   verified, resumable downloads; safe atomic extraction
  datasets.py   ``get_dataset(name, *, root, split, scale) -> list[Pair]``; the scikit-image demo set; our LR files
  derived.py    residual_sweep tiles, rrdb_gan halved DIV2K, inverted_unet letterboxed Y (with manifests)
  cache.py      decoded uint8 caches (memory-mapped), ``build_cache``
  loader.py     ``TrainSource`` / ``ValidSource`` over a cache
"""

from sisr.data.cache import CachedImages, CacheWriter, build_cache, build_dataset_cache
from sisr.data.datasets import DATASETS, Pair, get_dataset, materialize_lr, prepare_skimage, skimage_split
from sisr.data.derived import build_derived, build_inverted_unet, build_residual_sweep, build_rrdb_gan
from sisr.data.download import DownloadError, extract, fetch_archive  # download(): sisr.data.download.download
from sisr.data.loader import TrainSource, ValidSource, open_train_source, open_valid_source
from sisr.data.sources import ARCHIVES, Archive, archives_for

__all__ = [
    "ARCHIVES", "Archive", "CacheWriter", "CachedImages", "DATASETS", "DownloadError", "Pair", "TrainSource",
    "ValidSource", "archives_for", "build_cache", "build_dataset_cache", "build_derived", "build_inverted_unet", "build_residual_sweep",
    "build_rrdb_gan", "extract", "fetch_archive", "get_dataset", "materialize_lr", "open_train_source",
    "open_valid_source", "prepare_skimage", "skimage_split",
]
