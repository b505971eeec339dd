"""The ``sisr`` command: the workflow's building blocks for people (and for the rules).

    sisr downscale --scale 4 HR_DIR LR_DIR            MATLAB-compatible bicubic (default) or PIL
    sisr upscale --model bicubic --scale 4 LR_DIR SR_DIR
    sisr upscale --checkpoint results/demo/espcn/espcn/checkpoint_best.pt --scale 4 LR_DIR SR_DIR
        [--tile 256 --tile-overlap 16] [--half]
    sisr evaluate --scale 4 SR_DIR HR_DIR [--metrics psnr_y,ssim_y] [--crop-border 4] [--csv out.csv] [--device cpu]
    sisr models [--scale 4]
    sisr fetch-weights [--dest weights] [--mirror URL_OR_DIR] [NAME ...]
    sisr plan [--tier quick paper] [--studies all]    estimated GPU-hours per training job, study and tier
    sisr lookalike [--size small|full] [--weights] OUT_DIR   look-alike archives + rehearsal.yaml (dress rehearsals)

Errors about inputs (unreadable image, wrong size, unknown model or metric) print one line and exit 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from sisr.errors import SisrError


def _inputs(src: Path) -> list[tuple[Path, str]]:
    """(file, output stem) for a file or every image of a folder."""
    from sisr.io import list_images

    if src.is_dir():
        files = list_images(src)
        if not files:
            raise SisrError(f"{src}: no images in folder")
        return [(f, f.stem) for f in files]
    if not src.exists():
        raise SisrError(f"{src}: no such file or folder")
    return [(src, src.stem)]


def _out_path(dst: Path, stem: str, single: bool) -> Path:
    if single and dst.suffix:
        return dst
    return dst / f"{stem}.png"


def _plan_outputs(src: Path, dst: Path, items: list[tuple[Path, str]], single: bool) -> list[tuple[Path, Path]]:
    """(input, output) per image, checked before anything is written: no output onto an input (nor a folder's
    outputs into the folder itself), no two inputs onto one output (``a.jpg`` and ``a.png``), no output that is an
    existing folder. SisrError naming the paths."""
    if src.is_dir() and dst.resolve() == src.resolve():
        raise SisrError(f"{dst}: the output folder is the input folder; its images would be overwritten or mixed "
                        f"with the outputs: choose another output folder")
    inputs = {path.resolve(): path for path, _ in items}
    plan, taken = [], {}
    for path, stem in items:
        out = _out_path(dst, stem, single)
        if out.resolve() in inputs:
            raise SisrError(f"{out}: the output would overwrite the input {inputs[out.resolve()]}: choose another "
                            f"output")
        if out.resolve() in taken:
            raise SisrError(f"{taken[out.resolve()]} and {path}: both would be written to {out}; rename one of "
                            f"them or convert them separately")
        if out.is_dir():
            raise SisrError(f"{out}: is a folder, expected an image file to write")
        taken[out.resolve()] = path
        plan.append((path, out))
    return plan


def cmd_downscale(args: argparse.Namespace) -> int:
    from sisr.imresize import downscale
    from sisr.io import read_image, write_image

    items = _inputs(Path(args.input))
    single = len(items) == 1 and Path(args.input).is_file()
    items = [(path, f"{stem}x{args.scale}" if args.suffix else stem) for path, stem in items]
    for path, out in _plan_outputs(Path(args.input), Path(args.output), items, single):
        img = read_image(path, mode="any")
        if min(img.shape[:2]) < args.scale:
            raise SisrError(f"{path}: {img.shape[1]}x{img.shape[0]} pixels is smaller than the scale {args.scale}: "
                            f"nothing to downscale")
        lr = downscale(img, args.scale, method=args.method)
        write_image(out, lr)
        print(f"{path} {img.shape[1]}x{img.shape[0]} -> {out} {lr.shape[1]}x{lr.shape[0]}")
    return 0


def cmd_upscale(args: argparse.Namespace) -> int:
    import torch

    from sisr.device import resolve_device
    from sisr.inference import check_scale, colour_output, load_any_model, model_input, super_resolve
    from sisr.io import read_image, write_image

    if args.tile is not None and args.tile <= 2 * args.tile_overlap:
        raise SisrError(f"--tile {args.tile}: a tile must exceed twice --tile-overlap ({args.tile_overlap}): use "
                        f"--tile {2 * args.tile_overlap + 1} or more, or a smaller --tile-overlap")
    device = resolve_device(args.device)
    if args.half and device.type != "cuda":
        print(f"sisr upscale: --half ignored on {device.type}: float16 inference needs CUDA; using float32",
              file=sys.stderr)
    items = _inputs(Path(args.input))
    single = len(items) == 1 and Path(args.input).is_file()
    drop = f"x{args.scale}"  # EDSR's LR names: a trailing x<scale> is dropped
    items = [(path, stem[: -len(drop)] if stem.endswith(drop) else stem) for path, stem in items]
    plan = _plan_outputs(Path(args.input), Path(args.output), items, single)
    first = read_image(items[0][0], mode="any")
    in_channels = 1 if first.ndim == 2 else 3
    loaded = load_any_model(args.checkpoint or args.model, scale=args.scale, in_channels=in_channels, device=device)
    check_scale(loaded, args.scale, args.checkpoint or args.model)
    model, model_channels = loaded.model, loaded.in_channels
    if args.half and device.type == "cuda":
        from sisr.inference import HalfPrecision

        model = HalfPrecision(model)
    with torch.no_grad():
        for path, out in plan:
            raw = read_image(path, mode="any")
            lr = model_input(raw, model_channels)  # gray -> RGB model: repeated; RGB -> Y model: its Y
            sr = super_resolve(model, lr, scale=args.scale, device=device, tile=args.tile, overlap=args.tile_overlap)
            if model_channels == 1 and raw.ndim == 3 and not args.luma_only:
                sr = colour_output(raw, sr, args.scale)  # the model's Y, the LR's chroma upscaled bicubically
            write_image(out, sr)
            print(f"{path} -> {out} {sr.shape[1]}x{sr.shape[0]}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    import pandas as pd

    from sisr.evaluation import evaluate_folders
    from sisr.metrics.registry import check_metric_names, check_weights, weights_needed

    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()]
    if not metrics:
        raise SisrError(f"--metrics {args.metrics!r}: no metric named (e.g. --metrics psnr_y,ssim_y)")
    if args.crop_border is not None and args.crop_border < 0:
        raise SisrError(f"--crop-border {args.crop_border}: must be 0 or more pixels")
    check_metric_names(metrics)
    if args.csv and Path(args.csv).is_dir():
        raise SisrError(f"--csv {args.csv}: is a folder, expected a CSV file to write (e.g. "
                        f"{Path(args.csv) / 'metrics.csv'})")
    # the same cache as the workflow's: --weights-dir, $SISR_WEIGHTS or ./weights
    if args.weights_dir or weights_needed(metrics):
        from sisr.weights import use_cache

        use_cache(args.weights_dir)
    check_weights(metrics)
    from sisr.device import set_default

    set_default(args.device)  # also the LPIPS / FID networks' device
    df = evaluate_folders(args.sr_dir, args.hr_dir, scale=args.scale, metrics=metrics, border=args.crop_border,
                          device=args.device)  # the kernels: sisr.device.kernel_device (CUDA only)
    border = args.scale if args.crop_border is None else args.crop_border
    set_metrics = df.attrs.get("set_metrics", {})
    with pd.option_context("display.width", 160, "display.max_columns", 20, "display.float_format", "{:.4f}".format):
        print(df.to_string(index=False))
    means = {m: float(df[m].mean()) for m in metrics if m in df.columns}
    print(f"\nmean over {len(df)} images (x{args.scale}, standard protocol, border {border} pixels):")
    for m, v in means.items():
        print(f"  {m:12s} {v:.4f}")
    for m, v in set_metrics.items():
        value, n = v if isinstance(v, tuple) else (v, len(df))
        print(f"  {m:12s} {value:.4f}  (set-level, {n} images)")
    if args.csv:
        from sisr.io import atomic_write

        out = df.copy()
        for m, v in set_metrics.items():
            out[m] = v[0] if isinstance(v, tuple) else v
        with atomic_write(args.csv, "w") as fh:
            out.to_csv(fh, index=False)
        print(f"per-image values written to {args.csv}")
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from sisr.models import model_table

    rows = model_table(scale=args.scale)
    width = max(len(r[0]) for r in rows)
    print(f"{'model':{width}s}  {'parameters':>12s}  description (x{args.scale}, RGB)")
    for name, params, desc in rows:
        print(f"{name:{width}s}  {params:>12,d}  {desc}")
    return 0


def cmd_fetch_weights(args: argparse.Namespace) -> int:
    from sisr.weights import WEIGHTS, fetch

    names = args.names or list(WEIGHTS)
    paths = fetch(names, dest=args.dest, mirror=args.mirror)
    for p in paths:
        print(f"ok  {p}")
    return 0


def cmd_plan(args: argparse.Namespace) -> int:
    from sisr.plan import format_plan, plan, study_files

    jobs = []
    for tier in args.tier:
        jobs += plan(study_files(args.studies_dir, args.studies), tier)
    if not jobs:
        raise SisrError(f"no training jobs in tier(s) {', '.join(args.tier)} of {args.studies_dir}")
    print(format_plan(jobs))
    return 0


def cmd_lookalike(args: argparse.Namespace) -> int:
    from sisr.data.lookalike import build_lookalike, rehearsal_config, write_random_weights

    archives = [a.strip() for a in args.archives.split(",") if a.strip()] if args.archives else None
    build_lookalike(args.out_dir, size=args.size, seed=args.seed, archives=archives)
    weights = write_random_weights(args.out_dir) if args.weights else None
    rehearsal_config(args.out_dir, size=args.size, mirror=args.mirror, weights=weights)
    config = Path(args.out_dir).resolve() / "rehearsal.yaml"
    print(f"\nLOOK-ALIKE archives (not the real data) in {Path(args.out_dir).resolve()}; config {config}")
    print(f"rehearse a tier (writes data-rehearsal/, weights-rehearsal/, results-rehearsal/):\n"
          f"  snakemake --cores all --configfile {config} --config tier=paper studies=all")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from sisr.metrics.registry import DEFAULT_METRICS, METRICS

    parser = argparse.ArgumentParser(prog="sisr", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("downscale", help="make LR images (HR cropped to a multiple of the scale first)")
    p.add_argument("--scale", type=int, required=True, choices=(2, 3, 4), help="downscaling factor")
    p.add_argument("--method", choices=("matlab", "pil"), default="matlab",
                   help="matlab: MATLAB imresize bicubic with antialiasing (default); pil: Pillow BICUBIC")
    p.add_argument("--suffix", action="store_true", help="name outputs <stem>x<scale>.png (EDSR layout)")
    p.add_argument("input", help="an image file or a folder of images")
    p.add_argument("output", help="output file (for one input file) or folder")
    p.set_defaults(func=cmd_downscale)

    p = sub.add_parser("upscale", help="super-resolve images with a baseline or a trained checkpoint")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--model", choices=("bicubic", "bilinear", "nearest"),
                   help="non-learned upsampling (bicubic is MATLAB-compatible)")
    g.add_argument("--checkpoint", help="a checkpoint written by training (checkpoint_best.pt)")
    p.add_argument("--scale", type=int, required=True, choices=(2, 3, 4),
                   help="upscaling factor (a checkpoint's must match)")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"),
                   help="auto: CUDA when available, else CPU (default)")
    p.add_argument("--tile", type=int, default=None,
                   help="cut the LR image into tiles of this many pixels (default: whole images, tiled "
                        "automatically when an image would not fit in memory)")
    p.add_argument("--tile-overlap", type=int, default=16,
                   help="LR pixels each tile shares with its neighbours, cut off after inference; at least the "
                        "model's receptive radius for a result equal to whole-image inference (default 16)")
    p.add_argument("--half", action="store_true",
                   help="float16 inference on CUDA (faster, less memory; ignored on CPU)")
    p.add_argument("--luma-only", action="store_true",
                   help="a Y-channel model (e.g. ESPCN, SRCNN): write its Y output as a grayscale image instead of "
                        "the colour image (its Y with the LR's chroma upscaled bicubically; the default)")
    p.add_argument("input", help="an LR image file or a folder of LR images (a trailing x<scale> in a name is dropped)")
    p.add_argument("output", help="output file (for one input file) or folder for the SR PNGs")
    p.set_defaults(func=cmd_upscale)

    p = sub.add_parser("evaluate", help="score an SR folder against an HR folder (standard SR protocol)",
                       description="Pairs files by stem ignoring a trailing x<scale>; HR is cropped to the SR "
                                   "size; PSNR/SSIM on Y (BT.601) or RGB with a border of <scale> pixels removed.")
    p.add_argument("--scale", type=int, required=True, choices=(2, 3, 4),
                   help="the SR factor (pairs x<scale> names; the default border)")
    p.add_argument("--metrics", default=",".join(DEFAULT_METRICS),
                   help=f"comma-separated, from: {', '.join(METRICS)}")
    p.add_argument("--crop-border", "--shave", type=int, default=None, metavar="PIXELS",
                   help="pixels removed at each border before PSNR/SSIM/MS-SSIM/MSE (default: the scale, as SR "
                        "papers do; 0: none). The their-protocol columns keep their own crops")
    p.add_argument("--csv", help="write per-image values to this CSV")
    p.add_argument("--weights-dir", help="cache of pretrained weights (LPIPS/FID), the workflow's weights_dir: "
                                         "default $SISR_WEIGHTS, else ./weights")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"),
                   help="where PSNR/SSIM/MS-SSIM/MSE and the LPIPS/FID networks run: auto (default): CUDA when "
                        "available, else CPU; on CUDA the metrics run in torch (float64, the same values within "
                        "1e-9), on the CPU in NumPy")
    p.add_argument("sr_dir", help="folder of SR images")
    p.add_argument("hr_dir", help="folder of HR (ground-truth) images, paired with the SR images by file stem")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("models", help="list the registered models with their parameter counts")
    p.add_argument("--scale", type=int, default=4, choices=(2, 3, 4), help="count parameters at this scale (default 4)")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("fetch-weights", help="download the pretrained backbones (LPIPS, VGG19, FID) once, verified")
    p.add_argument("--dest", default=None, help="weights cache folder, the workflow's weights_dir (default "
                                                "$SISR_WEIGHTS, else ./weights)")
    p.add_argument("--mirror", default=None, help="URL prefix, file:// URL or folder holding the files")
    p.add_argument("names", nargs="*", help="which weights: alexnet, vgg16, vgg19, fid_inception (default: all)")
    p.set_defaults(func=cmd_fetch_weights)

    p = sub.add_parser("plan", help="estimated GPU-hours of each training job, per study and tier")
    p.add_argument("--tier", nargs="+", default=["quick", "paper"], help="tiers (default: quick paper)")
    p.add_argument("--studies", nargs="+", default=["all"], help="study names (default: all)")
    p.add_argument("--studies-dir", default="studies", help="folder of the study files (default: studies)")
    p.set_defaults(func=cmd_plan)

    p = sub.add_parser("lookalike", help="write look-alike DIV2K / Flickr2K / benchmark archives for a dress rehearsal",
                       description="Archives under the real names and layouts, made from the photographs bundled "
                                   "with scikit-image (NOT the real data), and rehearsal.yaml: the config entries "
                                   "(mirror, checksums, capped schedules) that run a tier on them.")
    p.add_argument("--size", choices=("small", "full"), default="small",
                   help="small: a few images per split (seconds); full: the real counts and sizes (minutes, GBs)")
    p.add_argument("--seed", type=int, default=0, help="seed of the look-alike images (default 0)")
    p.add_argument("--archives", default=None, help="comma-separated archive names (default: all ten)")
    p.add_argument("--weights", action="store_true",
                   help="also write RANDOM-INIT stand-ins of the pretrained backbones (LPIPS, VGG19, FID) under "
                        "their real file names, their hashes in rehearsal.yaml")
    p.add_argument("--mirror", default=None, help="URL the archives will be served from (default: the folder)")
    p.add_argument("out_dir", help="folder for the look-alike archives and rehearsal.yaml")
    p.set_defaults(func=cmd_lookalike)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except SisrError as exc:
        print(f"sisr {args.command}: error: {' '.join(str(exc).split())}", file=sys.stderr)  # one line
        return 2
    except MemoryError:
        print(f"sisr {args.command}: error: out of memory", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"sisr {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
