"""Compile time of the model programs named in issue 16 (first call of a fresh process with
an empty compilation cache, XLA compile and trace seconds from `jax.monitoring`):

- `channels_*`: `channels.glu_critical_points` + `stable_channel_interval` (num = 120) for
  the paper's teacher, then for another teacher of two and of one neuron with other grid
  sizes (150, 300): `compile_s` is the first teacher's XLA compilation, `new_teacher_*`
  what the other teachers add (target: 0 compilations); `compile_s` target <= 5 s.
- `wedge_*`: `wedge.subspace_losses` on fig61's landscape (D = 20, n = 5, d = 1..9, four
  trials), first call against a second one with another key, other sizes (d = 2..11) and
  three trials (the same buckets: target 0 compilations); target compile <= 5 s.

`*_cpu_s` is the process CPU time of the whole call (robust to other jobs' load),
`*_compile_s` the wall seconds XLA reported for compiling.

Each case runs twice: with XLA's default backend optimisation (`*_default`) and with
`--xla_backend_optimization_level=0` (`*_o0`, what tests/conftest.py sets at test time).

Measured 2026-12-01 on the shared 2-core CPU (load average 4-9 from other jobs: wall times
up to 2-3x a quiet machine's). Before (commit 1333eae): channels, first teacher, 23-35 s wall
(17 programs, 17-24 s of XLA compilation); a one-neuron teacher compiled the three GLU
kernels again (15-30 s), a grid of 300 points again (5-10 s). Wedge: 50-56 s of compilation
(10 `normal`, 9 `qr`, 9 `pad` programs and the minimiser). After (one program each, with
`linalg._batching.compiler_options`): channels 3.6 s wall / 2.4 s CPU for the whole first
call, 2.1 s XLA (O0: 3.1 s wall, 1.3 s XLA), new teachers and grid sizes 0 compilations;
wedge 5.3 s wall / 3.4 s CPU, 3.6 s XLA (O0: 2.8 s wall, 1.2 s XLA), second call 0.07 s and
0 compilations. Results equal to 2e-13 (channels) and 2e-16 (wedge).

python -m bench models_compile
"""

import json
import os
import subprocess
import sys
import tempfile
import time

import jax
import jax.monitoring
import jax.random as jr
import numpy as np


HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


class _Counter:
    def __init__(self):
        self.compile_s = self.trace_s = 0.0
        self.compiles = 0
        jax.monitoring.register_event_duration_secs_listener(self)

    def __call__(self, name, duration, **kwargs):
        if name.endswith("backend_compile_duration"):
            self.compile_s += duration
            self.compiles += 1
        elif name.endswith("jaxpr_trace_duration"):
            self.trace_s += duration

    def take(self):
        out = (self.compiles, self.compile_s, self.trace_s)
        self.compile_s = self.trace_s = 0.0
        self.compiles = 0
        return out


def _timed(counter, f):
    counter.take()
    t0, c0 = time.perf_counter(), time.process_time()
    f()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    n, comp, trace = counter.take()
    return {"wall_s": wall, "cpu_s": cpu, "compiles": n, "compile_s": comp, "trace_s": trace}


def cases() -> dict:
    """Run in a fresh process (empty cache): the channels and wedge first calls."""
    from toymodels.models import channels as ch, wedge as W

    counter = _Counter()
    out = {}
    paper = ch.erf_toy()
    others = [ch.erf_toy((4.0, 4.0), (2.0, -2.0)), ch.erf_toy((3.0,), (1.0,), (1.5,))]

    def crit(toy, num):
        ch.glu_critical_points(toy, lo=0.3, hi=6.0, num=num)
        ch.stable_channel_interval(toy, lo=0.3, hi=6.0, num=num)

    for k, v in _timed(counter, lambda: crit(paper, 120)).items():
        out[f"channels_{k}"] = v
    r = _timed(counter, lambda: [crit(t, n) for t, n in zip(others, (150, 300))])
    out["channels_new_teacher_compiles"] = r["compiles"]
    out["channels_new_teacher_wall_s"] = r["wall_s"]

    land = W.wedge_landscape(key=jr.key(61), dim=20, short_dims=(5,), epsilon=0.5)
    dims = list(range(1, 10))
    first = _timed(
        counter, lambda: np.asarray(W.subspace_losses(land, dims, key=jr.key(1), num_trials=4))
    )
    for k, v in first.items():
        out[f"wedge_{k}"] = v
    again = _timed(
        counter,
        lambda: np.asarray(
            W.subspace_losses(land, list(range(2, 12)), key=jr.key(2), num_trials=3)
        ),
    )
    out["wedge_second_wall_s"] = again["wall_s"]
    out["wedge_second_compiles"] = again["compiles"]
    return out


def main() -> dict:
    out = {}
    for mode, flags in (("default", ""), ("o0", "--xla_backend_optimization_level=0")):
        with tempfile.TemporaryDirectory() as cache:
            env = dict(os.environ, JAX_COMPILATION_CACHE_DIR=cache, PYTHONPATH=ROOT)
            env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " " + flags).strip()
            res = subprocess.run(
                [sys.executable, "-m", "bench.bench_models_compile", "--cases"],
                capture_output=True, text=True, env=env, cwd=ROOT, check=True,
            )  # fmt: skip
            r = json.loads(res.stdout.strip().splitlines()[-1])
        out.update({f"{k}_{mode}": v for k, v in r.items()})
    for mode in ("default", "o0"):
        out[f"channels_compile_within_5s_{mode}"] = out[f"channels_compile_s_{mode}"] <= 5.0
        out[f"wedge_compile_within_5s_{mode}"] = out[f"wedge_compile_s_{mode}"] <= 5.0
    return out


if __name__ == "__main__":
    jax.config.update("jax_enable_x64", True)
    if "--cases" in sys.argv:
        print(json.dumps(cases()))
    else:
        for k, v in main().items():
            print(f"{k}: {v}")
