"""A sweep killed with SIGKILL mid-run resumes without recomputing the points of finished
chunks, and its results equal those of an uninterrupted run bit for bit."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


SCRIPT = r"""
import dataclasses, json, os, sys, time
import jax, jax.numpy as jnp, jax.random as jr, numpy as np
jax.config.update("jax_enable_x64", True)
from toymodels.sweep import sweep


def slow(x):
    time.sleep(float(os.environ.get("SWEEP_SLEEP", "0")))  # once per chunk
    return x


def f(point, key):
    k1, k2 = jr.split(key)
    y = jnp.sin(point["a"]) + jr.normal(k1)
    y = jax.pure_callback(slow, jax.ShapeDtypeStruct(y.shape, y.dtype), y, vmap_method="broadcast_all")
    return {"y": y, "z": jnp.cos(point["a"] * jr.uniform(k2, (3,)))}


AXES = {"a": np.linspace(0.0, 1.0, 12)}
res = sweep(f, AXES, seeds=3, key=jr.key(7), chunk_size=3, store=sys.argv[1])
out = {"stats": dataclasses.asdict(res.stats)}
np.savez(sys.argv[2] + "_stored.npz", **res.to_dict())
if len(sys.argv) > 3:  # an uninterrupted run of the same sweep, into a fresh store
    fresh = sweep(f, AXES, seeds=3, key=jr.key(7), chunk_size=3, store=sys.argv[3])
    out["fresh_stats"] = dataclasses.asdict(fresh.stats)
    np.savez(sys.argv[2] + "_fresh.npz", **fresh.to_dict())
print("STATS " + json.dumps(out))
"""


def _env(sleep: float) -> dict:
    env = dict(os.environ, SWEEP_SLEEP=str(sleep), JAX_PLATFORMS="cpu")
    env["PYTHONPATH"] = (
        str(Path(__file__).resolve().parents[2]) + os.pathsep + env.get("PYTHONPATH", "")
    )
    return env


def test_sigkill_then_resume_is_bit_identical(tmp_path):
    script = tmp_path / "run_sweep.py"
    script.write_text(SCRIPT)
    store = tmp_path / "store"
    proc = subprocess.Popen(
        [sys.executable, str(script), str(store), str(tmp_path / "killed")],
        env=_env(0.4),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            if len(list(store.glob("*/points-*.npz"))) >= 3:
                break
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            time.sleep(0.05)
        else:
            raise AssertionError("the sweep wrote no chunks in time")
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    finished = len(list(store.glob("*/points-*.npz")))  # one file per chunk of 3 points
    assert 3 <= finished < 12, finished  # killed mid-run

    run = subprocess.run(
        [
            sys.executable,
            str(script),
            str(store),
            str(tmp_path / "resumed"),
            str(tmp_path / "fresh"),
        ],
        env=_env(0.0),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    line = next(ln for ln in run.stdout.splitlines() if ln.startswith("STATS "))
    info = json.loads(line[len("STATS ") :])
    st = info["stats"]
    assert st["points"] == 36 and st["chunks"] == 12 - finished and st["corrupt"] == 0
    assert st["reused"] == 3 * finished and st["computed"] == 36 - 3 * finished
    assert info["fresh_stats"]["computed"] == 36 and info["fresh_stats"]["reused"] == 0
    assert not list(store.glob("*/.*tmp*"))  # no temporaries left behind
    with (
        np.load(tmp_path / "resumed_stored.npz") as a,
        np.load(tmp_path / "resumed_fresh.npz") as b,
    ):
        assert set(a.files) == set(b.files) == {"coord_a", "coord_seed", "y", "z"}
        for k in a.files:
            assert a[k].dtype == b[k].dtype and a[k].tobytes() == b[k].tobytes(), k
