"""The same sweep in this process, on a spawn ProcessPoolExecutor, on a Dask LocalCluster
(over TCP on loopback) and as submitit jobs (its local executor: one process per job, as a
SLURM job would be): bit-identical results and stores."""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from toymodels.sweep import process_pool, sweep


AXES = {"lr": np.geomspace(0.01, 1.0, 6), "width": [2, 3]}
KW = dict(seeds=2, static=["width"], key=jr.key(11), chunk_size=4)


def f_train(point, key):
    """A few gradient steps on a random quadratic whose size is the static width."""
    w = point["width"]
    a = jr.normal(key, (w, w))
    h = a @ a.T / w + jnp.eye(w)
    x = jnp.ones(w)
    for _ in range(5):
        x = x - point["lr"] * (h @ x)
    return {"loss": 0.5 * x @ h @ x, "x0": x[0]}


@pytest.fixture(scope="module")
def in_process():
    return sweep(f_train, AXES, **KW)


def _same(a, b):
    assert set(a.data) == set(b.data)
    for k in a.data:
        assert a[k].dtype == b[k].dtype and a[k].tobytes() == b[k].tobytes(), k


def test_process_pool_matches_in_process(in_process, tmp_path):
    with process_pool(1) as ex:  # one spawn worker keeps the test quick on 2 cores
        res = sweep(f_train, AXES, **KW, executor=ex, store=tmp_path)
    assert res.stats.computed == 24 and res.stats.chunks == 2 * 3
    _same(res, in_process)
    again = sweep(f_train, AXES, **KW, store=tmp_path)  # points written from the pool reused
    assert again.stats.reused == 24
    _same(again, in_process)


def test_dask_local_cluster_matches_in_process(in_process, tmp_path):
    distributed = pytest.importorskip(
        "distributed", reason="needs dask.distributed, from the optional extra `sweep`"
    )
    with (
        distributed.LocalCluster(
            n_workers=1,
            threads_per_worker=2,
            processes=False,
            protocol="tcp",
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        res = sweep(f_train, AXES, **KW, executor=client.get_executor(), store=tmp_path)
    assert res.stats.computed == 24
    _same(res, in_process)


def test_submitit_jobs_match_in_process_and_resume(in_process, tmp_path, monkeypatch):
    submitit = pytest.importorskip(
        "submitit", reason="needs submitit, from the optional extra `sweep`"
    )
    # the jobs (new processes) share this process's persistent compilation cache
    monkeypatch.setenv("JAX_COMPILATION_CACHE_DIR", str(jax.config.jax_compilation_cache_dir))
    monkeypatch.setenv("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
    store = tmp_path / "store"
    # two thirds of the grid in this process; the rest as submitit jobs, one per chunk,
    # each writing its chunk into the store itself (as SLURM jobs on a shared file system)
    part = sweep(f_train, {**AXES, "lr": AXES["lr"][:4]}, **KW, store=store)
    assert part.stats.computed == 16
    executor = submitit.AutoExecutor(folder=tmp_path / "jobs", cluster="local")
    executor.update_parameters(timeout_min=5)
    res = sweep(f_train, AXES, **KW, executor=executor, store=store)
    assert (res.stats.computed, res.stats.reused, res.stats.chunks) == (8, 16, 2)
    _same(res, in_process)
    assert len(list((tmp_path / "jobs").glob("*_result.pkl"))) == 2  # two jobs ran
    again = sweep(f_train, AXES, **KW, store=store)  # the jobs' chunks are in the store
    assert (again.stats.computed, again.stats.reused) == (0, 24)
    _same(again, in_process)
