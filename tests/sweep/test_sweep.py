"""toymodels.sweep: grid order and keys, chunking, the store (reuse, corruption, changed
specifications), results as xarray or dicts, progress, and bad input. Seeds as draws and
growing grids: tests/sweep/test_keys.py and test_grow.py."""

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
    """Direct evaluation, point by point, of f_basic with key fold_in(base, seed)."""
    base = jr.key(3)
    a, b = AXES["a"], AXES["b"]
    out = {"y": np.zeros((5, 2, 3)), "v": np.zeros((5, 2, 3, 3)), "w": np.zeros((5, 2, 3))}
    one = {
        bj: jax.jit(lambda a_, s_, k_, bj=bj: f_basic({"a": a_, "b": bj, "seed": s_}, k_))
        for bj in b
    }
    for i, j, s in np.ndindex(5, 2, 3):
        r = one[b[j]](jnp.asarray(a[i]), jnp.asarray(s), jr.fold_in(base, s))
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
    # different seeds give different numbers (keys are not reused across seeds); the same
    # seed gives the same draw at every other coordinate (y does not depend on b)
    y = basic["y"][AXES["a"] != 0]
    assert len(np.unique(y[:, 0])) == y[:, 0].size
    np.testing.assert_array_equal(y[:, 0], y[:, 1])
    np.testing.assert_allclose(
        basic["w"],
        np.broadcast_to(AXES["a"][:, None, None] * 3 * np.array([1, 2])[:, None], (5, 2, 3)),
    )
    st = basic.stats  # 2 groups of 15 points, by 4
    assert (st.points, st.computed, st.reused, st.chunks) == (30, 30, 0, 8)


def test_results_do_not_depend_on_chunking(basic):
    # true here to the bit (elementwise maths); in general a point is bit-identical across
    # runs with one chunk_size, and may differ in the last bits for another batch size
    other = sweep(f_basic, AXES, seeds=3, static=["b"], key=jr.key(3), chunk_size=15)
    assert other.stats.chunks == 2
    for k in basic.data:
        np.testing.assert_array_equal(other[k], basic[k])


def test_store_reuses_and_is_bit_identical(tmp_path, basic):
    kw = dict(seeds=3, static=["b"], key=jr.key(3), chunk_size=4, store=tmp_path)
    first = sweep(f_basic, AXES, **kw)
    assert (first.stats.computed, first.stats.reused) == (30, 0)
    folder = first.store
    assert folder.parent == tmp_path and len(list(folder.glob("points-*.npz"))) == 8
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["spec_hash"] == first.spec_hash and manifest["chunk_size"] == 4
    assert [a["name"] for a in manifest["spec"]["axes"]] == ["a", "b", "seed"]
    assert "values" not in json.dumps(manifest)  # keyed per point: no grid values in it
    again = sweep(f_basic, AXES, **{**kw, "chunk_size": None})  # the stored size, unused
    assert (again.stats.computed, again.stats.reused, again.stats.corrupt) == (0, 30, 0)
    assert again.stats.chunks == 0 and again.stats.chunk_size == 4
    for k in basic.data:
        np.testing.assert_array_equal(again[k], basic[k])
    # points, not chunks, are the unit: another chunk size reuses everything
    assert sweep(f_basic, AXES, **{**kw, "chunk_size": 5}).stats.reused == 30
    # each file holds its points' coordinates; no pickle: every file loads with
    # allow_pickle=False
    seen = set()
    for p in folder.glob("points-*.npz"):
        with np.load(p, allow_pickle=False) as z:
            assert "__meta__" in z.files
            pts = zip(z["__axis__a"].tolist(), z["__axis__b"].tolist(), z["__axis__seed"].tolist())
            for pt, y in zip(pts, z["y"]):
                i, j = list(AXES["a"]).index(pt[0]), AXES["b"].index(pt[1])
                assert y == basic["y"][i, j, pt[2]]
                seen.add(pt)
    assert len(seen) == 30


def _sizes(files):
    out = []
    for p in files:
        with np.load(p, allow_pickle=False) as z:
            out.append(len(z["y"]))
    return out


