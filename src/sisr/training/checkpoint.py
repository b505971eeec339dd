"""Checkpoint files: atomic save, load with clear errors, RNG state capture, model loading for inference.

A checkpoint is a dict saved with ``torch.save`` (nanoGPT's recipe: the file stores the config that made
it). Keys written by the training engine:

- ``format``: CHECKPOINT_FORMAT; ``kind``: "last" (everything needed to resume) or "best" (for inference).
- ``model``: the generator's state_dict; ``config``: the resolved TrainConfig (``TrainConfig.to_dict()``);
  ``provenance``: ``sisr.provenance.provenance()`` (package version, git commit, host, time, device).
- ``epoch``, ``batch``, ``iteration``: position (0-based epoch to run next, next batch in it, steps done).
- "last" only: ``optimizer``, ``scheduler``, ``scaler``, ``discriminator``, ``d_optimizer``, ``d_scaler``
  (None when absent), ``rng`` (torch, CUDA, numpy, python states), ``progress`` (the engine's counters,
  running epoch sums and history rows).

Files are written atomically (temp file + rename, ``sisr.io.atomic_write``): a crash leaves the previous
checkpoint intact. Loading uses ``torch.load(weights_only=False)`` because the RNG states and counters are
plain Python/numpy objects; that unpickles arbitrary objects, so load only checkpoints this project wrote.
"""

from __future__ import annotations

import os
import pickle
import random
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from sisr.errors import SisrError
from sisr.io import atomic_write
from sisr.training.config import TrainConfig

CHECKPOINT_FORMAT = 1


def save_checkpoint(path: str | os.PathLike, payload: dict[str, Any]) -> None:
    """``torch.save(payload)`` to ``path`` atomically (the old file stays until the new one is complete)."""
    with atomic_write(path) as fh:
        torch.save({"format": CHECKPOINT_FORMAT, **payload}, fh)


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
    from sisr.models import create_model

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
