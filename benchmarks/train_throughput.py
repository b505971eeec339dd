"""Training throughput per model and mode: patches/s of the engine's training step on random data.

Times what ``sisr.training.engine.train`` runs per batch (``generator_step``: forward, loss, backward, Adam;
``GraphedStep`` for CUDA graphs; the GAN's generator and discriminator phases) on random uint8-range batches
already on the device, so the numbers measure the step only (no data loading). Each (case, mode) runs
``--warmup`` untimed steps, then steps until ``--seconds`` have passed (at least ``--min-steps``); the device is
synchronised around the timed steps. One CSV row per (case, mode), appended as soon as it is measured (so an
interrupted session keeps what it measured); a failure (out of memory, a capture error) is a row with ``error``.

Cases (``CASES``): every trainable model at its study's training shape, plus the shapes of issue #15's H100
table. Modes (``MODES``): the table's four (``fp32``: float32 with TF32 matrix units, ``bf16``, ``bf16_cl``:
+ channels_last, ``bf16_cl_compile``: + torch.compile; Adam as torch builds it by default) and ours (``*_fused``:
fused Adam; ``graph_*``: the whole step as one CUDA graph, capturable Adam). CPU smoke test::

    python benchmarks/train_throughput.py --device cpu --tiny --cases espcn_t91 rrdb_gan --modes fp32 bf16_cl

GPU session (benchmarks/gpu_session.sh)::

    python benchmarks/train_throughput.py --csv OUT.csv --modes fp32 bf16 bf16_cl fp32_fused graph_fp32 graph_bf16_cl
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from sisr.training.losses import build_loss
from sisr.models import count_parameters, create_model
from sisr.training.engine import (discriminator_step, generator_step, make_optimizer, resolve_device, seed_everything, to_float)
from sisr.training.config import OptimizerConfig
from sisr.training.graphs import GraphedStep


@dataclass(frozen=True)
class Case:
    """One model at one training shape (LR patch ``patch`` x ``patch``, ``batch`` patches per step)."""

    name: str
    model: str
    batch: int
    patch: int
    scale: int = 4
    in_channels: int = 3
    model_args: dict = field(default_factory=dict)
    gan: bool = False
    study: str = ""


CASES = [Case(*a[:4], **a[4]) for a in [
    # issue #15's table (H100)
    ("espcn_bn_residual", "espcn_bn_residual", 16, 40, {"study": "espcn"}),
    ("srresnet", "srresnet", 32, 24, {"study": "srresnet_edsr"}),
    ("edsr_like", "edsr_like", 32, 24, {"study": "srresnet_edsr"}),
    ("edsr_like_b16_p48", "edsr_like", 16, 48, {"study": "table"}),
    ("rrdb_b15", "rrdb", 16, 32, {"model_args": {"blocks": 15}, "study": "rrdb_gan"}),
    ("deep_residual_b24_c612_bs16", "deep_residual", 16, 32, {"model_args": {"blocks": 24, "channels": 612},
                                                             "study": "table"}),
    # every other model at its study's shape
    ("srcnn", "srcnn", 16, 40, {"study": "espcn"}),
    ("espcn_t91", "espcn", 64, 17, {"scale": 3, "in_channels": 1, "model_args": {"activation": "relu"},
                                    "study": "t91"}),
    ("rrdb_b2", "rrdb", 16, 32, {"model_args": {"blocks": 2}, "study": "rrdb_gan"}),
    ("rrdb_b10", "rrdb", 16, 32, {"model_args": {"blocks": 10}, "study": "rrdb_gan"}),
    ("rrdb_gan", "rrdb", 16, 32, {"model_args": {"blocks": 2}, "gan": True, "study": "rrdb_gan"}),
    ("deep_residual_b24_c612", "deep_residual", 32, 32, {"model_args": {"blocks": 24, "channels": 612},
                                                         "study": "residual_sweep"}),
    ("deep_residual_b8_c64", "deep_residual", 32, 32, {"model_args": {"blocks": 8, "channels": 64},
                                                       "study": "residual_sweep"}),
    ("deep_residual_b16_c256", "deep_residual", 32, 32, {"model_args": {"blocks": 16, "channels": 256},
                                                         "study": "residual_sweep"}),
    ("bicubic_refiner_b8_c64", "bicubic_refiner", 32, 32, {"model_args": {"blocks": 8, "channels": 64},
                                                           "study": "residual_sweep"}),
    ("bicubic_refiner_b24_c256", "bicubic_refiner", 32, 32, {"model_args": {"blocks": 24, "channels": 256},
                                                             "study": "residual_sweep"}),
    ("inverted_unet", "inverted_unet", 8, 256, {"scale": 2, "in_channels": 1, "study": "inverted_unet"}),
    ("srcnn_y_x2", "srcnn", 8, 256, {"scale": 2, "in_channels": 1, "study": "inverted_unet"}),
    ("espcn_y_x2", "espcn", 8, 256, {"scale": 2, "in_channels": 1, "model_args": {"activation": "relu"},
                                     "study": "inverted_unet"}),
    ("edsr_baseline", "edsr_baseline", 32, 24, {"study": "none"}),
]]

# label -> (amp, channels_last, compile, cuda_graph, Adam implementation)
MODES: dict[str, tuple[str, bool, bool, bool, str]] = {
    "fp32": ("off", False, False, False, "default"),
    "bf16": ("bf16", False, False, False, "default"),
    "bf16_cl": ("bf16", True, False, False, "default"),
    "bf16_cl_compile": ("bf16", True, True, False, "default"),
    "fp32_fused": ("off", False, False, False, "fused"),
    "bf16_cl_fused": ("bf16", True, False, False, "fused"),
    "bf16_cl_compile_fused": ("bf16", True, True, False, "fused"),
    "graph_fp32": ("off", False, False, True, "graph"),
    "graph_bf16": ("bf16", False, False, True, "graph"),
    "graph_bf16_cl": ("bf16", True, False, True, "graph"),
    "graph_fp32_fusedadam": ("off", False, False, True, "graph_fused"),
}
ADAM = {"default": {}, "fused": {"fused": True}, "graph": {"capturable": True, "foreach": True},
        "graph_fused": {"capturable": True, "fused": True}}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_case(case: Case, mode: str, *, device: torch.device, warmup: int, seconds: float, min_steps: int,
              batch: int | None = None, patch: int | None = None) -> list[dict]:
    """Rows (one per step kind) of ``case`` in ``mode``; ``batch``/``patch`` override the case's (tiny runs)."""
    amp, channels_last, compile_model, cuda_graph, adam = MODES[mode]
    cuda = device.type == "cuda"
    if cuda_graph and (not cuda or case.gan):
        return []  # graphs: CUDA only, not the GAN (sisr.training.graphs)
    amp_dtype = torch.bfloat16 if amp == "bf16" and cuda else None
    batch, patch = batch or case.batch, patch or case.patch
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model = create_model(case.model, scale=case.scale, in_channels=case.in_channels, **case.model_args)
    model = model.to(device, memory_format=fmt)
    net = torch.compile(model) if compile_model else model
    options = ADAM[adam] if cuda else {}
    optimizer = make_optimizer(OptimizerConfig("adam", 1e-4), model.parameters(), **options)
    disc = d_optimizer = None
    terms = [{"name": "l1", "weight": 1.0}]
    if case.gan:
        disc = create_model("patch_discriminator", scale=None, in_channels=case.in_channels).to(device, memory_format=fmt)
        d_optimizer = make_optimizer(OptimizerConfig("adam", 1e-4), disc.parameters(), **options)
        terms.append({"name": "adversarial", "weight": 5e-3})
    loss_fn = build_loss(terms).to(device)
    c, s = case.in_channels, case.scale
    lr = to_float(torch.randint(0, 256, (batch, c, patch, patch), dtype=torch.uint8, device=device), device,
                  channels_last)
    hr = to_float(torch.randint(0, 256, (batch, c, patch * s, patch * s), dtype=torch.uint8, device=device), device,
                  channels_last)

    def train_step():
        return generator_step(net, lr, hr, loss_fn=loss_fn, optimizer=optimizer, amp_dtype=amp_dtype,
                              discriminator=disc)

    def d_step():
        sr, _ = generator_step(net, lr, hr, loss_fn=loss_fn, optimizer=None, amp_dtype=amp_dtype, discriminator=disc)
        return discriminator_step(disc, sr, hr, optimizer=d_optimizer, amp_dtype=amp_dtype)

    graphed = None
    if cuda_graph:
        graphed = GraphedStep(lambda a, b: generator_step(net, a, b, loss_fn=loss_fn, optimizer=optimizer,
                                                          amp_dtype=amp_dtype), optimizer)
        steps = [("train", lambda: graphed(lr, hr))]
    elif case.gan:
        steps = [("gan_g_phase", train_step), ("gan_d_phase", d_step)]
    else:
        steps = [("train", train_step)]
    rows = []
    for label, step in steps:
        if cuda:
            torch.cuda.reset_peak_memory_stats(device)
        t0 = time.perf_counter()
        for _ in range(warmup):
            step()
        _sync(device)
        warm_s = time.perf_counter() - t0
        n, start = 0, time.perf_counter()
        while n < min_steps or time.perf_counter() - start < seconds:
            step()
            n += 1
            if n % 10 == 0:
                _sync(device)
        _sync(device)
        elapsed = time.perf_counter() - start
        rows.append({
            "case": case.name, "model": case.model, "model_args": json.dumps(case.model_args, sort_keys=True),
            "study": case.study, "step": label, "mode": mode, "amp": amp, "channels_last": channels_last,
            "compile": compile_model, "cuda_graph": cuda_graph, "adam": adam, "scale": s, "in_channels": c,
            "params": count_parameters(model), "batch": batch, "lr_patch": patch, "steps": n,
            "seconds": round(elapsed, 4), "ms_per_step": round(1000 * elapsed / n, 4),
            "patches_per_s": round(n * batch / elapsed, 1), "warmup_s": round(warm_s, 2),
            "captures": graphed.captures if graphed is not None else 0,
            "peak_mem_gib": round(torch.cuda.max_memory_allocated(device) / 2**30, 3) if cuda else None,
            "error": ""})
    return rows


