"""Weight matching for any layers with a permutation spec: small CNNs (eqx.nn.Conv2d +
Linear) trained through `dynamics.run`, planted permutations, brute force, the MLP layout."""

import itertools

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from toymodels import dynamics, landscape, problems, symmetry as S


CHANNELS = 4


class CNN(eqx.Module):
    conv1: eqx.nn.Conv2d
    conv2: eqx.nn.Conv2d
    linear: eqx.nn.Linear

    def __init__(self, key):
        k1, k2, k3 = jr.split(key, 3)
        self.conv1 = eqx.nn.Conv2d(1, CHANNELS, 3, padding=1, key=k1)
        self.conv2 = eqx.nn.Conv2d(CHANNELS, CHANNELS, 3, padding=1, key=k2)
        self.linear = eqx.nn.Linear(CHANNELS, 3, key=k3)

    def __call__(self, x):  # x: (1, 6, 6)
        h = jnp.tanh(self.conv1(x))
        h = jnp.tanh(self.conv2(h))
        return self.linear(jnp.mean(h, axis=(1, 2)))  # per-channel pooling keeps the symmetry


def _loss(model, data):
    x, labels = data
    return jnp.mean(problems.CrossEntropy().per_sample(jax.vmap(model)(x), labels))


LAYERS = [".conv1", ".conv2", ".linear"]


@pytest.fixture(scope="module")
def trained():
    """Two CNNs from different initialisations, trained briefly (GD) on tiny synthetic data."""
    kx, ka, kb, kr = jr.split(jr.key(11), 4)
    x = jr.normal(kx, (48, 1, 6, 6))
    # three classes from global image statistics (what pooled channels can see)
    labels = (jnp.mean(x, axis=(1, 2, 3)) > 0).astype(jnp.int32) + (
        jnp.var(x, axis=(1, 2, 3)) > 1.0
    ).astype(jnp.int32)
    problem = problems.EquinoxProblem(CNN, _loss, data=(x, labels))
    gd = dynamics.GD(learning_rate=0.5)
    pa, pb = (
        dynamics.run(problem, problem.init(k), gd, num_steps=100, key=kr).params for k in (ka, kb)
    )
    return problem, pa, pb


def test_cnn_alignment_same_function_and_lower_barrier(trained):
    problem, pa, pb = trained
    spec = S.chain_permutation_spec(pa, LAYERS)
    assert dict(spec.axes)[".conv2.weight"] == (".conv2", ".conv1", None, None)
    assert dict(spec.axes)[".linear.weight"] == (None, ".conv2")
    perms = S.weight_matching(pa, pb, spec=spec)
    assert set(perms) == {".conv1", ".conv2"}
    aligned = S.apply_permutations(pb, perms, spec=spec)
    x = problem.data[0]
    out_b = jax.vmap(problem.model(pb))(x)
    out_aligned = jax.vmap(problem.model(aligned))(x)
    np.testing.assert_allclose(out_aligned, out_b, rtol=0, atol=1e-12)
    assert not all(np.array_equal(p, np.arange(CHANNELS)) for p in perms.values())

    alphas = np.linspace(0.0, 1.0, 11)
    before = float(landscape.barrier_height(landscape.interpolate(problem, pa, pb, alphas)))
    after = float(landscape.barrier_height(landscape.interpolate(problem, pa, aligned, alphas)))
    assert before > 1e-3, before
    assert after < before, (after, before)
    # the matched weights are closer to params_a than before
    dist = lambda p: sum(
        float(jnp.sum((u - v) ** 2)) for u, v in zip(jax.tree.leaves(pa), jax.tree.leaves(p))
    )
    assert dist(aligned) < dist(pb)


def test_cnn_planted_permutation_is_recovered(trained):
    _, pa, _ = trained
    spec = S.chain_permutation_spec(pa, LAYERS)
    planted = {
        ".conv1": np.array([2, 0, 3, 1]),
        ".conv2": np.array([1, 3, 0, 2]),
    }
    pb = S.apply_permutations(pa, planted, spec=spec)
    aligned = S.apply_permutations(pb, S.weight_matching(pa, pb, spec=spec), spec=spec)
    assert all(np.array_equal(u, v) for u, v in zip(jax.tree.leaves(aligned), jax.tree.leaves(pa)))


