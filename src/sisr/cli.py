"""sisr: the workflow's building blocks as commands (make LR images, super-resolve, score, plan, rehearse).

    sisr downscale --scale 4 HR_DIR LR_DIR [--degradation bicubic|pil_bicubic|bd|dn] [--seed 0]
    sisr upscale --model bicubic --scale 4 LR_DIR SR_DIR
    sisr upscale --checkpoint results/demo/espcn/espcn/checkpoint_best.pt --scale 4 LR_DIR SR_DIR
        [--tile 256 --tile-overlap 16] [--half]
    sisr evaluate --scale 4 SR_DIR HR_DIR [--metrics psnr_y,ssim_y] [--crop-border 4] [--csv out.csv] [--device cpu]
    sisr models [--scale 4]
    sisr fetch-weights [--dest weights] [--mirror URL_OR_DIR] [NAME ...]
    sisr plan [--tier paper] [--calibrate]              hours per job/study/tier, downloads, disk, command
    sisr audit STUDY --summary CSV [--tier T] [--json] | --template   findings and claims judged on a summary
    sisr lookalike [--size small|full] [--weights] OUT_DIR   look-alike archives + rehearsal.yaml (dress rehearsals)

Errors about inputs (unreadable image, wrong size, unknown model or metric) print one line and exit 2.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Sequence

from sisr import degradations
from sisr.base import suggest
from sisr.base.device import resolve_device, set_default
from sisr.base.errors import SisrError
from sisr.base.io import SCALE_KEY, atomic_write, list_images, read_image, write_image
from sisr.data.weights import WEIGHTS, fetch, use_cache
from sisr.metrics.registry import DEFAULT_METRICS, METRICS, check_metric_names, check_weights, weights_needed
from sisr.models import model_table
from sisr.training.loss_terms import weights_needed as loss_weights


def _inputs(src: Path) -> list[tuple[Path, str]]:
    """(file, output stem) for a file or every image of a folder."""
    if src.is_dir():
        files = list_images(src)
        if not files:
            raise SisrError(f"{src}: no images in folder")
        return [(f, f.stem) for f in files]
    if not src.exists():
        raise SisrError(f"{src}: no such file or folder")
    return [(src, src.stem)]


def _choice(*valid: str):
    """An argparse type accepting one of ``valid``; anything else is refused with the closest names (argparse's
    ``choices`` lists them all without a suggestion)."""
    def check(text: str) -> str:
        if text not in valid:
            raise argparse.ArgumentTypeError(suggest.unknown("name", [text], valid))
        return text

    return check


def _check_named_scale(items: list[tuple[Path, str]], scale: int) -> None:
    """SisrError when every LR file is named for one other scale (``babyx4.png`` with --scale 2)."""
    for k in (2, 3, 4):
        if k != scale and all(stem.endswith(f"x{k}") and len(stem) > 2 for _, stem in items):
            path = items[0][0]
            raise SisrError(f"{path}: the LR files are named x{k} but --scale is {scale}: give --scale {k} "
                            f"(or rename the files if they are x{scale} LR images)")


def _out_path(dst: Path, stem: str, single: bool) -> Path:
    if single and dst.suffix:
        return dst
    return dst / f"{stem}.png"


_METHOD_ALIASES = {"matlab": "bicubic", "pil": "pil_bicubic"}  # the former --method values


def _downscale_degradation(args: argparse.Namespace):
    """The degradation of ``sisr downscale``: ``--degradation``, or the one ``--method`` (deprecated) names."""
    name = args.degradation
    if args.method is not None:
        alias = _METHOD_ALIASES[args.method]
        if name is not None and name != alias:
            raise SisrError(f"--method {args.method} (= --degradation {alias}) contradicts --degradation {name}: "
                            f"give --degradation only")
        print(f"sisr downscale: --method {args.method} is deprecated; use --degradation {alias}", file=sys.stderr)
        name = alias
    return degradations.get(name or degradations.DEFAULT)


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
    degradation = _downscale_degradation(args)
    items = _inputs(Path(args.input))
    single = len(items) == 1 and Path(args.input).is_file()
    items = [(path, f"{stem}x{args.scale}" if args.suffix else stem) for path, stem in items]
    for path, out in _plan_outputs(Path(args.input), Path(args.output), items, single):
        img = read_image(path, mode="any")
        if min(img.shape[:2]) < args.scale:
            raise SisrError(f"{path}: {img.shape[1]}x{img.shape[0]} pixels is smaller than the scale {args.scale}: "
                            f"nothing to downscale")
        lr = degradation.lr(img, args.scale, seed=args.seed, image=path.stem)
        write_image(out, lr)
        print(f"{path} {img.shape[1]}x{img.shape[0]} -> {out} {lr.shape[1]}x{lr.shape[0]} ({degradation.name})")
    return 0


def cmd_upscale(args: argparse.Namespace) -> int:
    import torch  # deferred: torch; sisr --help must not load it

    from sisr.training.inference import (  # deferred: torch; sisr --help must not load it
        HalfPrecision, check_scale, colour_output, load_any_model, model_input, super_resolve)

    if args.tile is not None and args.tile <= 2 * args.tile_overlap:
        raise SisrError(f"--tile {args.tile}: a tile must exceed twice --tile-overlap ({args.tile_overlap}): use "
                        f"--tile {2 * args.tile_overlap + 1} or more, or a smaller --tile-overlap")
    device = resolve_device(args.device)
    if args.half and device.type != "cuda":
        print(f"sisr upscale: --half ignored on {device.type}: float16 inference needs CUDA; using float32",
              file=sys.stderr)
    items = _inputs(Path(args.input))
    _check_named_scale(items, args.scale)
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
        model = HalfPrecision(model)
    with torch.no_grad():
        for path, out in plan:
            raw = read_image(path, mode="any")
            lr = model_input(raw, model_channels)  # gray -> RGB model: repeated; RGB -> Y model: its Y
            sr = super_resolve(model, lr, scale=args.scale, device=device, tile=args.tile, overlap=args.tile_overlap)
            if model_channels == 1 and raw.ndim == 3 and not args.luma_only:
                sr = colour_output(raw, sr, args.scale)  # the model's Y, the LR's chroma upscaled bicubically
            write_image(out, sr, text={SCALE_KEY: str(args.scale)})  # sisr evaluate checks its --scale against it
            print(f"{path} -> {out} {sr.shape[1]}x{sr.shape[0]}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    import pandas as pd  # deferred: pandas (0.2 s); sisr --help must not load it

    from sisr.evaluation import evaluate_folders  # deferred: pandas (0.2 s); sisr --help must not load it

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
        use_cache(args.weights_dir)
    check_weights(metrics)
    set_default(args.device)  # also the LPIPS / FID networks' device
    df = evaluate_folders(args.sr_dir, args.hr_dir, scale=args.scale, metrics=metrics, border=args.crop_border,
                          device=args.device)  # the kernels: sisr.base.device.kernel_device (CUDA only)
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
        out = df.copy()
        for m, v in set_metrics.items():
            out[m] = v[0] if isinstance(v, tuple) else v
        with atomic_write(args.csv, "w") as fh:
            out.to_csv(fh, index=False)
        print(f"per-image values written to {args.csv}")
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    rows = model_table(scale=args.scale)
    width = max(len(r[0]) for r in rows)
    print(f"{'model':{width}s}  {'parameters':>12s}  description (x{args.scale}, RGB)")
    for name, params, desc in rows:
        print(f"{name:{width}s}  {params:>12,d}  {desc}")
    return 0


def cmd_fetch_weights(args: argparse.Namespace) -> int:
    names = args.names or list(WEIGHTS)
    paths = fetch(names, dest=args.dest, mirror=args.mirror)
    for p in paths:
        print(f"ok  {p}")
    return 0


def cmd_plan(args: argparse.Namespace) -> int:
    import torch  # deferred: torch; sisr --help must not load it

    from sisr.config import calibrate  # deferred: torch; sisr --help must not load it
    from sisr.config.plan import (  # deferred: torch; sisr --help must not load it
        format_plan, plan_studies, study_files, table_basis, write_csv)

    files = study_files(args.studies_dir, args.studies)
    device = resolve_device(args.device)
    if args.calibrate:
        started = time.perf_counter()
        path, data = calibrate.calibrate(files, args.tier, device, args.seconds)
        print(f"calibrated {data['device']} (torch {torch.__version__}) in {time.perf_counter() - started:.1f} s: "
              f"{len(data['anchors'])} steps timed" + (f", not measured: {', '.join(data['not_measured'])}"
                                                       if data["not_measured"] else "") + f"; saved {path}")
    basis = None if args.table else calibrate.load_basis(device)
    note = ""
    if basis is None:
        basis = table_basis()
        if not args.table:
            note = (f"# no calibration of this machine ({calibrate.device_name(device)}, torch {torch.__version__}) "
                    f"cached\n#   in {calibrate.cache_dir()}: sisr plan --calibrate measures it\n")
    studies_arg = "all" if list(args.studies) == ["all"] else f"'[{','.join(args.studies)}]'"
    texts, everything = [], []
    for tier in args.tier:
        plans = plan_studies(files, tier, basis, leaderboard=not args.no_leaderboard)
        if plans:
            everything += plans
            texts.append(format_plan(plans, basis, tier=tier, studies_arg=studies_arg, wide=args.wide))
    if not everything:
        raise SisrError(f"no training jobs in tier(s) {', '.join(args.tier)} of {args.studies_dir}")
    print(note + "\n\n".join(texts))
    if args.csv:
        write_csv(args.csv, everything)
        print(f"wrote {args.csv}")
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    import pandas as pd  # deferred: pandas (0.2 s); sisr --help must not load it

    from sisr.config.studies import check_study_file  # deferred: jsonschema and yaml; sisr --help needs neither
    from sisr.report.audit import (  # deferred: pandas (0.2 s); sisr --help must not load it
        audit_summary, dump_json, report_markdown, template)

    study_file = check_study_file(Path(args.studies_dir) / f"{args.study}.yaml")
    if args.template:
        template(study_file).to_csv(sys.stdout, index=False)
        return 0
    if not args.summary:
        raise SisrError("audit: give --summary CSV (a study's summary.csv) or --template")
    path = Path(args.summary)
    if not path.is_file():
        raise SisrError(f"{path}: no such file (expected a study's summary.csv)")
    try:
        summary = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise SisrError(f"{path}: not a readable CSV ({' '.join(str(exc).split())})") from None
    result = audit_summary(study_file, summary, tier=args.tier)
    print(dump_json(result) if args.json else report_markdown(result, source=f"Summary: {path}"))
    return 0


def cmd_lookalike(args: argparse.Namespace) -> int:
    from sisr.data.lookalike import (  # deferred: yaml and tarfile; sisr --help needs neither
        build_lookalike, rehearsal_config, write_random_weights)

    archives = [a.strip() for a in args.archives.split(",") if a.strip()] if args.archives else None
    build_lookalike(args.out_dir, size=args.size, seed=args.seed, archives=archives)
    weights = write_random_weights(args.out_dir) if args.weights else None
    rehearsal_config(args.out_dir, size=args.size, mirror=args.mirror, weights=weights)
    config = Path(args.out_dir).resolve() / "rehearsal.yaml"
    print(f"\nLOOK-ALIKE archives (not the real data) in {Path(args.out_dir).resolve()}; config {config}")
    header = "rehearse a tier (writes data-rehearsal/, weights-rehearsal/, results-rehearsal/):"
    if args.weights:
        print(f"{header}\n  snakemake --cores all --configfile {config} --config tier=paper studies=all")
        return 0
    free = _studies_without_weights(Path("studies"), "paper")  # the project's, as the command runs there
    if free:
        studies = free[0] if len(free) == 1 else f"'[{','.join(free)}]'"
        print(f"{header}\n  snakemake --cores all --configfile {config} --config tier=paper studies={studies}")
    print(f"{'the other studies need' if free else 'rehearsing the studies needs'} pretrained backbones (LPIPS, VGG, "
          f"FID): rerun with --weights for RANDOM-INIT stand-ins (then studies=all), or fetch the real ones with "
          f"sisr fetch-weights --dest weights-rehearsal")
    return 0


def _studies_without_weights(studies_dir: Path, tier: str) -> list[str]:
    """The studies in ``studies_dir`` whose ``tier`` needs no pretrained backbone (metric or loss); [] if none."""
    from sisr.config.studies import load_study  # deferred: jsonschema and yaml; sisr --help needs neither

    free = []
    for path in sorted(studies_dir.glob("*.yaml")):
        study = load_study(path, tier)
        if not weights_needed(study.metrics) and not any(loss_weights(r["loss"]) for r in study.runs.values()):
            free.append(path.stem)
    return free


def _add_downscale(sub: argparse._SubParsersAction) -> None:
    """The ``downscale`` command's parser."""
    p = sub.add_parser("downscale", help="make LR images (HR cropped to a multiple of the scale first)")
    p.add_argument("--scale", type=int, required=True, choices=(2, 3, 4), help="downscaling factor")
    p.add_argument("--degradation", default=None, metavar="NAME",
                   help="how the LR is made (default bicubic): " + "; ".join(
                       f"{d.name}: {d.description}" for d in degradations.REGISTRY.values()))
    p.add_argument("--seed", type=int, default=0,
                   help="seed of a noisy degradation (dn); each image's noise comes from it and the file's stem")
    p.add_argument("--method", choices=tuple(_METHOD_ALIASES), default=None,
                   help="deprecated: matlab = --degradation bicubic, pil = --degradation pil_bicubic")
    p.add_argument("--suffix", action="store_true", help="name outputs <stem>x<scale>.png (EDSR layout)")
    p.add_argument("input", help="an image file or a folder of images")
    p.add_argument("output", help="output file (for one input file) or folder")
    p.set_defaults(func=cmd_downscale)



