"""``sisr plan --calibrate``: time one training step of each model family on this machine, for ``sisr plan``.

Each model family of the selected studies is probed at its cheapest run's shape (batch, LR patch; the run with
the fewest multiply-adds per step over the tiers asked for), in the mode the engine picks on the device
(``sisr.training.modes.resolve``: on the CPU float32 eager; on CUDA its precision, channels_last and CUDA graph),
with an L1 loss and the run's optimizer: warm-up steps first (their time is the job's warm-up in the plan), then
timed steps, the fastest counting. torch.compile is not probed (minutes per model): a compiled mode is timed
eager. Families go from the cheapest up; when a step would not fit the family's share of ``--seconds``, the batch
and then the patch are halved (the anchor records the shape measured: the plan scales from there). Families left
when the time is spent are listed as not measured (the plan then has no estimate for their runs).

Results go to ``<cache>/calibration/<device>__torch-<version>.json``; the cache folder is ``$SISR_CACHE``, else
``$XDG_CACHE_HOME/sisr``, else ``~/.cache/sisr``. ``sisr plan`` uses the file of the device it plans for.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import re
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Callable, Sequence

import torch

from sisr.base.errors import SisrError
from sisr.base.io import atomic_write
from sisr.config.plan import Anchor, Basis, _args, macs_per_patch, mode_text, studies_at
from sisr.config.studies import train_settings
from sisr.models import count_parameters, create_model
from sisr.training.config import TrainConfig
from sisr.training.engine import generator_step, make_optimizer, optimizer_options, resolve_amp
from sisr.training.graphs import GraphedStep
from sisr.training.losses import build_loss
from sisr.training.modes import resolve


def cache_dir() -> Path:
    """``$SISR_CACHE``, else ``$XDG_CACHE_HOME/sisr``, else ``~/.cache/sisr``."""
    if os.environ.get("SISR_CACHE"):
        return Path(os.environ["SISR_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "sisr"


def device_name(device: torch.device) -> str:
    """The card's name on CUDA; on the CPU its architecture and thread count (``cpu x86_64, 2 threads``)."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu {platform.machine() or 'unknown'}, {torch.get_num_threads()} threads"


def calibration_path(name: str, version: str | None = None) -> Path:
    slug = re.sub(r"[^A-Za-z0-9.+-]+", "_", name).strip("_")
    return cache_dir() / "calibration" / f"{slug}__torch-{version or torch.__version__}.json"


def load_basis(device: torch.device) -> Basis | None:
    """The cached calibration of ``device`` for this torch version as a plan Basis; None when there is none."""
    path = calibration_path(device_name(device))
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
        anchors = tuple(Anchor(**a) for a in data["anchors"])
        label = f"calibration: {data['device']}, torch {data['torch']}, {data['date']}"
    except (ValueError, KeyError, TypeError) as exc:
        raise SisrError(f"{path}: not a calibration file ({exc}); delete it and run sisr plan --calibrate") from exc
    return Basis(label, data["device_type"], anchors, str(path))


def probe_configs(study_files: Sequence[str | Path], tiers: Sequence[str]) -> dict[str, tuple[object, str]]:
    """model -> (TrainConfig of its cheapest run, "study/run"), cheapest family first (GAN runs left out)."""
    best: dict[str, tuple[float, object, str]] = {}
    for tier in tiers:
        for path, study in studies_at(study_files, tier):
            for run, settings in study.runs.items():
                cfg = TrainConfig.from_dict(train_settings(settings), where=f"{path}: runs.{run}")
                if cfg.gan is not None:
                    continue
                macs = macs_per_patch(cfg.model, cfg.scale, cfg.in_channels, _args(cfg.model_args),
                                      cfg.patch_size) * cfg.batch_size
                if cfg.model not in best or macs < best[cfg.model][0]:
                    best[cfg.model] = (macs, cfg, f"{study.name}/{run}")
    return {m: (c, where) for m, (_, c, where) in sorted(best.items(), key=lambda kv: kv[1][0])}


