"""Checkpoint files: atomic save, load with clear errors, RNG state capture, model loading for inference.

A checkpoint is a dict saved with ``torch.save`` (nanoGPT's recipe: the file stores the config that made
it). Keys written by the training engine:

- ``format``: CHECKPOINT_FORMAT; ``kind``: "last" (everything needed to resume) or "best" (for inference).
- ``model``: the generator's state_dict; ``config``: the resolved TrainConfig (``TrainConfig.to_dict()``);
  ``provenance``: ``sisr.base.provenance.provenance()`` (package version, git commit, host, time, device).
- ``epoch``, ``batch``, ``iteration``: position (0-based epoch to run next, next batch in it, steps done).
- "last" only: ``optimizer``, ``scheduler``, ``scaler``, ``discriminator``, ``d_optimizer``, ``d_scaler``
  (None when absent), ``rng`` (torch, CUDA, numpy, python states), ``progress`` (the engine's counters,
  running epoch sums and history rows).

- ``content_sha256``: a SHA-256 of everything else in the checkpoint (:func:`content_hash`: every tensor's and
  array's bytes, dtype and shape, every other value's repr, under its key path), computed when it is saved and
  checked when it is loaded: a changed byte (disk or copy error) is an error naming the file, not different
  weights. Checkpoints written before the hash existed load unchecked.

Files are written atomically (temp file + rename, ``sisr.base.io.atomic_write``): a crash leaves the previous
checkpoint intact. Loading uses ``torch.load(weights_only=False)`` because the RNG states and counters are
plain Python/numpy objects; that unpickles arbitrary objects, so load only checkpoints this project wrote.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import random
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from sisr.base.errors import SisrError
from sisr.base.io import atomic_write
from sisr.models import create_model
from sisr.training.config import TrainConfig

CHECKPOINT_FORMAT = 1


HASH_KEY = "content_sha256"


def _feed(digest: Any, key: str, value: Any) -> None:
    """Add ``value`` (found under ``key``) to ``digest``: containers item by item, tensors and arrays by bytes."""
    if isinstance(value, torch.Tensor):
        tensor = value.detach().cpu().contiguous()
        digest.update(f"{key}:tensor:{tensor.dtype}:{tuple(tensor.shape)}\n".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().data)
    elif isinstance(value, np.ndarray) and not value.dtype.hasobject:
        array = np.ascontiguousarray(value)
        digest.update(f"{key}:array:{array.dtype}:{array.shape}\n".encode())
        digest.update(array.reshape(-1).view(np.uint8).data)
    elif isinstance(value, dict):
        digest.update(f"{key}:dict:{len(value)}\n".encode())
        for k, v in value.items():
            _feed(digest, f"{key}/{k!r}", v)
    elif isinstance(value, (list, tuple)):
        digest.update(f"{key}:{type(value).__name__}:{len(value)}\n".encode())
        for i, v in enumerate(value):
            _feed(digest, f"{key}/{i}", v)
    elif value is None or isinstance(value, (bool, int, float, str, bytes, np.generic)):
        digest.update(f"{key}:{value!r}\n".encode())
    else:  # an object whose repr may carry its address: its type only
        digest.update(f"{key}:{type(value).__module__}.{type(value).__qualname__}\n".encode())


def content_hash(payload: dict[str, Any]) -> str:
    """SHA-256 (hex) of a checkpoint's content without its ``content_sha256`` entry."""
    digest = hashlib.sha256()
    _feed(digest, "", {k: v for k, v in payload.items() if k != HASH_KEY})
    return digest.hexdigest()


def save_checkpoint(path: str | os.PathLike, payload: dict[str, Any]) -> None:
    """``torch.save(payload)`` to ``path`` atomically (the old file stays until the new one is complete), with its
    :func:`content_hash`."""
    payload = {"format": CHECKPOINT_FORMAT, **payload}
    payload[HASH_KEY] = content_hash(payload)
    with atomic_write(path) as fh:
        torch.save(payload, fh)


def load_checkpoint(path: str | os.PathLike, *, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint`; SisrError naming the file when it cannot.

    Uses ``weights_only=False`` (see the module docstring): only for files this project wrote.
    """
    path = Path(path)
    if not path.is_file():
        raise SisrError(f"{path}: no such checkpoint")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=False)
    except MemoryError as exc:
        raise SisrError(f"{path}: not enough memory to load this checkpoint") from exc
    except (RuntimeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile) as exc:
        raise SisrError(f"{path}: cannot read checkpoint (truncated or not a torch file?): {exc}") from exc
    except Exception as exc:  # random bytes make the unpickler fail in arbitrary ways (ValueError, KeyError, ...)
        raise SisrError(f"{path}: cannot read checkpoint (not a torch file?): {type(exc).__name__}: {exc}") from exc
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        found = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
        raise SisrError(f"{path}: expected a sisr checkpoint of format {CHECKPOINT_FORMAT}, got {found!r}")
    if HASH_KEY in payload and content_hash(payload) != payload[HASH_KEY]:
        raise SisrError(f"{path}: checkpoint corrupt: its content does not match the SHA-256 stored when it was "
                        f"saved (a disk or copy error?); delete it and train the run again (or restore a good copy)")
    return payload


def rng_state() -> dict[str, Any]:
    """The global random states of torch (CPU and CUDA), numpy and Python, for :func:`set_rng_state`."""
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
        "numpy": np.random.get_state(),
        "python": random.getstate(),
    }


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` captured (CUDA states only when CUDA is available here too)."""
    torch.set_rng_state(state["torch"].cpu())
    if state.get("cuda") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])


def load_model(checkpoint_path: str | os.PathLike, device: str | torch.device = "cpu") -> tuple[nn.Module, TrainConfig]:
    """The generator stored in a checkpoint (best or last), in eval mode on ``device``, and its config.

    Used by evaluation and ``sisr upscale``. The model is rebuilt from the stored config with
    ``sisr.models.create_model`` and its weights loaded strictly.
    """
    payload = load_checkpoint(checkpoint_path, map_location="cpu")
    missing = [key for key in ("config", "model") if not isinstance(payload.get(key), dict)]
    if missing:
        raise SisrError(f"{checkpoint_path}: not a model checkpoint (no {' or '.join(missing)} in it)")
    cfg = TrainConfig.from_dict(payload["config"], where=f"{checkpoint_path}: config")
    try:
        model = create_model(cfg.model, scale=cfg.scale, in_channels=cfg.in_channels, **cfg.model_args)
    except SisrError as exc:
        raise SisrError(f"{checkpoint_path}: {exc}") from exc
    try:
        model.load_state_dict(payload["model"])
    except RuntimeError as exc:
        raise SisrError(f"{checkpoint_path}: weights do not fit model {cfg.model!r}: {exc}") from exc
    return model.to(device).eval(), cfg
