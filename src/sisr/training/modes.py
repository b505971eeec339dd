"""Each model's fastest measured training mode on a GPU, and how a run's speed settings resolve against it.

A run's ``amp: auto`` and ``channels_last`` / ``compile`` / ``cuda_graph`` / ``data_on_device`` left out (null)
mean "the fastest measured": on CUDA the model's row of ``FASTEST`` decides, on the CPU every speed option
is off (float32, NCHW, eager, the host data source). A value written in the study file wins over the table
(the residual_sweep study keeps its report's mixed precision that way). ``resolve`` returns the mode a run
uses; the engine logs it and stores it in ``train_done.json``.

The modes (benchmarks/train_throughput.py, one training step: forward, loss, backward, Adam):
  amp            off (float32 weights and activations, TF32 matrix units) | bf16 (autocast)
  channels_last  NHWC activations and weights (tensor-core convolutions without layout changes)
  compile        torch.compile of the model (kernel fusion; minutes of compilation per run)
  cuda_graph     the whole step replayed as one CUDA graph (sisr.training.graphs)
``FASTEST`` holds, per model and measured training shape, the fastest mode of each precision with its measured
patches/s; a run uses the row whose shape is nearest its own (parameters x batch x LR patch pixels). Where the
table has no row for a model, its auto mode is float32, eager, no graph. Every row was measured on one card
(``MEASURED_ON``); on another GPU the ranking may differ: re-run benchmarks/gpu_session.sh there.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Callable

import torch


@dataclass(frozen=True)
class Mode:
    """How a run trains on its device (see the module docstring)."""

    amp: str = "off"
    channels_last: bool = False
    compile: bool = False
    cuda_graph: bool = False
    data_on_device: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Measured:
    """One model measured at one training shape: the fastest mode of each precision, fastest first.

    shape: label. params, batch, patch: the measured model's parameters, batch and LR patch side. args, scale,
    in_channels: how the measured model was built (sisr.config.plan counts its multiply-adds from them).
    modes: ((mode, patches/s), ...). baseline: patches/s of the eager float32 step with Adam as torch builds
    it (issue #15's first column), on the same card in the same session.
    """

    shape: str
    params: int
    batch: int
    patch: int
    modes: tuple[tuple[Mode, float], ...]
    baseline: float
    gan: bool = False
    args: tuple[tuple[str, Any], ...] = ()  # the measured model's arguments (benchmarks/train_throughput.py CASES)
    scale: int = 4
    in_channels: int = 3

    @property
    def work(self) -> float:
        """Parameters x batch x LR patch pixels: how runs find their nearest measured shape."""
        return float(self.params * self.batch * self.patch**2)


def _m(amp: str, cl: bool = False, compiled: bool = False, graph: bool = False) -> Mode:
    return Mode(amp=amp, channels_last=cl, compile=compiled, cuda_graph=graph)


MEASURED_ON = "NVIDIA H200, torch 2.11.0+cu130, 2026-11-26 (benchmarks/results/h200_2026-11-26/throughput.csv)"
# Per model, per measured shape: the fastest mode of each precision with its patches/s (train step: forward, L1
# loss, backward, Adam), and the eager float32 baseline. Measured on MEASURED_ON by benchmarks/gpu_session.sh
# (docs/BENCHMARKS.md has every mode of every case). Adam as measured: fused when eager (except inverted_unet's
# bf16: torch's default), fused capturable for float32 graphs, multi-tensor capturable for bf16 graphs (the engine
# now uses fused capturable for every graph: faster in all 12 float32 pairs measured, by 0.5-18%).
FASTEST: dict[str, tuple[Measured, ...]] = {
    "espcn": (
        Measured("b64 17x17 Y x3 (T91 check)", 22729, 64, 17,
                 ((_m("off", graph=True), 239_542), (_m("bf16", cl=True, graph=True), 216_234)), baseline=44_178,
                 args=(("activation", "relu"),), scale=3, in_channels=1),
        Measured("b8 256x256 Y x2 (inverted_unet)", 21284, 8, 256,
                 ((_m("bf16", cl=True, graph=True), 4_816), (_m("off", graph=True), 3_216)), baseline=3_108,
                 args=(("activation", "relu"),), scale=2, in_channels=1),
    ),
    "espcn_bn_residual": (
        Measured("b16 40x40 x4 (espcn)", 37392, 16, 40,
                 ((_m("bf16", cl=True, graph=True), 34_701), (_m("off", graph=True), 32_347)), baseline=8_542),
    ),
    "srcnn": (
        Measured("b16 40x40 x4 (espcn)", 20099, 16, 40,
                 ((_m("bf16", cl=True, graph=True), 10_219), (_m("off", graph=True), 7_544)), baseline=7_199),
        Measured("b8 256x256 Y x2 (inverted_unet)", 8129, 8, 256,
                 ((_m("bf16", graph=True), 1_140), (_m("off", graph=True), 799)), baseline=786, scale=2, in_channels=1),
    ),
    "srresnet": (
        Measured("b32 24x24 x4 (srresnet_edsr)", 1549462, 32, 24,
                 ((_m("bf16", cl=True, graph=True), 4_620), (_m("off", graph=True), 3_572)), baseline=2_843),
    ),
    "edsr_like": (
        Measured("b32 24x24 x4 (srresnet_edsr)", 43089923, 32, 24,
                 ((_m("bf16", cl=True, compiled=True), 2_339), (_m("off"), 837)), baseline=852),
        Measured("b16 48x48 x4", 43089923, 16, 48,
                 ((_m("bf16", cl=True, compiled=True), 700), (_m("off"), 236)), baseline=234),
    ),
    "edsr_baseline": (
        Measured("b32 24x24 x4", 1517571, 32, 24,
                 ((_m("bf16", cl=True, graph=True), 7_918), (_m("off", graph=True), 5_805)), baseline=4_172),
    ),
    "bicubic_refiner": (
        Measured("8 blocks x 64, b32 32x32 x4 (residual_sweep)", 298947, 32, 32,
                 ((_m("bf16", cl=True, graph=True), 6_098), (_m("off", graph=True), 2_285)), baseline=2_249,
                 args=(("blocks", 8), ("channels", 64))),
        Measured("24 blocks x 256, b32 32x32 x4 (residual_sweep)", 14176003, 32, 32,
                 ((_m("bf16", cl=True), 388), (_m("off"), 136)), baseline=138,
                 args=(("blocks", 24), ("channels", 256))),
    ),
    "deep_residual": (
        Measured("8 blocks x 64, b32 32x32 x4 (residual_sweep)", 889795, 32, 32,
                 ((_m("bf16", cl=True, graph=True), 8_944), (_m("off", graph=True), 6_182)), baseline=5_709,
                 args=(("blocks", 8), ("channels", 64))),
        Measured("16 blocks x 256, b32 32x32 x4 (residual_sweep)", 23617283, 32, 32,
                 ((_m("bf16", cl=True), 1_719), (_m("off"), 894)), baseline=886,
                 args=(("blocks", 16), ("channels", 256))),
        Measured("24 blocks x 612, b16 32x32 x4", 188838111, 16, 32,
                 ((_m("bf16", cl=True, compiled=True), 276), (_m("off"), 127)), baseline=124,
                 args=(("blocks", 24), ("channels", 612))),
        Measured("24 blocks x 612, b32 32x32 x4 (residual_sweep)", 188838111, 32, 32,
                 ((_m("bf16", cl=True, compiled=True), 297), (_m("off"), 136)), baseline=134,
                 args=(("blocks", 24), ("channels", 612))),
    ),
    "rrdb": (
        Measured("2 blocks, b16 32x32 x4 (rrdb_gan)", 1590083, 16, 32,
                 ((_m("bf16", cl=True, graph=True), 3_710), (_m("off", graph=True), 2_401)), baseline=1_697,
                 args=(("blocks", 2),)),
        Measured("10 blocks, b16 32x32 x4 (rrdb_gan)", 7345475, 16, 32,
                 ((_m("bf16", cl=True, graph=True), 1_026), (_m("off", graph=True), 712)), baseline=483,
                 args=(("blocks", 10),)),
        Measured("15 blocks, b16 32x32 x4 (rrdb_gan)", 10942595, 16, 32,
                 ((_m("bf16", cl=True, graph=True), 700), (_m("off", graph=True), 495)), baseline=315,
                 args=(("blocks", 15),)),
        # GAN generator phase (+ patch discriminator); no graphs for GANs. Discriminator phase: fp32 2,749.
        Measured("GAN, 2 blocks, b16 32x32 x4, generator phase (rrdb_gan)", 1590083, 16, 32,
                 ((_m("off"), 1_699), (_m("bf16", cl=True), 1_410)), baseline=1_492, gan=True, args=(("blocks", 2),)),
    ),
    "inverted_unet": (
        # channels_last fails here: PyTorch's NHWC nearest-upsampling backward refuses tensors of >= 2**31
        # elements (8 x 64 x 2048 x 2048), so only NCHW modes are listed.
        Measured("b8 256x256 Y x2 (inverted_unet)", 97729, 8, 256,
                 ((_m("bf16"), 70), (_m("off"), 48)), baseline=48, scale=2, in_channels=1),
    ),
}

# Device data is used automatically when the training cache takes at most this share of the GPU's memory.
DEVICE_DATA_SHARE = 0.25


def nearest(model: str, work: float | None, gan: bool = False) -> Measured | None:
    """The measured shape of ``model`` (GAN or not) closest to ``work`` (parameters x batch x LR pixels, in
    log scale); None when the model has none."""
    rows = [m for m in FASTEST.get(model, ()) if m.gan == gan]
    if not rows:
        return None
    if work is None or work <= 0:
        return rows[0]
    return min(rows, key=lambda m: abs(math.log(m.work / work)))


def resolve(cfg, device: torch.device, *, work: float | None = None, cache_bytes: Callable[[], int] | None = None,
            log: Callable[[str], None] = print) -> Mode:
    """The mode ``cfg`` (a TrainConfig) trains with on ``device``.

    work: parameters x batch x LR patch pixels of the run (picks the nearest measured shape). cache_bytes:
    returns the size of the training data (for the automatic ``data_on_device``); None when the training
    source cannot live on the device. Settings given in ``cfg`` win; with ``amp`` given, the fastest measured
    mode of that precision fills in the rest. CUDA graphs are chosen automatically only without gradient
    clipping (not measured with it); never with fp16, torch.compile or a GAN.
    """
    cuda = device.type == "cuda"
    row = nearest(cfg.model, work, cfg.gan is not None) if cuda else None
    if row is None:
        pick = Mode(amp="off" if cfg.amp == "auto" else cfg.amp)
    elif cfg.amp == "auto":
        pick = row.modes[0][0]
    else:
        pick = next((m for m, _ in row.modes if m.amp == cfg.amp), Mode(amp=cfg.amp))
    amp = pick.amp if cfg.amp == "auto" else cfg.amp
    channels_last = pick.channels_last if cfg.channels_last is None else cfg.channels_last
    if cfg.cuda_graph and not cuda:
        log(f"cuda_graph ignored on {device.type}")
    graph_possible = cuda and amp != "fp16" and cfg.gan is None and not cfg.compile
    if cfg.cuda_graph is not None:
        cuda_graph = bool(cfg.cuda_graph) and graph_possible
    else:
        cuda_graph = graph_possible and pick.cuda_graph and cfg.grad_clip is None
    if cfg.compile is not None:
        compile_model = cfg.compile
    else:
        compile_model = pick.compile and not cfg.cuda_graph
    if cfg.data_on_device is not None:
        on_device = cfg.data_on_device and cache_bytes is not None
    elif cuda and cache_bytes is not None:
        total = torch.cuda.get_device_properties(device).total_memory
        on_device = cache_bytes() <= DEVICE_DATA_SHARE * total
    else:
        on_device = False
    return Mode(amp=amp, channels_last=channels_last, compile=compile_model, cuda_graph=cuda_graph,
                data_on_device=on_device)
