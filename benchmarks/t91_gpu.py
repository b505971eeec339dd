"""The T91 check's training through the project's engine, with a time-to-quality curve on Set5 x3.

Loads the check's run (``checks/t91.yaml``, tier ``paper``, run ``espcn_relu``: ESPCN, ReLU, Y, x3, T91), applies
``--set KEY=VALUE`` overrides (YAML values, e.g. ``--set batch_size=256 --set optimizer.lr=2.0e-3``), and trains
it with ``sisr.training.train`` on the device, in the mode the engine resolves (``amp: auto`` etc.; on CUDA the
data source lives on the GPU). The validation set is Set5 x3 (MATLAB-made LR), validated every ``--val-every``
epochs, ONLY to draw the curve: nothing is selected on it (``best_metric: epoch``: the last epoch is the model).
The final model is then scored on Set5 and Set14 x3 with the standard protocol (``sisr.evaluation.evaluate``:
PSNR-Y / SSIM-Y, ``scale`` border pixels shaved). (The workflow's check selects its best epoch on Set14.)

Writes to ``--out``: ``t91_curve.csv`` (appended: variant, epoch, iterations, training seconds so far (GPU work
synchronised at each epoch end, validation excluded), wall seconds so far, Set5 PSNR-Y) and
``t91_summary.jsonl`` (one JSON line per variant: settings, mode, device, training seconds, first time at or
above 32.5 dB, final Set5/Set14 PSNR-Y and SSIM-Y). CPU smoke test (seconds)::

    python benchmarks/t91_gpu.py --device cpu --t91 ../shared/datasets/T91 --benchmark ../shared/datasets/benchmark \\
        --work /tmp/t91 --out /tmp/t91 --variant smoke --set epochs=1 --set epoch_def.n=1 --set batch_size=8
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
TARGET_DB = 32.5


def _set(cfg: dict, key: str, value) -> None:
    *parents, last = key.split(".")
    for p in parents:
        cfg = cfg.setdefault(p, {})
    cfg[last] = value


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--t91", type=Path, required=True, help="folder of the 91 training images")
    parser.add_argument("--benchmark", type=Path, required=True, help="folder with Set5/ and Set14/ (HR, LR_bicubic)")
    parser.add_argument("--work", type=Path, required=True, help="caches and the run folder go here")
    parser.add_argument("--out", type=Path, required=True, help="curve CSV and summary JSON lines go here")
    parser.add_argument("--variant", default="check", help="name of this variant in the outputs")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a setting")
    parser.add_argument("--val-every", type=int, default=2, help="Set5 validation every N epochs (the curve)")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args(argv)

    import torch

    from sisr.data.cache import build_cache
    from sisr.data.datasets import get_dataset
    from sisr.data.loader import open_train_source, open_valid_source
    from sisr.evaluation import evaluate
    from sisr.config.studies import load_study, train_settings
    from sisr.training import TrainConfig, load_model, train

    study = load_study(ROOT / "checks" / "t91.yaml", "paper")
    settings = train_settings(study.runs["espcn_relu"])
    for item in args.set:
        key, _, value = item.partition("=")
        _set(settings, key, yaml.safe_load(value))
    settings.update({"best_metric": {"metric": "epoch"}, "val_every": args.val_every})
    cfg = TrainConfig.from_dict(settings, where=f"t91 variant {args.variant}")
    scale = cfg.scale

    t0 = time.perf_counter()
    caches = {}
    for key, (name, root, split) in {"t91": ("folder", args.t91, "train"), "set5": ("benchmark", args.benchmark, "Set5"),
                                     "set14": ("benchmark", args.benchmark, "Set14")}.items():
        pairs = get_dataset(name, root=root, split=split, scale=scale)
        build_cache(pairs, args.work / "cache" / key, scale=scale, mode="y")
        caches[key] = (pairs, args.work / "cache" / key)
    cache_s = time.perf_counter() - t0
    kind, n = cfg.epoch_def.kind, cfg.epoch_def.n
    source = open_train_source(caches["t91"][1], scale=scale, patch_size=cfg.patch_size, batch_size=cfg.batch_size,
                               epoch_def=kind, augment=cfg.augment, seed=cfg.seed,
                               patches_per_image=n if kind == "patches_per_image" else None,
                               iterations=n if kind == "iterations" else None)
    valid = open_valid_source(caches["set5"][1], scale=scale)
    run_dir = args.work / f"run_{args.variant}"
    for stale in run_dir.glob("*"):
        stale.unlink()  # a fresh run: a resumed one would not time the whole training
    t1 = time.perf_counter()
    result = train(cfg, train_source=source, valid_source=valid, out_dir=run_dir, device=args.device)
    wall = time.perf_counter() - t1

    # the curve: training seconds = samples / (samples per second) per epoch, summed
    args.out.mkdir(parents=True, exist_ok=True)
    rows, train_s, wall_s, first = [], 0.0, 0.0, None
    per_epoch = len(source) * cfg.batch_size
    for row in result.history:
        train_s += per_epoch / row["samples_per_s"]
        wall_s += row["seconds"]
        psnr = row.get("val_psnr_y")
        if psnr is not None and not (isinstance(psnr, float) and math.isnan(psnr)):
            rows.append({"variant": args.variant, "epoch": row["epoch"], "iterations": row["epoch"] * len(source),
                         "train_seconds": round(train_s, 3), "wall_seconds": round(wall_s, 3),
                         "lr": row["lr"], "train_loss": row["train_loss"], "set5_psnr_y": round(psnr, 4)})
            if first is None and psnr >= TARGET_DB:
                first = rows[-1]
    curve = args.out / "t91_curve.csv"
    new = not curve.exists()
    with open(curve, "a") as fh:
        if new:
            fh.write(",".join(rows[0]) + "\n")
        for r in rows:
            fh.write(",".join(str(v) for v in r.values()) + "\n")

    model, _ = load_model(run_dir / "checkpoint_last.pt", torch.device(result.device if result.device == "cpu"
                                                                        else "cuda"))
    scores = {}
    for key in ("set5", "set14"):
        df = evaluate(caches[key][0], scale=scale, metrics=["psnr_y", "ssim_y"], model=model,
                      sr_dir=args.work / f"sr_{args.variant}_{key}", device=args.device, in_channels=1)
        scores[key] = {"psnr_y": round(float(df["psnr_y"].mean()), 4), "ssim_y": round(float(df["ssim_y"].mean()), 4)}
    done = json.loads((run_dir / "train_done.json").read_text())
    summary = {"variant": args.variant, "device": result.device, "torch": torch.__version__,
               "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "mode": done.get("mode"),
               "settings": cfg.to_dict(), "epochs": result.epochs_run, "iterations": done["iterations"],
               "train_seconds": round(train_s, 2), "train_call_wall_seconds": round(wall, 2),
               "engine_seconds": round(result.seconds, 2), "cache_seconds": round(cache_s, 2),
               "first_at_target": first, "final": scores, "overrides": args.set}
    with open(args.out / "t91_summary.jsonl", "a") as fh:
        fh.write(json.dumps(summary) + "\n")
    print(f"T91 {args.variant}: {train_s:.1f} s training ({result.epochs_run} epochs, {done['iterations']} iterations), "
          f"Set5 {scores['set5']['psnr_y']} dB / Set14 {scores['set14']['psnr_y']} dB; first >= {TARGET_DB} dB: "
          f"{first['train_seconds'] if first else None} s", flush=True)
    return summary


if __name__ == "__main__":
    main()
