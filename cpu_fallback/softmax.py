"""SOFTMAX / LOG_SOFTMAX over the last axis, float32, in NumPy: the CPU backend's `make_softmax`.

The same steps as TFLite's float kernels (and cuda_kernels/softmax.cu, the CUDA backend's
`make_softmax`):

    softmax:      d = (x - max(row)) * beta;   out = exp(d) / sum(exp(d))
    log_softmax:  d = x - max(row);            out = d - log(sum(exp(d)))

computed in place in `out`, so the only temporaries are the per-row max and sum.
"""

from __future__ import annotations

import numpy as np


def make_softmax(rows: int, cols: int, beta=1.0, log: bool = False):
    """fn(x, out) for float32 x and out of the same shape, `rows` rows of `cols` values each
    (any rank: the last axis is the row). `beta` scales SOFTMAX's logits; LOG_SOFTMAX has none
    (beta must be 1)."""
    rows, cols = int(rows), int(cols)
    if rows < 0 or cols < 0:
        raise ValueError(f"softmax: rows {rows} and cols {cols} must not be negative")
    beta = np.float32(1.0 if beta is None else beta)
    if log and beta != 1:
        raise ValueError(f"LOG_SOFTMAX has no beta, got {float(beta)}")
    scaled = beta != 1
    if rows * cols == 0:
        return lambda x, out: None

    if log:
        def log_softmax(x, out):
            np.subtract(x, np.max(x, axis=-1, keepdims=True), out=out)
            s = np.sum(np.exp(out), axis=-1, keepdims=True)
            out -= np.log(s, out=s)
        return log_softmax

    def softmax(x, out):
        np.subtract(x, np.max(x, axis=-1, keepdims=True), out=out)
        if scaled:
            out *= beta
        np.exp(out, out=out)
        out /= np.sum(out, axis=-1, keepdims=True)
    return softmax
