"""The CUDA-graph step's bookkeeping (sisr.training.graphs), on the CPU with a stand-in for torch's graph API.

Real capture needs a GPU (benchmarks/gpu_session.sh runs it). Here ``torch.cuda.graph`` is replaced by a stand-in
that, like a real capture, leaves the model untouched while "capturing" (it restores every tensor afterwards), and
a replay runs the step again on the static buffers, writing into the same output tensors. What is checked: the
warm-up steps run eagerly, every batch is trained on exactly once, a learning-rate change re-captures, and the
result equals plain eager steps.
"""

from __future__ import annotations

import contextlib
import copy

import torch
from torch import nn

from sisr.training.losses import build_loss
from sisr.training import graphs
from sisr.training.engine import generator_step


class _FakeGraph:
    current: "graphs.GraphedStep | None" = None

    def replay(self) -> None:
        gs = _FakeGraph.current
        sr, values = gs.step(gs._lr, gs._hr)
        gs._out[0].copy_(sr)
        for key, value in values.items():
            gs._out[1][key].copy_(value)


def _fake_cuda(monkeypatch, model, optimizer):
    @contextlib.contextmanager
    def capture(graph):
        saved = (copy.deepcopy(model.state_dict()), copy.deepcopy(optimizer.state_dict()))
        yield
        model.load_state_dict(saved[0])  # capture records kernels without running them
        optimizer.load_state_dict(saved[1])

    monkeypatch.setattr(torch.cuda, "CUDAGraph", _FakeGraph)
    monkeypatch.setattr(torch.cuda, "graph", capture)
    monkeypatch.setattr(torch.cuda, "Stream", lambda *a, **k: type("S", (), {"wait_stream": lambda s, o: None})())
    monkeypatch.setattr(torch.cuda, "current_stream", lambda *a, **k: type("S", (), {"wait_stream": lambda s, o: None})())
    monkeypatch.setattr(torch.cuda, "stream", lambda s: contextlib.nullcontext())


def _setup():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3, padding=1), nn.PixelShuffle(2))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    return model, optimizer, build_loss([{"name": "l1", "weight": 1.0}])


def test_graphed_step_trains_each_batch_once_and_recaptures_on_a_new_learning_rate(monkeypatch):
    torch.manual_seed(1)
    batches = [(torch.rand(2, 1, 6, 6), torch.rand(2, 1, 12, 12)) for _ in range(8)]
    model, optimizer, loss_fn = _setup()
    losses = []
    for i, (lr, hr) in enumerate(batches):
        if i == 6:
            optimizer.param_groups[0]["lr"] = 1e-3
        losses.append(generator_step(model, lr, hr, loss_fn=loss_fn, optimizer=optimizer)[1]["loss"].item())
    eager = copy.deepcopy(model.state_dict())

    model, optimizer, loss_fn = _setup()
    _fake_cuda(monkeypatch, model, optimizer)
    step = graphs.GraphedStep(lambda a, b: generator_step(model, a, b, loss_fn=loss_fn, optimizer=optimizer), optimizer)
    _FakeGraph.current = step
    got = []
    for i, (lr, hr) in enumerate(batches):
        if i == 6:
            optimizer.param_groups[0]["lr"] = 1e-3
        got.append(step(lr, hr)[1]["loss"].item())
    assert step.eager_steps == 3 and step.captures == 2  # 3 eager, capture at batch 3, again at the lr change
    assert got == losses
    assert all(torch.equal(eager[k], model.state_dict()[k]) for k in eager)
