"""toymodels.sweep: grid order and keys, chunking, the store (reuse, corruption, changed
specifications), results as xarray or dicts, progress, and bad input."""

import io
import json
import sys

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from toymodels.sweep import SimpleProgress, sweep


AXES = {"a": np.linspace(-1.0, 1.0, 5), "b": [1, 2]}


def f_basic(point, key):
    """Random numbers and a static-shaped vector; 'b' is static (a width)."""
    k1, k2 = jr.split(key)
    y = point["a"] * jr.normal(k1) + jnp.sin(point["a"])
    v = jnp.cumsum(jr.uniform(k2, (3,))) * point["a"] + point["b"]
    w = jnp.sum(jnp.ones(point["b"] * 3)) * point["a"]  # shape depends on the static value
    return {"y": y, "v": v, "w": w}


@pytest.fixture(scope="module")
def reference():
    """Direct evaluation, point by point, of f_basic with key fold_in(base, flat index)."""
    base = jr.key(3)
    a, b = AXES["a"], AXES["b"]
    out = {"y": np.zeros((5, 2, 3)), "v": np.zeros((5, 2, 3, 3)), "w": np.zeros((5, 2, 3))}
    one = {
        bj: jax.jit(lambda a_, s_, k_, bj=bj: f_basic({"a": a_, "b": bj, "seed": s_}, k_))
        for bj in b
    }
    for i, j, s in np.ndindex(5, 2, 3):
        flat = int(np.ravel_multi_index((i, j, s), (5, 2, 3)))
        r = one[b[j]](jnp.asarray(a[i]), jnp.asarray(s), jr.fold_in(base, flat))
        for k in out:
            out[k][i, j, s] = np.asarray(r[k])
    return out


@pytest.fixture(scope="module")
def basic():
    return sweep(f_basic, AXES, seeds=3, static=["b"], key=jr.key(3), chunk_size=4)


def test_grid_order_keys_and_values(basic, reference):
    assert basic.dims == ("a", "b", "seed")
    np.testing.assert_array_equal(basic.coords["a"], AXES["a"])
    np.testing.assert_array_equal(basic.coords["seed"], [0, 1, 2])
    assert basic["y"].shape == (5, 2, 3) and basic["v"].shape == (5, 2, 3, 3)
    for k in reference:
        np.testing.assert_allclose(basic[k], reference[k], rtol=1e-13, atol=1e-13)
    # different seeds give different numbers (keys are not reused)
    y = basic["y"][AXES["a"] != 0]
    assert len(np.unique(y)) == y.size
    np.testing.assert_allclose(
        basic["w"],
        np.broadcast_to(AXES["a"][:, None, None] * 3 * np.array([1, 2])[:, None], (5, 2, 3)),
    )
    assert basic.stats.chunks == 2 * 4 and basic.stats.computed == 8  # 2 groups of 15 by 4


def test_results_do_not_depend_on_chunking(basic):
    other = sweep(f_basic, AXES, seeds=3, static=["b"], key=jr.key(3), chunk_size=15)
    assert other.stats.chunks == 2
    for k in basic.data:
        np.testing.assert_array_equal(other[k], basic[k])


def test_store_reuses_and_is_bit_identical(tmp_path, basic):
    kw = dict(seeds=3, static=["b"], key=jr.key(3), chunk_size=4, store=tmp_path)
    first = sweep(f_basic, AXES, **kw)
    assert (first.stats.computed, first.stats.reused) == (8, 0)
    folder = first.store
    assert folder.parent == tmp_path and len(list(folder.glob("chunk-*.npz"))) == 8
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["spec_hash"] == first.spec_hash and manifest["chunk_size"] == 4
    assert [a["name"] for a in manifest["spec"]["grid"]["axes"]] == ["a", "b", "seed"]
    again = sweep(f_basic, AXES, **{**kw, "chunk_size": None})  # resumes with the stored size
    assert (again.stats.computed, again.stats.reused, again.stats.corrupt) == (0, 8, 0)
    for k in basic.data:
        np.testing.assert_array_equal(again[k], basic[k])
    with pytest.raises(ValueError, match="^chunk_size: the store"):
        sweep(f_basic, AXES, **{**kw, "chunk_size": 5})
    # no pickle anywhere: every chunk loads with allow_pickle=False
    for p in folder.glob("chunk-*.npz"):
        with np.load(p, allow_pickle=False) as z:
            assert "__meta__" in z.files


