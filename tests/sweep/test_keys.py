"""The seed is a grid axis whose value is the random draw: a point's key is
fold_in(key, seed), the same in any grid and shared by every other coordinate; a traced axis
value that reaches code needing a number names the axis to make static."""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

import toymodels.models.ghost as ghost
from toymodels.sweep import sweep


KEY = jr.key(42)
KW = dict(key=KEY, chunk_size=2)  # one compiled shape for every grid below


def f_draw(point, key):
    """A training start drawn from the key, and a step that depends on the learning rate."""
    x0 = jr.normal(key, (4,))
    return {"x0": x0, "x1": x0 - point["lr"] * x0**3}


def f_independent(point, key):
    """The docstring's recipe: fold the learning rate's bits in for a draw per point."""
    lr_bits = jax.lax.bitcast_convert_type(jnp.float32(point["lr"]), jnp.uint32)
    return {"x0": jr.normal(jr.fold_in(key, lr_bits), (4,))}


def _at(res, lr, seed):
    i = list(res.coords["lr"]).index(lr)
    s = list(res.coords["seed"]).index(seed)
    return {k: v[i, s] for k, v in res.data.items()}


def test_a_seed_is_the_same_draw_in_any_grid():
    two = sweep(f_draw, {"lr": [0.5, 1.0]}, seeds=2, **KW)
    three = sweep(f_draw, {"lr": [0.5, 1.0]}, seeds=3, **KW)
    more_lr = sweep(f_draw, {"lr": [0.25, 0.5, 1.0]}, seeds=2, **KW)
    picked = sweep(f_draw, {"lr": [1.0, 2.0]}, seeds=[7, 0], **KW)
    ref = _at(two, 1.0, 0)
    for res in (three, more_lr, picked):
        for k in ref:
            assert _at(res, 1.0, 0)[k].tobytes() == ref[k].tobytes(), k
    # every learning rate with seed 0 starts from that draw (common random numbers) ...
    assert _at(two, 0.5, 0)["x0"].tobytes() == ref["x0"].tobytes()
    assert _at(more_lr, 0.25, 0)["x0"].tobytes() == ref["x0"].tobytes()
    # ... and takes its own step from it
    assert not np.array_equal(_at(two, 0.5, 0)["x1"], ref["x1"])
    # the draw is fold_in(key, seed), evaluated here without the sweep
    for seed in (0, 1, 2, 7):
        direct = np.asarray(jr.normal(jr.fold_in(KEY, seed), (4,)))
        res = picked if seed == 7 else three
        np.testing.assert_allclose(_at(res, 1.0, seed)["x0"], direct, rtol=1e-15, atol=0)
    # distinct seeds are distinct draws
    assert len({three["x0"][0, s].tobytes() for s in range(3)}) == 3


def test_independent_draws_per_point_by_folding_in_coordinates():
    small = sweep(f_independent, {"lr": [0.5, 1.0]}, seeds=2, **KW)
    large = sweep(f_independent, {"lr": [0.25, 0.5, 1.0]}, seeds=3, **KW)
    draws = {small["x0"][i, s].tobytes() for i in range(2) for s in range(2)}
    assert len(draws) == 4  # every (lr, seed) has its own draw
    for lr in (0.5, 1.0):  # and it is still the same in any grid
        for s in (0, 1):
            assert _at(small, lr, s)["x0"].tobytes() == _at(large, lr, s)["x0"].tobytes()
    bits = np.float32(1.0).view(np.uint32)
    direct = jr.normal(jr.fold_in(jr.fold_in(KEY, 1), bits), (4,))
    np.testing.assert_allclose(_at(small, 1.0, 1)["x0"], direct, rtol=1e-15, atol=0)


# ------------------------------------------------------------------ concrete values
def f_ghost(point, key):
    """The issue's case: a model constructor that needs a concrete delay T."""
    problem = ghost.canonical_ghost(point["T"])
    return {"loss": problem.loss(problem.init(key))}


def f_branch(point, key):
    if point["x"] > 0:  # a Python `if` on a grid value
        return {"y": point["x"] * jr.normal(key)}
    return {"y": -point["x"] * jr.normal(key)}


def f_two(point, key):
    return {"y": jnp.zeros(()) + float(point["x"]) * int(point["n"])}


def f_repeat(point, key):
    return {"y": jnp.sum(jr.normal(key, (1 + int(point["seed"]),)))}


def f_not_an_axis(point, key):
    return {"y": jnp.zeros(()) + float(jr.normal(key))}  # concrete only with a concrete key


def test_a_traced_value_needing_a_number_names_the_axis_to_make_static():
    key = jr.key(0)
    cases = [
        (f_ghost, {"T": [50.0, 100.0]}, (), r"the axis 'T'.*ConcretizationTypeError", ["T"]),
        (f_branch, {"x": [-1.0, 1.0]}, (), r"the axis 'x'.*TracerBoolConversionError", ["x"]),
        (
            f_two,
            {"x": [1.0, 2.0], "n": [1, 2], "w": [3, 4]},
            ("w",),
            r"the axes 'x' and 'n'",
            ["n", "w", "x"],
        ),
        (f_repeat, {"a": [1.0]}, (), r"the axis 'seed'", ["seed"]),
    ]
    for fn, axes, static, msg, fix in cases:
        with pytest.raises(TypeError, match="^static: fn needs a concrete value of " + msg) as e:
            sweep(fn, axes, seeds=2, static=static, key=key)
        assert f"pass static={fix!r}" in str(e.value)
        assert isinstance(e.value.__cause__, jax.errors.JAXTypeError)
    # the suggested fix works; a static seed is the same draw fold_in(key, seed)
    fixed = sweep(f_branch, {"x": [2.0]}, static=["x", "seed"], seeds=[5], key=key, chunk_size=1)
    np.testing.assert_allclose(fixed["y"][0, 0], 2.0 * jr.normal(jr.fold_in(key, 5)), rtol=1e-15)
    # an error that no static axis would fix is passed through, with a note
    with pytest.raises(jax.errors.ConcretizationTypeError) as e:
        sweep(f_not_an_axis, {"a": [1.0]}, key=key)
    assert any("sweep: while tracing fn" in n for n in e.value.__notes__)