def _add_upscale(sub: argparse._SubParsersAction) -> None:
    """The ``upscale`` command's parser."""
    p = sub.add_parser("upscale", help="super-resolve images with a baseline or a trained checkpoint")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--model", type=_choice("bicubic", "bilinear", "nearest"), metavar="{bicubic,bilinear,nearest}",
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



def _add_evaluate(sub: argparse._SubParsersAction) -> None:
    """The ``evaluate`` command's parser."""
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



def _add_models(sub: argparse._SubParsersAction) -> None:
    """The ``models`` command's parser."""
    p = sub.add_parser("models", help="list the registered models with their parameter counts")
    p.add_argument("--scale", type=int, default=4, choices=(2, 3, 4), help="count parameters at this scale (default 4)")
    p.set_defaults(func=cmd_models)



def _add_fetch_weights(sub: argparse._SubParsersAction) -> None:
    """The ``fetch-weights`` command's parser."""
    p = sub.add_parser("fetch-weights", help="download the pretrained backbones (LPIPS, VGG19, FID) once, verified")
    p.add_argument("--dest", default=None, help="weights cache folder, the workflow's weights_dir (default "
                                                "$SISR_WEIGHTS, else ./weights)")
    p.add_argument("--mirror", default=None, help="URL prefix, file:// URL or folder holding the files")
    p.add_argument("names", nargs="*", help="which weights: alexnet, vgg16, vgg19, fid_inception (default: all)")
    p.set_defaults(func=cmd_fetch_weights)