def test_damaged_files_are_detected_and_recomputed(tmp_path, basic):
    kw = dict(seeds=3, static=["b"], key=jr.key(3), chunk_size=4, store=tmp_path)
    folder = sweep(f_basic, AXES, **kw).store
    files = sorted(folder.glob("points-*.npz"))
    c1, c5, c6 = files[1], files[5], files[6]
    damaged_points = sum(_sizes([c1, c5, c6]))
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
    st = again.stats
    assert (st.corrupt, st.computed, st.reused) == (3, damaged_points, 30 - damaged_points)
    for k in basic.data:
        np.testing.assert_array_equal(again[k], basic[k])
    assert len(list(folder.glob("*.corrupt"))) == 3  # set aside, not deleted, not re-read
    assert sweep(f_basic, AXES, **kw).stats.reused == 30  # repaired on disk
    # a file copied under another file's name is rejected by its header
    files = sorted(folder.glob("points-*.npz"))
    lost = _sizes([files[2]])[0]
    files[2].write_bytes(files[3].read_bytes())
    st = sweep(f_basic, AXES, **kw).stats
    assert (st.corrupt, st.computed, st.reused) == (1, lost, 30 - lost)


def test_changed_specification_never_mixes(tmp_path, basic):
    kw = dict(seeds=3, static=["b"], key=jr.key(3), chunk_size=4, store=tmp_path)
    base = sweep(f_basic, AXES, **kw)
    # other values on the axes share the store; only the new points are computed
    changed_axes = {"a": np.linspace(-1.0, 1.0, 5) + np.array([0, 0, 0, 0, 1e-9]), "b": [1, 2]}
    moved = sweep(f_basic, changed_axes, **kw)
    assert moved.store == base.store and (moved.stats.computed, moved.stats.reused) == (6, 24)
    for k in basic.data:
        np.testing.assert_array_equal(moved[k][:4], base[k][:4])
    reseeded = sweep(f_basic, AXES, **{**kw, "seeds": [0, 1, 5]})
    assert (reseeded.stats.computed, reseeded.stats.reused) == (10, 20)
    # anything else a point's result depends on gives a new store
    variants = [
        sweep(f_basic, AXES, **{**kw, "key": jr.key(4)}),
        sweep(f_basic, AXES, **{**kw, "label": "v2"}),
        sweep(f_basic, {"b": [1, 2], "a": AXES["a"]}, **kw),  # the axis order (point dict)
    ]
    for v in variants:
        assert v.stats.reused == 0 and v.store != base.store
    assert len({v.store for v in variants}) == 3
    assert not np.array_equal(variants[0]["y"], base["y"])
    # a folder whose manifest describes another sweep is refused
    m = base.store / "manifest.json"
    body = json.loads(m.read_text())
    body["spec"]["label"] = "tampered"
    m.write_text(json.dumps(body))
    with pytest.raises(ValueError, match="^store: .* holds a different sweep"):
        sweep(f_basic, AXES, **kw)


def f_basic_global(point, key):
    return {"y": jnp.zeros(OUTPUT_WIDTH) + point["a"]}


OUTPUT_WIDTH = 2


def test_a_silent_change_of_the_outputs_is_refused(tmp_path, monkeypatch):
    kw = dict(key=jr.key(0), chunk_size=4, store=tmp_path)
    sweep(f_basic_global, {"a": [1.0, 2.0]}, **kw)
    monkeypatch.setattr(sys.modules[__name__], "OUTPUT_WIDTH", 3)  # same source, other shape
    with pytest.raises(ValueError, match="^store: .* holds outputs .* pass label="):
        sweep(f_basic_global, {"a": [1.0, 2.0]}, **kw)
    assert sweep(f_basic_global, {"a": [1.0, 2.0]}, **kw, label="width 3").stats.computed == 2


def test_xarray_and_plain_dicts(basic, monkeypatch):
    pytest.importorskip("xarray", reason="needs xarray, from the optional extra `sweep`")
    ds = basic.to_xarray()
    assert tuple(ds["v"].dims) == ("a", "b", "seed", "v_dim_0")
    np.testing.assert_array_equal(ds["y"].sel(b=2, seed=1).values, basic["y"][:, 1, 1])
    np.testing.assert_array_equal(ds.coords["a"].values, AXES["a"])
    assert basic.dataset().equals(ds)


