#!/usr/bin/env bash
# One GPU session for issues #10, #12 and #14: what CI (no GPU) cannot show, in under LIMIT seconds.
#
#   1. kernels    benchmarks/gpu_eval_check.py: the torch-CUDA imresize / SSIM / MS-SSIM / PSNR kernels equal to the
#                 NumPy ones (every LR pixel; metrics within 1e-9 relative) and their timings (GPU vs one CPU thread)
#   2. t91        the T91 check (ESPCN, Y, x3) trained on the GPU in seconds: a trained checkpoint for stage 3
#   3. half       `sisr upscale --half` against float32 on the GPU with that checkpoint (Set5/Set14 x3): the PSNR-Y of
#                 each against HR, the PSNR of half against float32, seconds per image
#   4. tiling     `sisr upscale` of a 1024x1024 LR image x4 with random-init EDSR-like and RRDB checkpoints: automatic
#                 tiling against an explicit --tile, and --half against float32, pixel by pixel
#   5. rehearsal  the quick tier's dress rehearsal of all five studies (sisr lookalike, random-init backbones) with
#                 the workstation profile on the GPU: every training job in its default GPU mode, trained runs
#                 evaluated on the GPU, baselines on the CPU (the `device` column); it gets the time that is left
#
# Every stage is time-boxed and writes to $OUT as it goes. Layout it expects (benchmarks/prepare_gpu_dir.sh):
# .gpu/data/{T91,benchmark/Set5,benchmark/Set14}; .whl/ with the wheels the GPU image lacks (snakemake, jsonschema,
# lpips, pytorch-fid and their dependencies). Usage, from the repository root on the GPU machine:
#   OUT=$OUT LIMIT=460 bash benchmarks/gpu_session_checks.sh          (STAGES="kernels tiling": only those)
# The device tool brings back only a few files: pack $OUT into one archive at the end (see the GPU notes in
# docs/BENCHMARKS.md).
# CPU smoke test of the same stages (tiny settings): SMOKE=1 DEVICE=cpu OUT=/tmp/out bash benchmarks/gpu_session_checks.sh
set -u
OUT=${OUT:-/tmp/gpu_checks}
LIMIT=${LIMIT:-460}
DEVICE=${DEVICE:-cuda}
SMOKE=${SMOKE:-0}
PY=${PY:-python3}
G=${G:-.gpu}
W=${W:-/tmp/gpu_checks_work}
STAGES=" ${STAGES:-kernels t91 half tiling rehearsal} "  # a subset reruns part of the session
want() { [[ "$STAGES" == *" $1 "* ]]; }
mkdir -p "$OUT" "$W"
LOG="$OUT/session.log"
if [ -d .whl ] && ls .whl/*.whl >/dev/null 2>&1; then
    $PY -m pip install -q --no-index --no-deps --target "$W/site" .whl/*.whl >>"$LOG" 2>&1
    export PYTHONPATH="$W/site:$PWD/src"
else
    export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONUNBUFFERED=1 TORCHINDUCTOR_CACHE_DIR="$W/inductor"

source "$(dirname "${BASH_SOURCE[0]}")/gpu_stage.sh"  # stage NAME MAX_SECONDS COMMAND...

{
    date -u
    git rev-parse HEAD 2>/dev/null || true
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>/dev/null || echo "no nvidia-smi"
    $PY -c "import torch, sys, os; print('python', sys.version.split()[0], 'torch', torch.__version__, 'cuda',
torch.version.cuda, torch.cuda.get_device_name() if torch.cuda.is_available() else 'no cuda', 'cpus', os.cpu_count())"
    $PY -c "import snakemake, sisr; print('snakemake', snakemake.__version__, 'sisr from', sisr.__file__)"
} >"$OUT/env.txt" 2>&1
cat "$OUT/env.txt" | tee -a "$LOG"
echo "stage,rc,seconds" >"$OUT/stages.csv"

BENCH="$G/data/benchmark"

# 1. Kernels: equality and timing.
if want kernels && [ -f benchmarks/gpu_eval_check.py ]; then
    KARGS=()
    [ "$SMOKE" = 1 ] && KARGS=(--count 1 --repeat 1)
    stage kernels 90 $PY benchmarks/gpu_eval_check.py --device "$DEVICE" --out "$OUT/kernels" "${KARGS[@]}"
fi

# 2. A trained checkpoint: the T91 check (ESPCN, Y channel, x3) on the GPU.
T91_SET=()
[ "$SMOKE" = 1 ] && T91_SET=(--set epochs=1 --set epoch_def.n=1 --set batch_size=8)
want t91 && stage t91 60 $PY benchmarks/t91_gpu.py --device "$DEVICE" --t91 "$G/data/T91" --benchmark "$BENCH" --work "$W/t91" \
    --out "$OUT" --variant gpu_checks "${T91_SET[@]}" --val-every 1000
CKPT=$(find "$W/t91" -name 'checkpoint_best.pt' -o -name 'checkpoint_last.pt' 2>/dev/null | sort | head -1)
echo "t91 checkpoint: ${CKPT:-none}" | tee -a "$LOG"

# 3. --half against float32 with the trained model, on Set5 and Set14 x3 (timings: the CLI's own lines).
half_check() {
    local set=$1 lr="$BENCH/$1/LR_bicubic/X3" hr="$BENCH/$1/HR"
    for mode in fp32 half; do
        local flag=()
        [ $mode = half ] && flag=(--half)
        local t0=$(date +%s.%N)
        $PY -m sisr upscale --checkpoint "$CKPT" --scale 3 --device "$DEVICE" "${flag[@]}" "$lr" "$W/sr_${set}_$mode" || return 1
        local t1=$(date +%s.%N)
        echo "$set,$mode,$(echo "$t1 - $t0" | bc)" >>"$OUT/half_seconds.csv"
        $PY -m sisr evaluate --scale 3 --metrics psnr_y,ssim_y --csv "$OUT/half_${set}_${mode}_vs_hr.csv" \
            "$W/sr_${set}_$mode" "$hr" || return 1
    done
    # half against float32 (float32 output as the reference; no border removed)
    $PY -m sisr evaluate --scale 3 --crop-border 0 --metrics psnr_rgb,psnr_y --csv "$OUT/half_${set}_vs_fp32.csv" \
        "$W/sr_${set}_half" "$W/sr_${set}_fp32"
}
if want half && [ -n "$CKPT" ]; then
    echo "set,mode,seconds_incl_start" >"$OUT/half_seconds.csv"
    export -f half_check
    export PY CKPT DEVICE BENCH W OUT
    stage half_set5 40 bash -c "half_check Set5"
    stage half_set14 50 bash -c "half_check Set14"
fi

# 4. Large images: automatic tiling (none needed on a large card) against an explicit tile with an overlap above
#    the model's receptive radius, and --half against float32, with random-init RGB checkpoints (x4; RANDOM weights:
#    the comparison is numerical, the images mean nothing).
SIZE=1024
[ "$SMOKE" = 1 ] && SIZE=64
want tiling && $PY - "$W/big" "$SIZE" <<'EOF2' >>"$LOG" 2>&1
import sys
from pathlib import Path
import numpy as np
import torch
from PIL import Image
from sisr.models import create_model
from sisr.training.checkpoint import save_checkpoint
from sisr.training.config import TrainConfig
out, n = Path(sys.argv[1]), int(sys.argv[2])
out.mkdir(parents=True, exist_ok=True)
rng = np.random.default_rng(0)
y, x = np.mgrid[0:n, 0:n]
img = 127 + 60 * (np.sin(x / 17.0) * np.cos(y / 23.0))[..., None] + rng.normal(0, 12, (n, n, 3))
Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(out / "big.png")
for model in ("edsr_like", "rrdb"):
    cfg = TrainConfig.from_dict({"model": model, "scale": 4, "in_channels": 3, "batch_size": 1, "patch_size": 8,
                                 "epochs": 1, "loss": [{"name": "l1", "weight": 1.0}],
                                 "optimizer": {"name": "adam", "lr": 1.0e-4}})
    torch.manual_seed(0)
    net = create_model(model, scale=4, in_channels=3)
    save_checkpoint(out / f"{model}.pt", {"kind": "best", "model": net.state_dict(), "config": cfg.to_dict(),
                                          "epoch": 1})
print("big image", n, "and random-init checkpoints written")
EOF2
for m in edsr_like rrdb; do
    want tiling || break
    stage "${m}_auto" 60 $PY -m sisr upscale --checkpoint "$W/big/$m.pt" --scale 4 --device "$DEVICE" \
        "$W/big/big.png" "$W/${m}_auto.png"
    stage "${m}_tile512" 60 $PY -m sisr upscale --checkpoint "$W/big/$m.pt" --scale 4 --device "$DEVICE" --tile 512 \
        --tile-overlap 128 "$W/big/big.png" "$W/${m}_tile512.png"
    stage "${m}_half" 60 $PY -m sisr upscale --checkpoint "$W/big/$m.pt" --scale 4 --device "$DEVICE" --half \
        "$W/big/big.png" "$W/${m}_half.png"
done
want tiling && $PY - "$W" <<'EOF2' | tee -a "$LOG" >"$OUT/tiling.txt"
import sys
from pathlib import Path
import numpy as np
from PIL import Image
w = Path(sys.argv[1])
def load(name):
    return np.asarray(Image.open(w / name), dtype=np.float64) if (w / name).is_file() else None
for m in ("edsr_like", "rrdb"):
    auto, tiled, half = load(f"{m}_auto.png"), load(f"{m}_tile512.png"), load(f"{m}_half.png")
    print(m, "auto shape", None if auto is None else auto.shape)
    if auto is not None and tiled is not None:
        d = np.abs(auto - tiled)
        print(f"{m}: auto vs --tile 512 --tile-overlap 128: max |diff| {d.max():.0f}, "
              f"pixels differing {np.mean(d > 0) * 100:.4f}%")
    if auto is not None and half is not None:
        mse = np.mean((auto - half) ** 2)
        psnr = 10 * np.log10(255 ** 2 / mse) if mse else float("inf")
        print(f"{m}: --half vs float32: max |diff| {np.abs(auto - half).max():.0f}, PSNR {psnr:.2f} dB")
EOF2

# 5. The quick tier's dress rehearsal, on the workstation profile (--resources gpu=16: the jobs share the one large
#    card; the profile's gpu: 1 would run them one at a time), with what time is left.
want rehearsal && stage lookalike 90 $PY -m sisr lookalike --size small --weights "$W/mirror"
REH=(--profile profiles/local --cores all --resources gpu=16 --configfile "$W/mirror/rehearsal.yaml" --config tier=quick studies=all
     "figures=[png]" "device=$DEVICE")
[ "$SMOKE" = 1 ] && REH=(--profile profiles/local --cores all --resources gpu=16 --configfile "$W/mirror/rehearsal.yaml" --config
                         tier=ci studies=rrdb_gan "figures=[png]" "device=$DEVICE")
want rehearsal && stage rehearsal_dry 30 $PY -m snakemake -n "${REH[@]}"
want rehearsal && stage rehearsal 600 $PY -m snakemake "${REH[@]}"
if want rehearsal && [ -d results-rehearsal ]; then
    $PY - "$OUT" <<'EOF' >>"$LOG" 2>&1
import json, sys
from pathlib import Path
import pandas as pd
out = Path(sys.argv[1])
rows = []
for p in sorted(Path("results-rehearsal").glob("*/*/*/eval/*.csv")):
    df = pd.read_csv(p)
    rows.append({"tier": p.parts[1], "study": p.parts[2], "run": p.parts[3], "set": p.stem, "images": len(df),
                 "device": ",".join(sorted(set(map(str, df.get("device", pd.Series(["?"])))))),
                 "psnr_y": df["psnr_y"].mean() if "psnr_y" in df else None})
pd.DataFrame(rows).to_csv(out / "rehearsal_eval_devices.csv", index=False)
done = []
for p in sorted(Path("results-rehearsal").glob("*/*/*/train_done.json")):
    d = json.loads(p.read_text())
    done.append({"study": p.parts[2], "run": p.parts[3], **{k: v for k, v in d.items() if not isinstance(v, (dict, list))}})
pd.DataFrame(done).to_csv(out / "rehearsal_train_done.csv", index=False)
print("eval csvs", len(rows), "trained runs", len(done))
EOF
    find results-rehearsal logs-rehearsal -type f \( -name '*.csv' -o -name '*.json' -o -name '*.md' -o -name '*.log' \) \
        -print0 2>/dev/null | tar czf "$OUT/rehearsal_results.tgz" --null -T - 2>/dev/null || true
fi

echo "## done at ${SECONDS} s" | tee -a "$LOG"
