"""Training: config dataclasses, the one training loop for every model, checkpoints.

``train(cfg, train_source=..., valid_source=..., out_dir=...)`` (engine.py) trains any registered model
with the loss terms, optimizer, schedule and optional GAN discriminator that ``TrainConfig`` (config.py)
describes; ``load_model(checkpoint)`` (checkpoint.py) rebuilds a trained model for inference.
"""

from sisr.training.checkpoint import load_checkpoint, load_model
from sisr.training.config import TrainConfig
from sisr.training.engine import TrainingInterrupted, TrainResult, train

__all__ = ["TrainConfig", "TrainResult", "TrainingInterrupted", "load_checkpoint", "load_model", "train"]