def test_missing_xarray_is_named(basic, monkeypatch):
    monkeypatch.setitem(sys.modules, "xarray", None)  # as if not installed
    with pytest.warns(UserWarning, match="^dataset: xarray .optional extra `sweep`"):
        d = basic.dataset()
    assert isinstance(d, dict) and set(d) == {"coord_a", "coord_b", "coord_seed", "y", "v", "w"}
    with pytest.raises(ImportError, match="^to_xarray: needs xarray, from the optional extra"):
        basic.to_xarray()


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_with_eta(monkeypatch, capsys):
    term = _Terminal()
    bar = SimpleProgress(4, initial=1, stream=term, min_interval=0.0)
    assert "ETA ?" in term.getvalue()
    bar.update()
    assert "2/4 points" in term.getvalue() and "ETA ?" not in term.getvalue().split("\r")[-1]
    bar.close()
    assert term.getvalue().count("\r") == 2 and term.getvalue().endswith("\n")
    # not a terminal (a SLURM log, a file): whole lines, no carriage returns
    log = io.StringIO()
    bar = SimpleProgress(5, stream=log, min_interval=0.0)
    for _ in range(5):
        bar.update()
    bar.close()
    lines = log.getvalue().split("\n")
    assert "\r" not in log.getvalue() and lines[-1] == ""
    assert [ln.split(":")[1].split(",")[0] for ln in lines[:-1]] == [
        f" {i}/5 points" for i in range(6)
    ]
    throttled = io.StringIO()  # at most one line per min_interval, and always the last
    bar = SimpleProgress(50, stream=throttled, min_interval=3600.0)
    for _ in range(50):
        bar.update()
    bar.close()
    assert throttled.getvalue().count("\n") == 2 and "50/50 points" in throttled.getvalue()
    # the sweep's own progress on a non-terminal stderr (tqdm or not): lines only
    for block_tqdm in (True, False):
        if block_tqdm:
            monkeypatch.setitem(sys.modules, "tqdm", None)
        sweep(f_basic, AXES, seeds=3, static=["b"], key=jr.key(3), chunk_size=4, progress=True)
        err = capsys.readouterr().err
        assert "30/30 points" in err and "ETA" in err and "\r" not in err
        monkeypatch.undo()


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


@pytest.mark.usefixtures("own_checks")
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
        ({"a": [1.0]}, {"seeds": [0, 2**32]}, ValueError, r"^seeds: must be in \[0, 2\*\*32\)"),
        ({"a": [1.0]}, {"seeds": 2**32 + 1}, ValueError, "^seeds: at most 4294967296"),
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


def test_load_reads_a_store_without_the_function(tmp_path, basic):
    from toymodels.sweep import load

    kw = dict(static=["b"], key=jr.key(3), chunk_size=4, store=tmp_path)
    res = sweep(f_basic, AXES, seeds=3, **kw)
    back = load(res.store)
    assert back.spec_hash == res.spec_hash and back.dims == res.dims
    for k in basic.data:
        np.testing.assert_array_equal(back[k], basic[k])
    for k in res.coords:
        np.testing.assert_array_equal(back.coords[k], res.coords[k])
    sub = load(res.store, {"a": AXES["a"][[4, 1]], "b": [2]}, seeds=[2, 0])  # a sub-grid
    np.testing.assert_array_equal(sub["v"], basic["v"][[4, 1]][:, [1]][:, :, [2, 0]])
    sweep(f_basic, {"a": [2.0], "b": [1]}, seeds=[0], **kw)  # the store is now not a grid
    with pytest.raises(ValueError, match="^path: 5 of 36 points .* pass axes="):
        load(res.store)
    np.testing.assert_array_equal(load(res.store, AXES)["y"], basic["y"])
    files = sorted(res.store.glob("points-*.npz"))
    files[[n == 4 for n in _sizes(files)].index(True)].unlink()
    with pytest.raises(ValueError, match="^path: 4 of 30 points of the grid are missing"):
        load(res.store, AXES)
    with pytest.raises(ValueError, match="^axes: the grid's axes"):
        load(res.store, {"a": [1.0]})
    with pytest.raises(ValueError, match="^path: .* no readable sweep manifest"):
        load(tmp_path)
