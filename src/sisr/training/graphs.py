"""The whole training step as one CUDA graph: forward, loss, backward and the Adam update in one replay.

Small models are launch-bound on a GPU: ESPCN's step is about a hundred kernels of a few microseconds each,
and the host needs longer to launch them than the GPU to run them. A CUDA graph records the step's kernels
once and replays them with one launch (``torch.cuda.CUDAGraph``, PyTorch's "whole network capture").

How (PyTorch's rules for capture): the batch is copied into static input buffers; the optimizer is built with
``capturable=True`` (its step counters live on the GPU); nothing in the step waits for the host (no GradScaler,
no ``.item()``). The first ``warmup`` steps run eagerly on a side stream (they create the optimizer state and
let cuDNN pick its algorithms); the step is then captured on the next batch and replayed from then on. A change
of the learning rate (the per-epoch scheduler: Adam's lr is baked into the captured kernels) or of the batch
shape captures it again. Every batch is trained on exactly once, eagerly or by a replay, so a run with graphs is
the run without them up to the order of floating-point operations.

Only on CUDA, and not with fp16 (its GradScaler reads the host), torch.compile, or a GAN (two networks whose
roles alternate); ``sisr.training.modes`` decides when it is used.
"""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import Tensor

Step = Callable[[Tensor, Tensor], tuple[Tensor, dict[str, Tensor]]]


class GraphedStep:
    """``step(lr, hr) -> (sr, {"loss": ..., term: ...})`` as ``generator_step`` with an update, replayed as a graph.

    The returned tensors are the graph's static outputs: read them (or copy them) before the next call.
    """

    def __init__(self, step: Step, optimizer: torch.optim.Optimizer, *, warmup: int = 3) -> None:
        self.step, self.optimizer, self.warmup = step, optimizer, warmup
        self.eager_steps = 0
        self.captures = 0
        self.graph: torch.cuda.CUDAGraph | None = None
        self._key: Any = None
        self._lr = self._hr = None
        self._out: tuple[Tensor, dict[str, Tensor]] | None = None

    def _learning_rates(self) -> tuple[float, ...]:
        return tuple(float(group["lr"]) for group in self.optimizer.param_groups)

    def _capture(self, lr: Tensor, hr: Tensor) -> None:
        self.graph = self._out = None  # frees the previous graph's memory pool
        self._lr, self._hr = lr.clone(), hr.clone()
        self.optimizer.zero_grad(set_to_none=True)  # gradients are allocated inside the graph's pool
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            self._out = self.step(self._lr, self._hr)
        self.graph, self.captures = graph, self.captures + 1

    def __call__(self, lr: Tensor, hr: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        if self.eager_steps < self.warmup:
            side = torch.cuda.Stream(lr.device)
            side.wait_stream(torch.cuda.current_stream(lr.device))
            with torch.cuda.stream(side):
                out = self.step(lr, hr)
            torch.cuda.current_stream(lr.device).wait_stream(side)
            self.eager_steps += 1
            return out
        key = (self._learning_rates(), tuple(lr.shape), tuple(hr.shape), lr.dtype)
        if self.graph is None or key != self._key:
            self._capture(lr, hr)  # capturing records the kernels without running them: replay below
            self._key = key
        self._lr.copy_(lr)
        self._hr.copy_(hr)
        self.graph.replay()
        return self._out

