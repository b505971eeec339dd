"""Training throughput per model: steps/s and samples/s of the engine's training step on random data.

Times ``sisr.training.engine.generator_step`` (forward, L1 loss, backward, Adam step), the step every run
uses, on random uint8-range batches that already sit on the device, so the numbers measure compute only
(no data loading). With ``--gan`` it also times one GAN generator phase step (RRDB generator + the
patch discriminator, L1 + adversarial) and one discriminator phase step.

On CUDA the defaults are what training uses there: bf16 autocast, channels_last, TF32; peak GPU memory is
reported. On CPU use tiny settings, e.g.::

    python benchmarks/train_throughput.py --device cpu --steps 3 --warmup 1 --batch 2 --patch 16 --models espcn srcnn

GPU session::

    python benchmarks/train_throughput.py --steps 300 --gan --csv results/bench/train_throughput.csv
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import torch

from sisr.losses import build_loss
from sisr.models import DISCRIMINATORS, MODELS, count_parameters, create_model, supported_in_channels, supported_scales
from sisr.training.engine import (discriminator_step, generator_step, resolve_amp, resolve_device, seed_everything,
                                  to_float)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _shape_for(name: str, scale: int) -> tuple[int, int]:
    """(scale, in_channels) for ``name``: the requested scale and RGB where supported, else its first ones."""
    scales, channels = supported_scales(name), supported_in_channels(name)
    return (scale if scales is None or scale in scales else scales[0]), (3 if 3 in channels else channels[0])


def time_model(name: str, *, device: torch.device, scale: int, batch: int, patch: int, steps: int, warmup: int,
               amp_dtype: torch.dtype | None, channels_last: bool, compile_model: bool, gan: bool = False) -> dict:
    """Time ``steps`` training steps of model ``name`` after ``warmup`` untimed ones; returns one result row."""
    scale, channels = _shape_for(name, scale)
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    model = create_model(name, scale=scale, in_channels=channels).to(device, memory_format=memory_format)
    net = torch.compile(model) if compile_model else model
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    scaler = torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16)
    disc = d_optimizer = None
    terms = [{"name": "l1", "weight": 1.0}]
    if gan:
        disc = create_model("patch_discriminator", scale=None, in_channels=channels)
        disc = disc.to(device, memory_format=memory_format)
        d_optimizer = torch.optim.Adam(disc.parameters(), lr=1e-4)
        terms.append({"name": "adversarial", "weight": 5e-3})
    loss_fn = build_loss(terms).to(device)
    lr_u8 = torch.randint(0, 256, (batch, channels, patch, patch), dtype=torch.uint8, device=device)
    hr_u8 = torch.randint(0, 256, (batch, channels, patch * scale, patch * scale), dtype=torch.uint8, device=device)
    lr, hr = to_float(lr_u8, device, channels_last), to_float(hr_u8, device, channels_last)

    def g_step() -> None:
        generator_step(net, lr, hr, loss_fn=loss_fn, optimizer=optimizer, scaler=scaler, amp_dtype=amp_dtype,
                       discriminator=disc)

    def d_step() -> None:
        sr, _ = generator_step(net, lr, hr, loss_fn=loss_fn, optimizer=None, amp_dtype=amp_dtype, discriminator=disc)
        discriminator_step(disc, sr, hr, optimizer=d_optimizer, scaler=scaler, amp_dtype=amp_dtype)

    rows = []
    for label, step in [("gan_g_phase" if gan else "train", g_step)] + ([("gan_d_phase", d_step)] if gan else []):
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        for _ in range(warmup):
            step()
        _sync(device)
        start = time.perf_counter()
        for _ in range(steps):
            step()
        _sync(device)
        seconds = time.perf_counter() - start
        rows.append({
            "model": name + ("+patch_discriminator" if gan else ""), "step": label,
            "scale": scale, "in_channels": channels, "params": count_parameters(model), "batch": batch,
            "lr_patch": patch, "steps": steps, "seconds": seconds, "steps_per_s": steps / seconds,
            "samples_per_s": steps * batch / seconds,
            "peak_mem_gib": torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None,
        })
    return rows


def main(argv: list[str] | None = None) -> None:
    trainable = [n for n in MODELS if n not in DISCRIMINATORS and n not in ("nearest", "bilinear", "bicubic")]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=trainable,
                        help="registered model names (default: all trainable)")
    parser.add_argument("--device", default="auto", help="auto (CUDA if available), cpu, cuda, cuda:1, ...")
    parser.add_argument("--steps", type=int, default=None, help="timed steps (default 200 on CUDA, 3 on CPU)")
    parser.add_argument("--warmup", type=int, default=None, help="untimed steps first (default 20 on CUDA, 1 on CPU)")
    parser.add_argument("--batch", type=int, default=None, help="batch size (default 16 on CUDA, 2 on CPU)")
    parser.add_argument("--patch", type=int, default=None, help="LR patch side (default 48 on CUDA, 16 on CPU)")
    parser.add_argument("--scale", type=int, default=4, help="upscaling factor, where the model supports it")
    parser.add_argument("--amp", choices=["off", "bf16", "fp16"], default="bf16",
                        help="autocast on CUDA (default bf16)")
    parser.add_argument("--no-channels-last", action="store_true", help="keep NCHW (default on CUDA: channels_last)")
    parser.add_argument("--compile", action="store_true", help="torch.compile the model")
    parser.add_argument("--gan", action="store_true", help="also time RRDB + patch_discriminator GAN steps")
    parser.add_argument("--csv", type=Path, default=None, help="also write the results to this CSV")
    args = parser.parse_args(argv)

    device = resolve_device(args.device)
    cuda = device.type == "cuda"
    if cuda:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
    amp_dtype = resolve_amp(args.amp, device)
    channels_last = cuda and not args.no_channels_last
    steps = args.steps or (200 if cuda else 3)
    warmup = args.warmup if args.warmup is not None else (20 if cuda else 1)
    batch, patch = args.batch or (16 if cuda else 2), args.patch or (48 if cuda else 16)
    seed_everything(0)
    name = torch.cuda.get_device_name(device) if cuda else "cpu"
    print(f"# device {name}, amp {amp_dtype or 'off'}, channels_last {channels_last}, batch {batch}, "
          f"LR patch {patch}, {steps} steps after {warmup} warm-up, torch {torch.__version__}")
    print(f"{'model':<36} {'step':<12} {'x':>2} {'params':>11} {'steps/s':>9} {'samples/s':>10} {'peak GiB':>9}")
    jobs = [(m, False) for m in args.models] + ([("rrdb", True)] if args.gan else [])
    results = []
    for model_name, gan in jobs:
        try:
            rows = time_model(model_name, device=device, scale=args.scale, batch=batch, patch=patch, steps=steps,
                              warmup=warmup, amp_dtype=amp_dtype, channels_last=channels_last,
                              compile_model=args.compile, gan=gan)
        except torch.OutOfMemoryError:
            print(f"{model_name:<36} out of memory at batch {batch}, LR patch {patch}")
            continue
        finally:
            if cuda:
                torch.cuda.empty_cache()
        for r in rows:
            mem = f"{r['peak_mem_gib']:.2f}" if r["peak_mem_gib"] is not None else "-"
            print(f"{r['model']:<36} {r['step']:<12} {r['scale']:>2} {r['params']:>11,} {r['steps_per_s']:>9.2f} "
                  f"{r['samples_per_s']:>10.1f} {mem:>9}", flush=True)
        results.extend(rows)
    if args.csv is not None and results:
        args.csv.parent.mkdir(parents=True, exist_ok=True)
        with open(args.csv, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(results[0]) + ["device", "amp", "channels_last"])
            writer.writeheader()
            for r in results:
                writer.writerow({**r, "device": name, "amp": str(amp_dtype or "off"), "channels_last": channels_last})


if __name__ == "__main__":
    main()
