"""Shared helpers of the peer benchmarks: alternated median timing, versions, the machine."""

import datetime
import importlib.metadata
import os
import platform
import time

import jax
import numpy as np


def alternate(fns: dict, *, rounds: int, warmup: bool = True) -> dict:
    """Median wall time of each function, the functions called in turn (a b c a b c ...),
    so that load from other processes on a shared machine hits every side alike. Returns
    `{name: {"median_s", "min_s", "samples_s"}}`; each call is blocked until ready."""
    if warmup:
        for f in fns.values():
            jax.block_until_ready(f())  # compile / warm up
    samples = {name: [] for name in fns}
    for _ in range(rounds):
        for name, f in fns.items():
            t0 = time.perf_counter()
            jax.block_until_ready(f())
            samples[name].append(time.perf_counter() - t0)
    return {
        name: {
            "median_s": float(np.median(s)) if s else float("nan"),
            "min_s": float(np.min(s)) if s else float("nan"),
            "samples_s": s,
        }
        for name, s in samples.items()
    }


def version(dist: str) -> str:
    """`importlib.metadata.version(dist)`, or why there is none."""
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def failure(err: BaseException) -> str:
    """A peer's failure as one short line for the table: the type and the message."""
    msg = " ".join(str(err).split())
    return f"{type(err).__name__}: {msg}"[:200]


def loadavg() -> str:
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "unknown"


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine() -> dict:
    """The machine the numbers come from (for the report)."""
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "jax_device": str(jax.devices()[0]),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "jax": version("jax"),
        "jaxlib": version("jaxlib"),
        "torch": version("torch"),
        "numpy": version("numpy"),
        "scipy": version("scipy"),
        "date_utc": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }
