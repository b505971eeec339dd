"""1-D linear filters with few taps (resizing, Gaussian windows) as banded matrices applied by blocks.

A 1-D filter that maps ``n_in`` samples to ``n_out`` samples, each output a weighted sum of a few inputs, is
an ``n_out x n_in`` matrix with a narrow band of non-zeros. Applied whole it would cost ``n_out x n_in``
multiply-adds per line; applied as one numpy operation per tap it streams the whole image through memory
once per tap. Here the output samples are cut into blocks of ``block`` consecutive samples; the inputs
of a block lie in a short range ``lo:hi``, and the block's dense ``block x (hi - lo)`` piece of the matrix
is applied with one BLAS matrix product to every line of the image at once. The products work on data
that fit in the CPU caches and cost a few times the minimal number of multiply-adds, at the speed of BLAS
(measured in benchmarks/eval_throughput.py, docs/BENCHMARKS.md).

Results equal those of a tap-by-tap sum up to floating-point rounding (a different summation order).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class Block:
    """Output samples ``o0:o1`` are ``matrix @ input[lo:hi]``; ``matrix_t`` is its transpose, contiguous."""

    o0: int
    o1: int
    lo: int
    hi: int
    matrix: np.ndarray
    matrix_t: np.ndarray


def make_blocks(weights: np.ndarray, indices: np.ndarray, block: int, channels: int = 1,
                dtype: type = np.float64) -> tuple[Block, ...]:
    """Blocks of a filter given per output sample (rows of ``weights`` / 0-based ``indices``, ``n_out x taps``).

    Taps with the same index in one row (clamped borders) are summed. ``channels > 1``: for interleaved
    lines (``... x n x channels`` stored as ``... x (n * channels)``), each block matrix acts on every
    channel separately (its Kronecker product with the identity), and ``o0, o1, lo, hi`` count values, not
    samples. ``dtype``: of the block matrices (the weights are computed in float64).
    """
    n_out = weights.shape[0]
    blocks = []
    eye = np.eye(channels)
    for o0 in range(0, n_out, block):
        o1 = min(o0 + block, n_out)
        idx = indices[o0:o1]
        lo, hi = int(idx.min()), int(idx.max()) + 1
        matrix = np.zeros((o1 - o0, hi - lo))
        rows = np.repeat(np.arange(o1 - o0), weights.shape[1])
        np.add.at(matrix, (rows, (idx - lo).ravel()), weights[o0:o1].ravel())
        if channels > 1:
            matrix = np.kron(matrix, eye)
        matrix = matrix.astype(dtype)
        matrix.setflags(write=False)
        matrix_t = np.ascontiguousarray(matrix.T)
        matrix_t.setflags(write=False)
        c = channels
        blocks.append(Block(o0 * c, o1 * c, lo * c, hi * c, matrix, matrix_t))
    return tuple(blocks)


def along_rows(blocks: tuple[Block, ...], x: np.ndarray, out: np.ndarray,
               then: Callable[[np.ndarray, Block], None] | None = None) -> np.ndarray:
    """Filter every column of the 2-D ``x`` (``n_in x m``) into ``out`` (``n_out x m``); returns ``out``.

    ``then(rows, block)`` is called on each finished block of output rows (to change them in place, e.g.
    rounding) while they are still in the cache.
    """
    for b in blocks:
        rows = out[b.o0:b.o1]
        np.matmul(b.matrix, x[b.lo:b.hi], out=rows)
        if then is not None:
            then(rows, b)
    return out


def along_columns(blocks: tuple[Block, ...], x: np.ndarray, out: np.ndarray,
                  then: Callable[[np.ndarray, Block], np.ndarray] | None = None) -> np.ndarray:
    """Filter every row of the 2-D ``x`` (``m x n_in``) into ``out`` (``m x n_out``, any dtype); returns ``out``.

    ``then(values, block)`` maps each block of output columns (``m x block``, in the dtype of the matrices)
    before it is stored in ``out`` (e.g. rounding to the values of a uint8 ``out``).
    """
    for b in blocks:
        values = x[:, b.lo:b.hi] @ b.matrix_t
        out[:, b.o0:b.o1] = values if then is None else then(values, b)
    return out