def time_step(cfg, device: torch.device, min_seconds: float) -> tuple[float, float, str]:
    """(seconds per training step: the fastest of the timed steps, warm-up seconds, mode text) of ``cfg`` on
    ``device``, random data."""
    model = create_model(cfg.model, scale=cfg.scale, in_channels=cfg.in_channels, **cfg.model_args)
    work = count_parameters(model) * cfg.batch_size * cfg.patch_size**2
    mode = replace(resolve(cfg, device, work=work, log=lambda _m: None), compile=False)
    if device.type != "cuda":  # mixed precision is ignored off CUDA (resolve_amp)
        mode = replace(mode, amp="off")
    amp_dtype = resolve_amp(mode.amp, device, lambda _m: None)
    fmt = torch.channels_last if mode.channels_last else torch.contiguous_format
    model = model.to(device, memory_format=fmt)
    loss_fn = build_loss([{"name": "l1", "weight": 1.0}]).to(device)
    optimizer = make_optimizer(cfg.optimizer, model.parameters(), **optimizer_options(device, mode.cuda_graph))
    scaler = torch.amp.GradScaler(device.type, enabled=mode.amp == "fp16" and amp_dtype is not None)

    def step(lr, hr):
        return generator_step(model, lr, hr, loss_fn=loss_fn, optimizer=optimizer, scaler=scaler,
                              amp_dtype=amp_dtype, grad_clip=cfg.grad_clip)

    run = GraphedStep(lambda lr, hr: generator_step(model, lr, hr, loss_fn=loss_fn, optimizer=optimizer,
                                                    amp_dtype=amp_dtype, grad_clip=cfg.grad_clip),
                      optimizer) if mode.cuda_graph else step
    b, c, p, s = cfg.batch_size, cfg.in_channels, cfg.patch_size, cfg.scale
    lr = torch.rand(b, c, p, p, device=device).contiguous(memory_format=fmt)
    hr = torch.rand(b, c, p * s, p * s, device=device).contiguous(memory_format=fmt)

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    start = time.perf_counter()
    for _ in range(5 if mode.cuda_graph else 1):  # a graph is captured after its eager warm-up steps
        run(lr, hr)
    sync()
    warmup = time.perf_counter() - start
    slow = warmup >= 3 * min_seconds  # slow steps: two are timed
    times: list[float] = []
    while len(times) < 2 or (not slow and sum(times) < min_seconds and len(times) < 50):
        start = time.perf_counter()
        run(lr, hr)
        sync()
        times.append(time.perf_counter() - start)
    seconds = min(times)  # the least disturbed step (other processes only ever add time)
    return seconds, max(warmup - seconds, 0.0), mode_text(mode)


def _shrink(cfg, rate: float | None, share: float):
    """``cfg`` with batch, then patch, halved until two steps fit ``share`` seconds at ``rate`` (multiply-adds/s)."""
    def cost(c) -> float:
        return macs_per_patch(c.model, c.scale, c.in_channels, _args(c.model_args), c.patch_size) * c.batch_size

    if rate is None:  # the first probe learns the device's rate on a small step
        return replace(cfg, batch_size=1, patch_size=min(cfg.patch_size, 16))
    while 2 * cost(cfg) / rate > share and cfg.batch_size > 1:
        cfg = replace(cfg, batch_size=cfg.batch_size // 2)
    while 2 * cost(cfg) / rate > share and cfg.patch_size >= 16:
        cfg = replace(cfg, patch_size=cfg.patch_size // 2)
    return cfg


def _probe(model: str, probe, cfg, where: str, device: torch.device, min_seconds: float) -> Anchor:
    """Time ``probe`` (``cfg`` or a smaller shape of it) and describe it as an anchor."""
    step, warmup, mode = time_step(probe, device, min_seconds)
    macs = macs_per_patch(model, probe.scale, probe.in_channels, _args(probe.model_args),
                          probe.patch_size) * probe.batch_size
    shape = f"b{probe.batch_size} {probe.patch_size}x{probe.patch_size}"
    label = f"probe {shape} {model} ({where}{'' if probe == cfg else ', reduced'}, {mode})"
    return Anchor(model, False, "off" if mode.startswith("fp32") else "bf16", macs, step, label, warmup)


def calibrate(study_files: Sequence[str | Path], tiers: Sequence[str], device: torch.device, seconds: float,
              log: Callable[[str], None] = print) -> tuple[Path, dict]:
    """Probe every model family of the studies on ``device`` within about ``seconds``; write and return the file."""
    configs = probe_configs(study_files, tiers)
    if not configs:
        raise SisrError(f"no training runs in tier(s) {', '.join(tiers)} to calibrate")
    name = device_name(device)
    began = time.perf_counter()
    anchors, skipped, rate = [], [], None
    families = list(configs.items())
    for i, (model, (cfg, where)) in enumerate(families):
        first, shapes = rate is None, set()
        for attempt in range(2 if first else 1):  # the first family: a small step first, to learn the rate
            left = seconds - (time.perf_counter() - began)
            if left <= 0:
                break
            share = left / (len(families) - i)
            probe = _shrink(cfg, None if first and attempt == 0 else rate, share)
            if (probe.batch_size, probe.patch_size) in shapes:
                break
            shapes.add((probe.batch_size, probe.patch_size))
            anchor = _probe(model, probe, cfg, where, device, min(0.3, share / 3))
            rate = anchor.macs / anchor.seconds if rate is None else min(rate, anchor.macs / anchor.seconds)
            anchors.append(anchor)
            log(f"calibrate {anchor.label}: {1000 * anchor.seconds:.2f} ms/step, warm-up {anchor.warmup_s:.2f} s")
        if not shapes:
            skipped.append(model)
    data = {"device": name, "device_type": device.type, "torch": torch.__version__,
            "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "seconds": round(time.perf_counter() - began, 2), "budget_s": seconds,
            "anchors": [asdict(a) for a in anchors], "not_measured": skipped}
    path = calibration_path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, "w") as fh:
        json.dump(data, fh, indent=1)
    return path, data
