"""What the latency benchmarks share: timing a call many times, and the one-line summary."""
from __future__ import annotations

import time

import numpy as np


def timed(fn, calls: int, warmup: int = 5) -> np.ndarray:
    """Milliseconds of fn(i) for i in range(warmup + calls), the warm-up calls left out."""
    times = []
    for i in range(warmup + calls):
        start = time.perf_counter()
        fn(i)
        if i >= warmup:
            times.append(time.perf_counter() - start)
    return np.array(times) * 1000


def summary(ms: np.ndarray, decimals: int = 1) -> str:
    return (f"median {np.median(ms):.{decimals}f} ms, p95 {np.percentile(ms, 95):.{decimals}f} ms, "
            f"min {ms.min():.{decimals}f} ms")