def test_single_permutation_is_the_brute_force_optimum():
    """One hidden conv layer: the matched objective equals the maximum over all 4! channel
    orders (the cost matrix sums conv kernels, conv biases and the dense columns)."""
    ka, kb = jr.split(jr.key(12))

    def params(k):
        k1, k2 = jr.split(k)
        net = {
            "conv": eqx.nn.Conv2d(2, CHANNELS, 3, key=k1),
            "dense": eqx.nn.Linear(CHANNELS, 2, key=k2),
        }
        return eqx.partition(net, eqx.is_inexact_array)[0]

    pa, pb = (jax.tree.map(np.asarray, params(k)) for k in (ka, kb))  # NumPy: cheap loop
    spec = S.chain_permutation_spec(pa, ["['conv']", "['dense']"])
    perm = S.weight_matching(pa, pb, spec=spec)["['conv']"]

    def objective(p):
        aligned = S.apply_permutations(pb, {"['conv']": np.asarray(p)}, spec=spec)
        return sum(
            float(np.sum(u * v)) for u, v in zip(jax.tree.leaves(pa), jax.tree.leaves(aligned))
        )

    best = max(objective(p) for p in itertools.permutations(range(CHANNELS)))
    assert objective(perm) == pytest.approx(best, rel=1e-12)


def test_mlp_layout_is_the_chain_spec():
    rng = np.random.default_rng(13)
    pa, pb = (
        tuple(
            {"w": rng.standard_normal((o, i)), "b": rng.standard_normal(o)}
            for i, o in zip((3, 5, 4), (5, 4, 2))
        )
        for _ in range(2)
    )
    as_list = S.weight_matching(pa, pb)
    spec = S.chain_permutation_spec(pa, ["[0]", "[1]", "[2]"])
    as_dict = S.weight_matching(pa, pb, spec=spec)
    assert all(np.array_equal(a, as_dict[f"[{i}]"]) for i, a in enumerate(as_list))
    by_spec = S.apply_permutations(pb, as_dict, spec=spec)
    by_list = S.apply_permutations(pb, as_list)
    assert all(
        np.array_equal(u, v) for u, v in zip(jax.tree.leaves(by_spec), jax.tree.leaves(by_list))
    )


@pytest.mark.usefixtures("own_checks")
def test_bad_specs_are_refused(trained):
    _, pa, pb = trained
    spec = S.chain_permutation_spec(pa, LAYERS)
    with pytest.raises(ValueError, match="layers: params leaf '.linear.weight' belongs to none"):
        S.chain_permutation_spec(pa, [".conv1", ".conv2"])
    with pytest.raises(ValueError, match="spec: no entry"):
        S.weight_matching(pa, pb, spec=S.PermutationSpec(dict(spec.axes[:-1])))
    wrong = S.PermutationSpec(dict(spec.axes) | {".linear.weight": (".conv1", ".conv1")})
    with pytest.raises(
        ValueError, match="spec: permutation '.conv1' acts on axes of sizes 4 and 3"
    ):
        S.weight_matching(pa, pb, spec=wrong)
    with pytest.raises(ValueError, match="spec: '.conv1.bias' has 1 axis entries"):
        S.weight_matching(
            pa, pb, spec=S.PermutationSpec(dict(spec.axes) | {".conv1.bias": (".conv1",)})
        )
    with pytest.raises(ValueError, match="perms: '.conv1' must be a permutation"):
        S.apply_permutations(pb, {".conv1": np.zeros(4, int), ".conv2": np.arange(4)}, spec=spec)
    with pytest.raises(ValueError, match="axes: no axis is permuted"):
        S.PermutationSpec({".a": (None,)})
    with pytest.raises(TypeError, match="spec: expected a PermutationSpec"):
        S.weight_matching(pa, pb, spec={".conv1.weight": ("a",)})