def _add_plan(sub: argparse._SubParsersAction) -> None:
    """The ``plan`` command's parser."""
    p = sub.add_parser("plan", help="what a tier costs before it runs: hours per job, study and tier; disk",
                       description="Hours per training job (warm-up, training, validation), evaluation hours, "
                                   "downloads, data, caches and checkpoints of each tier, and the snakemake command. "
                                   "Step times: this machine's calibration when cached (--calibrate), else the "
                                   "H200 table. The model: sisr.config.plan's docstring.")
    p.add_argument("--tier", nargs="+", default=["quick", "paper"], help="tiers (default: quick paper)")
    p.add_argument("--studies", nargs="+", default=["all"], help="study names (default: all)")
    p.add_argument("--studies-dir", default="studies", help="folder of the study files (default: studies)")
    p.add_argument("--wide", action="store_true", help="also each job's parameters, work per step and basis")
    p.add_argument("--csv", default=None, metavar="FILE", help="write every job's estimate to FILE (CSV)")
    p.add_argument("--no-leaderboard", action="store_true", help="the config's leaderboard: false (fewer evaluations)")
    p.add_argument("--table", action="store_true", help="use the H200 table even when a calibration is cached")
    p.add_argument("--calibrate", action="store_true",
                   help="first time one training step of each model family here (cached in $SISR_CACHE, else "
                        "$XDG_CACHE_HOME/sisr or ~/.cache/sisr, per device and torch version)")
    p.add_argument("--device", default="auto", help="device to calibrate and plan for: auto, cpu, cuda")
    p.add_argument("--seconds", type=float, default=120.0, help="time budget of --calibrate (default 120)")
    p.set_defaults(func=cmd_plan)



