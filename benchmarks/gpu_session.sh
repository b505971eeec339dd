#!/usr/bin/env bash
# One GPU session for issue #15 (speed modes, T91 check, step times for `sisr plan`), in under LIMIT seconds.
#
# Every stage is time-boxed (`timeout`) and writes its results as it goes, so a stage that runs out of time or
# fails keeps what it measured and the next stage still runs. Results in $OUT:
#   session.log          everything printed
#   env.txt              GPU, driver, torch, CUDA, cuDNN
#   throughput.csv       benchmarks/train_throughput.py rows (one per case x mode)
#   t91_curve.csv        time-to-quality curve(s) of the T91 check (training seconds vs Set5 x3 PSNR-Y)
#   t91_summary.jsonl    one line per T91 variant: final Set5/Set14 PSNR-Y, SSIM-Y, seconds, mode
#   t91_runs.tar         history.csv + train_done.json of each T91 run
#
# Layout it expects (G, default .gpu; made by benchmarks/prepare_gpu_dir.sh): $G/src (the sisr package),
# $G/benchmarks, $G/checks, $G/schemas, $G/data/T91, $G/data/benchmark/{Set5,Set14}. Usage (from the folder
# holding $G):
#   OUT=/tmp/out LIMIT=500 bash .gpu/benchmarks/gpu_session.sh
# CPU smoke test of the same stages (tiny settings): SMOKE=1 DEVICE=cpu OUT=/tmp/out bash .gpu/benchmarks/gpu_session.sh
set -u
G=${G:-.gpu}
OUT=${OUT:-/tmp/gpu_session}
LIMIT=${LIMIT:-500}
DEVICE=${DEVICE:-cuda}
SMOKE=${SMOKE:-0}
PY=${PY:-python3}
mkdir -p "$OUT"
export PYTHONPATH="$G/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 TORCHINDUCTOR_CACHE_DIR=/tmp/inductor_cache
LOG="$OUT/session.log"

source "$(dirname "${BASH_SOURCE[0]}")/gpu_stage.sh"  # stage NAME MAX_SECONDS COMMAND...

{
    date -u
    nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.max.sm,power.limit --format=csv
    $PY -c "import torch, sys; print('python', sys.version.split()[0], 'torch', torch.__version__, 'cuda',
torch.version.cuda, 'cudnn', torch.backends.cudnn.version(), torch.cuda.get_device_name() if torch.cuda.is_available()
else 'no cuda'); import os; print('cpus', os.cpu_count())"
} >"$OUT/env.txt" 2>&1
cat "$OUT/env.txt" | tee -a "$LOG"

TT=($PY "$G/benchmarks/train_throughput.py" --device "$DEVICE" --csv "$OUT/throughput.csv")
T91=($PY "$G/benchmarks/t91_gpu.py" --device "$DEVICE" --t91 "$G/data/T91" --benchmark "$G/data/benchmark"
     --work /tmp/t91_work --out "$OUT")
if [ "$SMOKE" = 1 ]; then
    TT+=(--tiny --cases espcn_t91 rrdb_gan)
    T91_A=(--set epochs=2 --set epoch_def.n=1 --set batch_size=16 --val-every 1)
    T91_B=(--set epochs=2 --set epoch_def.n=1 --set batch_size=32 --val-every 1)
    SMALL=(espcn_t91 rrdb_b2)
else
    T91_A=(--val-every 2)
    T91_B=(--set batch_size=256 --set optimizer.lr=2.0e-3 --set epoch_def.n=192 --val-every 4)
    SMALL=(espcn_bn_residual srcnn espcn_t91 rrdb_b2 rrdb_b10 rrdb_b15 deep_residual_b8_c64 bicubic_refiner_b8_c64
           srcnn_y_x2 espcn_y_x2 srresnet edsr_baseline)
fi
BIG=(edsr_like edsr_like_b16_p48 deep_residual_b24_c612_bs16)
COMPILE=(edsr_like_b16_p48 edsr_like deep_residual_b24_c612_bs16 deep_residual_b24_c612 srresnet rrdb_b15)
[ "$SMOKE" = 1 ] && BIG=(espcn_t91) && COMPILE=(espcn_t91)

# 1. The T91 check as the workflow runs it (its schedule), on the GPU with device data and CUDA graphs.
stage t91_check 130 "${T91[@]}" --variant check_graph --set cuda_graph=true "${T91_A[@]}"
GRAPH=true
if ! grep -qs '"variant": "check_graph"' "$OUT/t91_summary.jsonl"; then  # graphs failed: the same without them
    GRAPH=false
    stage t91_check_eager 130 "${T91[@]}" --variant check_eager --set cuda_graph=false "${T91_A[@]}"
fi
# 2. The issue table's modes, rerun on this card (the baseline), for every case.
stage throughput_baseline 120 "${TT[@]}" --modes fp32 bf16 bf16_cl --warmup 5 --seconds 0.3 --min-steps 5
# 3. Fused Adam (ours, eager).
stage throughput_fused 80 "${TT[@]}" --modes fp32_fused bf16_cl_fused --warmup 5 --seconds 0.3 --min-steps 5
# 4. Whole-step CUDA graphs for the launch-bound cases; one graph mode for the big ones.
stage throughput_graph 80 "${TT[@]}" --cases "${SMALL[@]}" --modes graph_fp32 graph_bf16 graph_bf16_cl \
    graph_fp32_fusedadam --warmup 6 --seconds 0.3 --min-steps 10
stage throughput_graph_big 40 "${TT[@]}" --cases "${BIG[@]}" --modes graph_bf16_cl --warmup 6 --seconds 0.3 \
    --min-steps 5
# 5. Larger batches for ESPCN and RRDB (patches/s as the batch grows).
for b in 64 256; do
    stage "espcn_batch_$b" 20 "${TT[@]}" --cases espcn_bn_residual --batch "$b" --modes graph_fp32 fp32_fused \
        --warmup 6 --seconds 0.3 --min-steps 10
done
for b in 32 64; do
    stage "rrdb_batch_$b" 25 "${TT[@]}" --cases rrdb_b15 --batch "$b" --modes graph_bf16_cl bf16_cl_fused graph_fp32 \
        --warmup 6 --seconds 0.3 --min-steps 5
done
# 6. A faster T91 schedule: 4x the batch, 2x the patches per epoch (half the updates), lr 2e-3.
stage t91_b256 100 "${T91[@]}" --variant "b256_lr2e-3_n192_graph_$GRAPH" --set cuda_graph=$GRAPH "${T91_B[@]}"
# 7. torch.compile for the large models (compilation takes tens of seconds each): what time is left.
stage throughput_compile 400 "${TT[@]}" --cases "${COMPILE[@]}" --modes bf16_cl_compile_fused bf16_cl_compile \
    --warmup 3 --seconds 0.3 --min-steps 5

(cd /tmp/t91_work 2>/dev/null && tar cf "$OUT/t91_runs.tar" run_*/history.csv run_*/train_done.json) || true
echo "## done at ${SECONDS} s" | tee -a "$LOG"
