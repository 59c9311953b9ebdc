"""Test entry point: float64 and strict dtype promotion are switched on here, never by
the library."""

import json
import os
from pathlib import Path


# Tests check values, not speed, and most of a cold run is XLA compiling small programs
# that then run for milliseconds: LLVM's optimisation passes are skipped (compilation of
# the figure sweeps 35-60 % faster; the values agree with the optimised build to rounding),
# and XLA:CPU's classic fusion emitters replace the MLIR-based ones (each eager op's small
# program compiles in about half the CPU time: 280 of them 24 -> 13 CPU-s; figure tests
# 15-20 % less CPU, tests/landscape/test_geometry.py 35 -> 26 CPU-s). Set a flag yourself in
# XLA_FLAGS to override it. Must happen before JAX initialises its backend.
TEST_XLA_FLAGS = {
    "xla_backend_optimization_level": "0",
    "xla_cpu_use_fusion_emitters": "false",
}
for _flag, _value in TEST_XLA_FLAGS.items():
    if _flag not in os.environ.get("XLA_FLAGS", ""):
        os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} --{_flag}={_value}".strip()

# LAPACK (numpy's, scipy's and jaxlib's CPU kernels, all OpenBLAS) on one thread: with two
# xdist workers on two cores OpenBLAS's threads only oversubscribe them (a 533 x 533 eigh:
# 2.8 s on its default threads against 0.11 s on one, measured under load). The variable
# reaches the child processes; threadpoolctl covers the libraries this process has loaded.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import jax
import scipy.linalg  # noqa: F401  (loads scipy's OpenBLAS, which jaxlib's LAPACK uses)
from threadpoolctl import threadpool_limits


threadpool_limits(limits=int(os.environ["OPENBLAS_NUM_THREADS"]), user_api="blas")
jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_dtype_promotion", "strict")
# Programs that take a while to compile are shared between the xdist workers and between
# tests through JAX's on-disk cache (git-ignored; about 10 % off a cold run, much more on
# a warm one). Override with JAX_COMPILATION_CACHE_DIR.
if not os.environ.get("JAX_COMPILATION_CACHE_DIR"):
    jax.config.update(
        "jax_compilation_cache_dir",
        str(Path(__file__).resolve().parents[1] / ".pytest_cache" / "jax-compilation-cache"),
    )
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.2)

import jax.random as jr
import pytest


@pytest.fixture
def key():
    """A fresh key per test; split it, never reuse it."""
    return jr.key(20261122)


# Longest first, so that the two xdist workers finish together (no long test left for the
# end): durations from a recorded run in tests/durations.json (regenerate with
# `TOYMODELS_RECORD_DURATIONS=1 make test`); unknown tests count as 1 s. Tests that share a
# module-scoped fixture stay together in their file's order (one set-up per worker), as one
# group with their summed duration; every other test is a group of its own.
DURATIONS = Path(__file__).with_name("durations.json")


def _shares_module_fixture(item) -> bool:
    defs = getattr(getattr(item, "_fixtureinfo", None), "name2fixturedefs", {})
    return any(d.scope in ("module", "class", "package") for ds in defs.values() for d in ds)


def pytest_collection_modifyitems(config, items):
    known = json.loads(DURATIONS.read_text()) if DURATIONS.exists() else {}
    groups: dict[str, list] = {}
    for item in items:
        name = item.nodeid.split("::")[0] if _shares_module_fixture(item) else item.nodeid
        groups.setdefault(name, []).append(item)
    cost = {g: sum(known.get(it.nodeid, 1.0) for it in its) for g, its in groups.items()}
    first = {g: i for i, g in enumerate(groups)}
    ordered = sorted(groups, key=lambda g: (-cost[g], first[g]))
    items[:] = [it for g in ordered for it in groups[g]]


_recorded: dict[str, float] = {}


def _cpu_seconds() -> float:
    import resource  # noqa: PLC0415

    own, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


# CPU seconds per test (this process's threads and its finished children), which a loaded
# machine inflates far less than wall time: `TOYMODELS_RECORD_CPU=/tmp/cpu make test` writes
# one line per test to /tmp/cpu.<pid> (nodeid, CPU s, wall s; "<process>" for the total).
@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    path = os.environ.get("TOYMODELS_RECORD_CPU")
    if not path:
        yield
        return
    import time  # noqa: PLC0415

    c0, w0 = _cpu_seconds(), time.perf_counter()
    yield
    with open(f"{path}.{os.getpid()}", "a") as f:
        f.write(json.dumps([item.nodeid, _cpu_seconds() - c0, time.perf_counter() - w0]) + "\n")


def pytest_runtest_logreport(report):
    if os.environ.get("TOYMODELS_RECORD_DURATIONS"):
        _recorded[report.nodeid] = _recorded.get(report.nodeid, 0.0) + report.duration


def pytest_sessionfinish(session):
    if os.environ.get("TOYMODELS_RECORD_CPU"):
        with open(f"{os.environ['TOYMODELS_RECORD_CPU']}.{os.getpid()}", "a") as f:
            f.write(json.dumps(["<process>", _cpu_seconds(), 0.0]) + "\n")
    # on the controller (xdist's reports arrive there), not on the workers
    if os.environ.get("TOYMODELS_RECORD_DURATIONS") and not hasattr(session.config, "workerinput"):
        rounded = {k: round(v, 2) for k, v in sorted(_recorded.items()) if v >= 0.5}
        DURATIONS.write_text(json.dumps(rounded, indent=0, sort_keys=True) + "\n")


@pytest.fixture
def own_checks():
    """The whole test sees the package's own argument checks only (`tests.helpers.own_checks`,
    the context manager, for part of a test)."""
    from tests.helpers import own_checks as unchecked  # noqa: PLC0415

    with unchecked():
        yield
