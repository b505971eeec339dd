"""Each model's fastest measured training mode on a GPU, and how a run's speed settings resolve against it.

A run's ``amp: auto`` and ``channels_last`` / ``compile`` / ``cuda_graph`` / ``data_on_device`` left out (null)
mean "the fastest measured": on CUDA the model's row of ``FASTEST`` decides, on the CPU every speed option
is off (float32, NCHW, eager, the host data source). A value written in the study file wins over the table
(the residual_sweep study keeps its report's mixed precision that way). ``resolve`` returns the mode a run
uses; the engine logs it and stores it in ``train_done.json``.

The modes (benchmarks/train_throughput.py, one training step: forward, loss, backward, Adam):
  amp            off (float32 weights and activations, TF32 matrix units) | bf16 (autocast)
  channels_last  NHWC activations and weights (tensor-core convolutions without layout changes)
  compile        torch.compile of the model (kernel fusion; minutes of compilation per run)
  cuda_graph     the whole step replayed as one CUDA graph (sisr.training.graphs)
Where the table has no row for a model, its auto mode is float32, eager, no graph.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Callable

import torch


@dataclass(frozen=True)
class Mode:
    """How a run trains on its device (see the module docstring)."""

    amp: str = "off"
    channels_last: bool = False
    compile: bool = False
    cuda_graph: bool = False
    data_on_device: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# The fastest measured mode per registered model, with the measurement beside it (filled from
# benchmarks/results/; docs/BENCHMARKS.md has every mode's numbers).
FASTEST: dict[str, Mode] = {}

# Device data is used automatically when the training cache takes at most this share of the GPU's memory.
DEVICE_DATA_SHARE = 0.25


def resolve(cfg, device: torch.device, *, cache_bytes: Callable[[], int] | None = None,
            log: Callable[[str], None] = print) -> Mode:
    """The mode ``cfg`` (a TrainConfig) trains with on ``device``.

    cache_bytes: returns the size of the training data (for the automatic ``data_on_device``); None when the
    training source cannot live on the device.
    """
    cuda = device.type == "cuda"
    best = FASTEST.get(cfg.model, Mode()) if cuda else Mode()
    amp = best.amp if cfg.amp == "auto" else cfg.amp
    channels_last = best.channels_last if cfg.channels_last is None else cfg.channels_last
    compile_model = best.compile if cfg.compile is None else cfg.compile
    # graphs: CUDA only; never with fp16 (GradScaler), compile or a GAN (ConfigError when asked for explicitly)
    graph_ok = cuda and amp != "fp16" and not compile_model and cfg.gan is None
    if cfg.cuda_graph and not cuda:
        log(f"cuda_graph ignored on {device.type}")
    cuda_graph = graph_ok and (best.cuda_graph if cfg.cuda_graph is None else cfg.cuda_graph)
    if cfg.data_on_device is not None:
        on_device = cfg.data_on_device and cache_bytes is not None
    elif cuda and cache_bytes is not None:
        total = torch.cuda.get_device_properties(device).total_memory
        on_device = cache_bytes() <= DEVICE_DATA_SHARE * total
    else:
        on_device = False
    return Mode(amp=amp, channels_last=channels_last, compile=compile_model, cuda_graph=cuda_graph,
                data_on_device=on_device)