def append_rows(path: Path | None, rows: list[dict]) -> None:
    """Append ``rows`` to the CSV at ``path`` (header written when the file is new)."""
    if path is None or not rows:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    new = not path.exists()
    with open(path, "a", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        if new:
            writer.writeheader()
        writer.writerows(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", default=["all"], help=f"case names or all: {[c.name for c in CASES]}")
    parser.add_argument("--modes", nargs="+", default=["fp32", "bf16", "bf16_cl"], help=f"of {list(MODES)}")
    parser.add_argument("--device", default="auto", help="auto (CUDA if available), cpu, cuda, ...")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps first (cuDNN autotuning, capture)")
    parser.add_argument("--seconds", type=float, default=0.5, help="time at least this long per case and mode")
    parser.add_argument("--min-steps", type=int, default=10, help="and at least this many steps")
    parser.add_argument("--batch", type=int, default=None, help="override every case's batch")
    parser.add_argument("--patch", type=int, default=None, help="override every case's LR patch side")
    parser.add_argument("--tiny", action="store_true", help="CPU smoke test: batch 2, LR patch 8, 1 step")
    parser.add_argument("--csv", type=Path, default=None, help="append the rows to this CSV")
    args = parser.parse_args(argv)
    device = resolve_device(args.device)
    cuda = device.type == "cuda"
    if cuda:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
    if args.tiny:
        args.batch, args.patch, args.warmup, args.seconds, args.min_steps = 2, 8, 1, 0.0, 1
    cases = CASES if args.cases == ["all"] else [c for c in CASES if c.name in args.cases]
    unknown = sorted(set(args.cases) - {c.name for c in CASES} - {"all"}) + sorted(set(args.modes) - set(MODES))
    if unknown:
        parser.error(f"unknown case(s)/mode(s): {unknown}")
    seed_everything(0)
    name = torch.cuda.get_device_name(device) if cuda else "cpu"
    stamp = time.strftime("%Y-%m-%d", time.gmtime())
    print(f"# {name}, torch {torch.__version__}, {stamp}", flush=True)
    for case in cases:
        for mode in args.modes:
            try:
                rows = time_case(case, mode, device=device, warmup=args.warmup, seconds=args.seconds,
                                 min_steps=args.min_steps, batch=args.batch, patch=args.patch)
            except Exception as exc:  # noqa: BLE001 - one failed mode must not stop the session
                rows = [{"case": case.name, "model": case.model, "mode": mode, "error": f"{type(exc).__name__}: "
                         f"{str(exc).splitlines()[0][:200] if str(exc) else ''}"}]
            finally:
                if cuda:
                    torch.cuda.empty_cache()
            for r in rows:
                r.update({"device": name, "torch": torch.__version__, "date": stamp})
                if r.get("error"):
                    print(f"{case.name:<28} {mode:<22} ERROR {r['error']}", flush=True)
                else:
                    print(f"{r['case']:<28} {r['step']:<12} {mode:<22} {r['ms_per_step']:>9.3f} ms "
                          f"{r['patches_per_s']:>10.1f} patches/s  peak {r['peak_mem_gib']} GiB", flush=True)
            append_rows(args.csv, [{**_blank(), **r} for r in rows])


def _blank() -> dict:
    keys = ["case", "model", "model_args", "study", "step", "mode", "amp", "channels_last", "compile", "cuda_graph",
            "adam", "scale", "in_channels", "params", "batch", "lr_patch", "steps", "seconds", "ms_per_step",
            "patches_per_s", "warmup_s", "captures", "peak_mem_gib", "error", "device", "torch", "date"]
    return dict.fromkeys(keys, "")


if __name__ == "__main__":
    main()
