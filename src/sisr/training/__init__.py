"""Training: config dataclasses, the one training loop for every model, checkpoints.

``train(cfg, train_source=..., valid_source=..., out_dir=...)`` (engine.py) trains any registered model
with the loss terms, optimizer, schedule and optional GAN discriminator that ``TrainConfig`` (config.py)
describes; ``load_model(checkpoint)`` (checkpoint.py) rebuilds a trained model for inference.
"""

import importlib

# Imported on first use (PEP 562): sisr.training.config loads without torch (the workflow's parse step uses it).
_WHERE = {"load_checkpoint": "checkpoint", "load_model": "checkpoint", "TrainConfig": "config",
          "TrainingInterrupted": "engine", "TrainResult": "engine", "train": "engine"}


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["TrainConfig", "TrainResult", "TrainingInterrupted", "load_checkpoint", "load_model", "train"]