def _add_audit(sub: argparse._SubParsersAction) -> None:
    """The ``audit`` command's parser."""
    p = sub.add_parser("audit", help="judge a study's findings and claims on any summary.csv",
                       description="The study's findings (the document's conclusions: holds / reversed / "
                                   "inconclusive against seed noise) and claims (reproduced / not reproduced where "
                                   "like-for-like, else indicative), judged on a summary.csv alone, as the "
                                   "workflow's REPORT.md. Verdicts only for a paper-tier summary whose config "
                                   "hashes match the study file's paper tier.")
    p.add_argument("study", help="study name (a file in --studies-dir)")
    p.add_argument("--summary", help="the summary.csv to judge (a workflow run's, a cluster run's, anyone's)")
    p.add_argument("--tier", default=None, help="the tier the summary comes from (default: its tier column)")
    p.add_argument("--json", action="store_true", help="print JSON (findings, counts) instead of Markdown")
    p.add_argument("--template", action="store_true",
                   help="print the summary a perfect reproduction would give: every row (replicas included) and "
                        "column the claims and findings need, filled with the claimed values")
    p.add_argument("--studies-dir", default="studies", help="folder of the study files (default: studies)")
    p.set_defaults(func=cmd_audit)



def _add_lookalike(sub: argparse._SubParsersAction) -> None:
    """The ``lookalike`` command's parser."""
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



def build_parser() -> argparse.ArgumentParser:
    intro, _, examples = __doc__.partition("\n\n")
    parser = argparse.ArgumentParser(prog="sisr", description=intro, epilog=f"examples:\n{examples.rstrip()}\n\n"
                                     "Every option of a command: sisr COMMAND --help.",
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    for add in (_add_downscale, _add_upscale, _add_evaluate, _add_models, _add_fetch_weights, _add_plan,
                _add_audit, _add_lookalike):
        add(sub)
    for action in sub._choices_actions:  # each command's help line is also its description (`sisr models --help`)
        command = sub.choices[action.dest]
        command.description = command.description or f"{action.help[0].upper()}{action.help[1:]}."
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
