"""The delayed match-to-sample RNN (`problems.delayed_match_rnn`) against an independent
NumPy implementation of the same network and task; its targets and inputs; bad input; and
(slow) training through `dynamics.run` showing the drop and the saturated wrong outputs."""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from toymodels import dynamics, problems


def _numpy_loss(params, *, alpha, delay, response, amplitude, gain, x0, rank):
    """The task written out trial by trial with explicit loops (NumPy, float64)."""
    p = {k: np.asarray(v, np.float64) for k, v in params.items()}
    w = p["W"] if rank is None else p["m"] @ p["n"].T
    errors = []
    for sample in (0, 1):
        for test in (0, 1):
            x = np.asarray(x0, np.float64).copy()
            target = 1.0 if sample == test else 0.0
            for t in range(delay + 1 + response):
                u = np.zeros(2)
                if t == 0:
                    u[sample] = amplitude
                if t == delay:
                    u[test] = amplitude
                x = (1 - alpha) * x + alpha * np.tanh(w @ x + p["B"] @ u + p["b"])
                if t >= delay + 1:  # states x_{T+2}..x_{T+1+R}
                    z = gain * (p["w_out"] @ x + p["b_out"])
                    errors.append((1.0 / (1.0 + np.exp(-z)) - target) ** 2)
    return float(np.mean(errors))


@pytest.mark.parametrize("rank", [None, 2])
def test_loss_matches_numpy_reference(rank):
    kw = dict(alpha=0.3, delay=4, response=3, amplitude=1.5)
    x0 = np.linspace(-0.2, 0.3, 5)
    prob = problems.delayed_match_rnn(
        num_units=5, rank=rank, readout_gain=2.0, recurrent_scale=1.2, x0=jnp.asarray(x0), **kw
    )
    params = prob.init(jr.key(3))
    params = {k: v + 0.1 for k, v in params.items()}  # nonzero biases too
    ref = _numpy_loss(params, gain=2.0, x0=x0, rank=rank, **kw)
    assert float(prob.loss(params)) == pytest.approx(ref, rel=1e-12)


def test_inputs_and_targets():
    prob = problems.delayed_match_rnn(num_units=3, delay=4, response=2, amplitude=0.7)
    u = np.asarray(prob.inputs())
    assert u.shape == (4, 7, 2)
    for k, (i, j) in enumerate([(0, 0), (0, 1), (1, 0), (1, 1)]):
        expected = np.zeros((7, 2))
        expected[0, i] += 0.7
        expected[4, j] += 0.7
        np.testing.assert_array_equal(u[k], expected)
    np.testing.assert_array_equal(np.asarray(prob.targets()), [[1, 1], [0, 0], [0, 0], [1, 1]])
    params = prob.init(jr.key(0))
    assert prob.outputs(params).shape == (4, 2)
    # the delay map is the step with the input off
    x = jnp.ones(3) * 0.1
    np.testing.assert_allclose(prob.step(params, x), prob.step(params, x, jnp.zeros(2)))


def test_dtype_follows_x0():
    prob = problems.delayed_match_rnn(
        num_units=4, delay=2, response=1, x0=jnp.zeros(4, jnp.float32)
    )
    params = prob.init(jr.key(0))
    assert all(v.dtype == jnp.float32 for v in params.values())
    assert prob.loss(params).dtype == jnp.float32


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"num_units": 0}, "num_units"),
        ({"rank": 0}, "rank"),
        ({"num_units": 4, "rank": 5}, "rank"),
        ({"alpha": 0.0}, "alpha"),
        ({"alpha": 1.5}, "alpha"),
        ({"delay": 0}, "delay"),
        ({"response": 0}, "response"),
        ({"amplitude": -1.0}, "amplitude"),
        ({"readout_gain": float("nan")}, "readout_gain"),
        ({"recurrent_scale": 0.0}, "recurrent_scale"),
        ({"num_units": 3, "x0": jnp.zeros(4)}, "x0"),
        ({"x0": float("inf")}, "x0"),
    ],
)
def test_bad_input(kwargs, name):
    with pytest.raises(ValueError, match=f"^{name}"):
        problems.delayed_match_rnn(**kwargs)


@pytest.mark.slow
def test_training_drops_and_traps():
    """GD from the memoryless plateau (loss 1/4): at lr 0.3 some seeds learn (loss < 0.01),
    at lr 10 some end on saturated wrong outputs (loss 1/2, confidence > 0.99, tiny
    gradient). Training on the plateau is chaotic, so the test asks for some seeds of 6."""
    prob = problems.delayed_match_rnn(num_units=16, delay=15, response=5, recurrent_scale=0.8)

    @jax.jit
    def train(lr, seed):
        p0 = prob.init(jr.fold_in(jr.key(0), seed))
        traj = dynamics.run(
            prob,
            p0,
            dynamics.GD(learning_rate=lr),
            num_steps=1500,
            key=jr.key(0),
            stop=dynamics.Stop(loss_ratio=None),
        )
        return traj.loss[0], traj.final_loss, traj.params

    seeds = jnp.arange(6)
    for lr, check in ((0.3, "learn"), (10.0, "trap")):
        first, final, params = jax.vmap(train, (None, 0))(jnp.asarray(lr), seeds)
        np.testing.assert_allclose(first, 0.25, atol=0.01)
        if check == "learn":
            assert np.sum(np.asarray(final) < 0.01) >= 1, final
        else:
            trapped = np.nonzero(np.asarray(final) > 0.49)[0]
            assert trapped.size >= 1, final
            for i in trapped:
                p = jax.tree.map(lambda a, i=i: a[i], params)
                y = np.asarray(prob.outputs(p))
                assert np.min(np.abs(2 * y - 1)) > 0.99
                g = jax.grad(prob.loss)(p)
                assert float(jnp.sqrt(sum(jnp.sum(v**2) for v in g.values()))) < 1e-3
