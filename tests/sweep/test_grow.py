"""The store is keyed per point: extending, refining or re-seeding a grid computes only the
new points and reads every other one back, bit for bit; anything else a result depends on
(the function, the key, the layout of the axes) starts a new store."""

import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from toymodels.sweep import sweep


LRS = [0.1, 0.2, 0.3, 0.4, 0.5]
KW = dict(key=jr.key(5), chunk_size=4)


def f_gd(point, key):
    """Gradient steps on a random quadratic from a random start (both from the key)."""
    z = jr.normal(key, (2, 3))
    h, x = 1.0 + z[0] ** 2, z[1]
    for _ in range(3):
        x = x - point["lr"] * h * x
    return {"loss": 0.5 * jnp.sum(h * x**2), "x": x}


def f_gd_changed(point, key):
    z = jr.normal(key, (2, 3))
    h, x = 1.0 + z[0] ** 2, z[1]
    for _ in range(4):  # one more step: another function
        x = x - point["lr"] * h * x
    return {"loss": 0.5 * jnp.sum(h * x**2), "x": x}


def f_cast(point, key):
    return {"y": jnp.asarray(point["lr"], jnp.float64) * 2.0}


@pytest.fixture(scope="module")
def fresh():
    """The largest grid below, without a store."""
    return sweep(f_gd, {"lr": sorted([*LRS, 0.6, 0.15, 0.25])}, seeds=6, **KW)


def _same_as_fresh(res, fresh):
    for i, lr in enumerate(res.coords["lr"]):
        j = list(fresh.coords["lr"]).index(lr)
        for s, seed in enumerate(res.coords["seed"]):
            for k in res.data:
                assert res[k][i, s].tobytes() == fresh[k][j, seed].tobytes(), (k, lr, seed)


def test_extending_a_grid_computes_only_the_new_points(tmp_path, fresh):
    first = sweep(f_gd, {"lr": LRS}, seeds=4, store=tmp_path, **KW)
    assert (first.stats.computed, first.stats.reused) == (20, 0)
    extended = sweep(f_gd, {"lr": [*LRS, 0.6]}, seeds=4, store=tmp_path, **KW)
    assert (extended.stats.computed, extended.stats.reused) == (4, 20)
    assert extended.stats.chunks == 1 and extended.store == first.store
    for k in first.data:
        assert extended[k][:5].tobytes() == first[k].tobytes()
    _same_as_fresh(extended, fresh)
    # refined (values in between), more seeds, a sub-grid in another order
    refined = sweep(f_gd, {"lr": [0.1, 0.15, 0.2, 0.25, 0.3]}, seeds=4, store=tmp_path, **KW)
    assert (refined.stats.computed, refined.stats.reused) == (8, 12)
    reseeded = sweep(f_gd, {"lr": [*LRS, 0.6]}, seeds=6, store=tmp_path, **KW)
    assert (reseeded.stats.computed, reseeded.stats.reused) == (12, 24)
    sub = sweep(f_gd, {"lr": [0.6, 0.15, 0.4]}, seeds=[3, 0, 2], store=tmp_path, **KW)
    assert (sub.stats.computed, sub.stats.reused, sub.stats.chunks) == (0, 9, 0)
    for res in (refined, reseeded, sub):
        _same_as_fresh(res, fresh)


def test_a_changed_function_goes_to_a_new_store(tmp_path, fresh):
    base = sweep(f_gd, {"lr": LRS}, seeds=2, store=tmp_path, **KW)
    changed = sweep(f_gd_changed, {"lr": LRS}, seeds=2, store=tmp_path, **KW)
    assert changed.stats.reused == 0 and changed.store != base.store
    assert not np.array_equal(changed["x"], base["x"])
    # the layout of the axes: a static flag, the values' type
    kw = dict(seeds=2, store=tmp_path, **KW)
    plain = sweep(f_cast, {"lr": [0.1]}, **kw)
    as_static = sweep(f_cast, {"lr": [0.1]}, static=["lr"], **kw)
    as_f32 = sweep(f_cast, {"lr": np.asarray([0.1], np.float32)}, **kw)
    assert len({plain.store, as_static.store, as_f32.store, base.store}) == 4
    assert as_static.stats.reused == as_f32.stats.reused == 0
    assert sweep(f_cast, {"lr": [0.1]}, **kw).stats.reused == 2
    # nothing was mixed into the first store
    again = sweep(f_gd, {"lr": LRS}, seeds=2, store=tmp_path, **KW)
    assert again.stats.computed == 0 and again["x"].tobytes() == base["x"].tobytes()
    _same_as_fresh(again, fresh)