def test_damaged_chunks_are_detected_and_recomputed(tmp_path, basic):
    kw = dict(seeds=3, static=["b"], key=jr.key(3), chunk_size=4, store=tmp_path)
    folder = sweep(f_basic, AXES, **kw).store
    c1, c5, c6 = (folder / f"chunk-00000{i}.npz" for i in (1, 5, 6))
    raw = c1.read_bytes()
    c1.write_bytes(raw[: len(raw) // 2])  # truncated
    # altered data with the header intact: flip one byte inside the first array's data
    raw5 = bytearray(c5.read_bytes())
    with np.load(c5) as z:
        first = z["v"].tobytes()
    pos = bytes(raw5).find(first[:16])
    assert pos > 0
    raw5[pos + 3] ^= 0xFF
    c5.write_bytes(bytes(raw5))
    c6.write_bytes(b"")  # empty file
    again = sweep(f_basic, AXES, **kw)
    assert (again.stats.corrupt, again.stats.computed, again.stats.reused) == (3, 3, 5)
    for k in basic.data:
        np.testing.assert_array_equal(again[k], basic[k])
    assert sweep(f_basic, AXES, **kw).stats.reused == 8  # repaired on disk
    # a chunk copied from another position is rejected by its header
    (folder / "chunk-000002.npz").write_bytes((folder / "chunk-000003.npz").read_bytes())
    assert sweep(f_basic, AXES, **kw).stats.corrupt == 1


def test_changed_specification_never_mixes(tmp_path, basic):
    kw = dict(seeds=3, static=["b"], key=jr.key(3), chunk_size=4, store=tmp_path)
    base = sweep(f_basic, AXES, **kw)
    changed_axes = {"a": np.linspace(-1.0, 1.0, 5) + np.array([0, 0, 0, 0, 1e-9]), "b": [1, 2]}
    variants = [
        sweep(f_basic, changed_axes, **kw),
        sweep(f_basic, AXES, **{**kw, "seeds": [0, 1, 5]}),
        sweep(f_basic, AXES, **{**kw, "key": jr.key(4)}),
        sweep(f_basic, AXES, **{**kw, "label": "v2"}),
    ]
    for v in variants:
        assert v.stats.reused == 0 and v.store != base.store
    assert len({v.store for v in variants}) == 4
    # the changed grid's result differs only where the grid changed... and keys differ too
    np.testing.assert_array_equal(variants[0]["w"][:4], base["w"][:4])
    assert not np.array_equal(variants[2]["y"], base["y"])
    # a folder whose manifest describes another sweep is refused
    m = base.store / "manifest.json"
    body = json.loads(m.read_text())
    body["spec"]["label"] = "tampered"
    m.write_text(json.dumps(body))
    with pytest.raises(ValueError, match="^store: .* holds a different sweep"):
        sweep(f_basic, AXES, **kw)


def test_xarray_and_plain_dicts(basic, monkeypatch):
    ds = basic.to_xarray()
    assert tuple(ds["v"].dims) == ("a", "b", "seed", "v_dim_0")
    np.testing.assert_array_equal(ds["y"].sel(b=2, seed=1).values, basic["y"][:, 1, 1])
    np.testing.assert_array_equal(ds.coords["a"].values, AXES["a"])
    monkeypatch.setitem(sys.modules, "xarray", None)  # as if not installed
    d = basic.dataset()
    assert isinstance(d, dict) and set(d) == {"coord_a", "coord_b", "coord_seed", "y", "v", "w"}
    with pytest.raises(ImportError, match="^to_xarray: needs xarray"):
        basic.to_xarray()


def test_progress_with_eta(monkeypatch, capsys):
    stream = io.StringIO()
    bar = SimpleProgress(4, initial=1, stream=stream, min_interval=0.0)
    assert "ETA ?" in stream.getvalue()
    bar.update()
    assert "2/4 chunks" in stream.getvalue() and "ETA ?" not in stream.getvalue().split("\r")[-1]
    # without tqdm the sweep falls back to the simple bar
    monkeypatch.setitem(sys.modules, "tqdm", None)
    sweep(f_basic, AXES, seeds=3, static=["b"], key=jr.key(3), chunk_size=4, progress=True)
    err = capsys.readouterr().err
    assert "8/8 chunks" in err and "ETA" in err


def f_big(point, key):
    m = jr.normal(key, (200, 200)) * point["a"]
    return {"s": jnp.sum(jnp.tanh(m @ m))}


def test_auto_chunk_size_respects_memory_limit():
    axes = {"a": np.linspace(0.1, 1.0, 8)}
    small = sweep(f_big, axes, key=jr.key(0), memory_limit=2**20)
    big = sweep(f_big, axes, key=jr.key(0), memory_limit=2**34)
    # one point holds at least two 200x200 float64 arrays (640 kB): at most 1 per MiB
    assert small.stats.chunk_size == 1
    assert big.stats.chunk_size == 8
    np.testing.assert_allclose(small["s"], big["s"], rtol=1e-12)


# ------------------------------------------------------------------------- bad input
def f_keys_depend_on_width(point, key):
    out = {"y": jnp.ones(())}
    if point["b"] > 1:
        out["extra"] = jnp.zeros(())
    return out


def f_shape_depends_on_width(point, key):
    return {"y": jnp.ones(point["b"])}


def f_not_a_dict(point, key):
    return point["a"] * 2


def test_bad_input_is_refused_before_any_work(tmp_path):
    key = jr.key(0)
    store = tmp_path / "s"
    cases = [
        ({"a": []}, {}, ValueError, "^axes: axis 'a' is empty"),
        ([("a", [1.0]), ("a", [2.0])], {}, ValueError, "^axes: duplicate axis name 'a'"),
        ({"a": [1.0, 1.0]}, {}, ValueError, "^axes: axis 'a' has duplicate values"),
        ({"a": [[1.0, 2.0]]}, {}, ValueError, "^axes: axis 'a' must be a 1-D"),
        ({"a": [1.0, np.nan]}, {}, ValueError, "^axes: axis 'a' has non-finite"),
        ({"seed": [1.0]}, {}, ValueError, "^axes: the name 'seed' is reserved"),
        ({"a": ["x", "y"]}, {}, TypeError, "^axes: axis 'a' must hold numbers"),
        ({"a": [1.0]}, {"static": ["c"]}, ValueError, "^static: 'c' is not an axis"),
        ({"a": [1.0]}, {"seeds": 0}, ValueError, "^seeds: need at least one"),
        ({"a": [1.0]}, {"seeds": [1, 1]}, ValueError, "^seeds: duplicate"),
        ({"a": [1.0]}, {"chunk_size": 0}, ValueError, "^chunk_size: expected a positive"),
        ({"a": [1.0]}, {"key": 0}, TypeError, "^key: expected a PRNG key"),
        ({"a": [1.0]}, {"executor": object()}, TypeError, "^executor: expected"),
        ("a", {}, TypeError, "^axes: expected a mapping"),
    ]
    for axes, kw, exc, msg in cases:
        with pytest.raises(exc, match=msg):
            sweep(f_basic, axes, **{"key": key, "store": store, **kw})
    fn_cases = [
        (
            f_keys_depend_on_width,
            ValueError,
            r"^fn: returns keys \['y'\] at b=1 but \['extra', 'y'\] at b=2",
        ),
        (f_shape_depends_on_width, ValueError, "^fn: output 'y' has shape/dtype"),
        (f_not_a_dict, TypeError, "^fn: must return a dict"),
        (42, TypeError, "^fn: expected a function"),
    ]
    for fn, exc, msg in fn_cases:
        with pytest.raises(exc, match=msg):
            sweep(fn, {"a": [1.0, 2.0], "b": [1, 2]}, static=["b"], key=key, store=store)
    assert not store.exists()  # nothing was started or written


def test_fork_process_pool_is_refused():
    import concurrent.futures as cf
    import multiprocessing

    with cf.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork")) as ex:
        with pytest.raises(ValueError, match="^executor: .*'fork'"):
            sweep(f_basic, AXES, static=["b"], key=jr.key(0), executor=ex)


def test_load_reads_a_finished_store_without_the_function(tmp_path, basic):
    from toymodels.sweep import load

    res = sweep(f_basic, AXES, seeds=3, static=["b"], key=jr.key(3), chunk_size=4, store=tmp_path)
    back = load(res.store)
    assert back.spec_hash == res.spec_hash and back.dims == res.dims
    for k in basic.data:
        np.testing.assert_array_equal(back[k], basic[k])
    for k in res.coords:
        np.testing.assert_array_equal(back.coords[k], res.coords[k])
    (res.store / "chunk-000003.npz").unlink()
    with pytest.raises(ValueError, match="^path: chunk 3 of 8 is missing"):
        load(res.store)
    with pytest.raises(ValueError, match="^path: .* no readable sweep manifest"):
        load(tmp_path)
