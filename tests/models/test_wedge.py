"""Wedge landscape: predictions P1-P6 against simulation, dense Hessians and SymPy."""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

import derivations.wedge as theory
import toymodels.models.wedge as W
from tests.helpers import own_checks
from toymodels.landscape import hessian


@pytest.mark.parametrize("dim,n,eps", [(40, 6, 0.05), (25, 3, 0.12)])
def test_p1_escape_distance_proportional_to_radius(dim, n, eps, key):
    L = W.wedge_landscape(key=key, dim=dim, short_dims=(n, n + 2), epsilon=eps, kind="hinge")
    k1, k2 = jr.split(jr.fold_in(key, 1))
    core = L.core_projection(jr.normal(k1, (dim,)), 0)
    core = core / jnp.linalg.norm(core)
    radii = np.array([0.5, 1.0, 2.0, 4.0, 8.0])
    slopes = []
    for u in jr.normal(k2, (4, dim)):
        pred = np.array([float(W.escape_distance(L, r * core, u, 0)) for r in radii])
        meas = np.array(
            [float(W.measured_escape_distance(L, r * core, u, 0, t_max=50.0 * r)) for r in radii]
        )
        assert np.all(np.isfinite(pred))
        np.testing.assert_allclose(meas, pred, rtol=1e-6)
        # SymPy closed form
        a = float(jnp.max(jnp.abs(L.bases[0].T @ (u / jnp.linalg.norm(u)))))
        b = float(core @ (u / jnp.linalg.norm(u)))
        np.testing.assert_allclose(pred, theory.escape_distance(a, eps, radii, b * radii))
        slopes.append(W.log_slope(radii, meas))
    assert np.all(np.abs(np.array(slopes) - 1.0) < 0.05)


@pytest.mark.parametrize("radius", [0.5, 3.0])
def test_escape_distance_of_rays_aimed_back_at_the_apex(radius, key):
    """A ray heading back toward the origin with ‖Sᵀu‖∞ ≤ ε leaves the cone near its tip
    (where the cone is thin) and comes back in further on; one heading back but passing
    wide of the apex, or heading away, never leaves. Checked against the hinge loss itself
    on a fine grid (zero before t*, positive just after) and the geometry of the tip."""
    dim, eps = 20, 0.12
    L = W.wedge_landscape(key=key, dim=dim, short_dims=(4, 5), epsilon=eps, kind="hinge")
    k1, k2 = jr.split(jr.fold_in(key, 2))
    core = L.core_projection(jr.normal(k1, (dim,)), 0)
    theta = radius * core / jnp.linalg.norm(core)
    hat = theta / jnp.linalg.norm(theta)
    s0 = L.bases[0][:, 0]  # a short direction of wedge 0
    w = L.core_projection(jr.normal(k2, (dim,)), 0)
    w = w - (w @ hat) * hat
    w = w / jnp.linalg.norm(w)  # a core direction orthogonal to θ
    loss = jax.jit(jax.vmap(lambda t, u: L.wedge_losses(theta + t * u)[0], (0, None)))
    for delta, phi, leaves in [
        (0.05, 0.0, True),  # straight back, slightly off the core: exits at the tip
        (0.10, 0.2, True),  # back at an angle, still close enough to the apex
        (0.05, 1.2, False),  # back but wide of the apex: cos²φ < 1 − a²/ε²
        (-0.05, np.pi, False),  # heading away from the apex
    ]:
        u = -np.cos(phi) * hat + np.sin(phi) * w + delta * s0
        u = u / jnp.linalg.norm(u)
        a = float(jnp.max(jnp.abs(L.bases[0].T @ u)))
        assert a <= eps  # the case the old closed form sent to ∞
        t_star = float(W.escape_distance(L, theta, u, 0))
        t_max = 4.0 * radius
        measured = float(W.measured_escape_distance(L, theta, u, 0, t_max=t_max))
        if not leaves:
            assert np.isinf(t_star) and measured == t_max
            ts = jnp.linspace(0.0, t_max, 20001)
            assert float(jnp.max(loss(ts, u))) == 0.0
            continue
        assert 0 < t_star < radius  # before the apex
        np.testing.assert_allclose(measured, t_star, rtol=1e-9)
        before = jnp.linspace(0.0, t_star * (1 - 1e-9), 20001)
        assert float(jnp.max(loss(before, u))) == 0.0
        assert float(loss(jnp.array([t_star * (1 + 1e-6)]), u)[0]) > 0.0
        # it comes back in: zero loss again well past the apex along the core direction
        if phi == 0.0:
            assert float(loss(jnp.array([3.0 * radius]), u)[0]) == 0.0
            # straight back: the tip geometry gives t* = εr/(a + ε) to first order in a
            np.testing.assert_allclose(t_star, eps * radius / (a + eps), rtol=0.05)


def test_p2_curvature_scales_as_c_minus_2(key):
    L = W.wedge_landscape(key=key, dim=12, short_dims=(3, 4), epsilon=0.3, kind="smooth")
    th = L.core_projection(jr.normal(jr.fold_in(key, 1), (12,)), 0)
    th = th + 0.05 * L.bases[0] @ jnp.ones((4,))  # near, not on, the core
    lam = lambda p: float(jnp.linalg.eigvalsh(hessian(L, p))[-1])
    base = lam(th)
    cs = np.array([0.5, 2.0, 3.7])
    ratio = np.array([lam(c * th) for c in cs]) / base
    np.testing.assert_allclose(ratio, W.curvature_scaling(cs), rtol=1e-9)
    np.testing.assert_allclose(float(L.loss(3.7 * th)), float(L.loss(th)), rtol=1e-12)
    # on the core the short-direction curvature is 2 / (eps^2 r^2) (SymPy check() derives it)
    core = L.core_projection(th, 0)
    r = float(jnp.linalg.norm(core))
    w = np.linalg.eigvalsh(np.asarray(hessian(L, core)))
    np.testing.assert_allclose(w[-1], 2 / (0.3**2 * r**2), rtol=1e-9)


def test_p3_weight_decay_equilibrium(key):
    L = W.wedge_landscape(key=key, dim=30, short_dims=(5, 7), epsilon=1.0)
    rs, preds = [], []
    for i, (eta, lam) in enumerate([(0.1, 0.02), (0.1, 0.06), (0.3, 0.02)]):
        steps = int(8 / (eta * lam))
        out = W.weight_decay_sgd(
            L,
            jr.normal(jr.fold_in(key, i), (30,)),
            key=jr.fold_in(key, 10 + i),
            learning_rate=eta,
            weight_decay=lam,
            noise=1.0,
            num_steps=steps,
        )
        assert out.norms.shape == (steps + 1,)
        np.testing.assert_allclose(out.norms[-1], jnp.linalg.norm(out.params), rtol=1e-14)
        rs.append(float(jnp.mean(out.norms[steps // 2 :] ** 4)) ** 0.25)
        preds.append(float(W.equilibrium_norm(learning_rate=eta, weight_decay=lam, noise=1.0)))
        np.testing.assert_allclose(preds[-1], theory.equilibrium_norm(eta, lam, 1.0))
    np.testing.assert_allclose(rs, preds, rtol=0.03)


@pytest.mark.parametrize("n,dim", [(4, 20), pytest.param(7, 24, marks=pytest.mark.slow)])
def test_p4_random_subspace_success_jumps_at_n(n, dim, key):
    L = W.wedge_landscape(key=key, dim=dim, short_dims=(n,), epsilon=0.5)
    thr = W.subspace_threshold((n,))
    dims = [thr - 2, thr - 1, thr, thr + 1, thr + 3]
    rate = W.success_rate(W.subspace_losses(L, dims, key=jr.fold_in(key, n), num_trials=6))
    # 0 below n, 1 above; at d = n the plane meets the core in a single point and a start
    # can still end in a spurious stationary point of the (non-convex) ratio, so >= 1/2.
    np.testing.assert_array_equal(rate[[0, 1, 3, 4]], [0, 0, 1, 1])
    assert rate[2] >= 0.5
    assert dims[int(np.argmax(np.diff(rate))) + 1] == n  # the jump sits at d = n
    assert W.subspace_threshold((n + 2, n, n + 5)) == n


def test_subspace_losses_share_one_program_across_dims_and_trials(key):
    """Other sizes d, as many of them up to the next power of two, trial counts up to the
    next power of two and another ε compile nothing (the landscape and buckets of the P4 test: its
    program); each entry is the minimisation of its own call (the planes of each d come
    from that d's key alone), a plane of dimension D always meets the core (loss 0), one
    of dimension 2 < n never does."""
    import jax.monitoring

    L = W.wedge_landscape(key=key, dim=20, short_dims=(4,), epsilon=0.5)
    k = jr.fold_in(key, 7)
    first = W.subspace_losses(L, [2, 3, 4, 5, 7], key=k, num_trials=6)
    compiled = []

    def listener(name, *args, **kwargs):
        if name.endswith("backend_compile_duration"):
            compiled.append(kwargs.get("fun_name", name))

    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        again = W.subspace_losses(L, [2, 3, 4, 5, 7, 20], key=k, num_trials=7)
        L2 = W.wedge_landscape(key=key, dim=20, short_dims=(4,), epsilon=0.3)  # another ε
        other = W.subspace_losses(L2, [1, 6, 9, 12, 15], key=jr.fold_in(key, 8), num_trials=5)
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)
    assert compiled == [], compiled
    assert first.shape == (5, 6) and again.shape == (6, 7) and other.shape == (5, 5)
    np.testing.assert_allclose(again[:5, :6], first, rtol=1e-12, atol=1e-30)
    assert np.all(np.asarray(again[5]) < 1e-20) and np.all(np.asarray(first[0]) > 1e-3)
    assert np.all(np.asarray(other[1:]) < 1e-20)  # d >= 6 > n


@pytest.mark.parametrize(
    "dim,ns", [(30, (8, 10, 11)), (29, (8, 10, 11)), (28, (8, 10, 11)), (21, (5, 5, 5, 5))]
)
def test_p5_common_intersection_iff_dim_exceeds_sum(dim, ns, key):
    L = W.wedge_landscape(key=key, dim=dim, short_dims=ns, epsilon=0.3)
    idx = list(range(len(ns)))
    resid = float(W.intersection_residual(L, idx))
    predicted = W.has_common_intersection(dim=dim, short_dims=ns)
    assert (resid < 1e-10) == predicted
    if predicted:
        sx = W.connect_through_intersection(L, idx, key=jr.fold_in(key, 3))
        assert float(sx.path_max) < 1e-20  # zero loss along solution -> center segments
        assert np.all(np.asarray(sx.direct_max) > 1e-3)  # direct segments cross barriers
        for i, s in enumerate(sx.solutions):
            assert float(L.wedge_losses(s)[i]) < 1e-20


def test_p6_ensembling_within_and_across_wedges(key):
    L = W.wedge_landscape(key=key, dim=40, short_dims=(8, 8), epsilon=0.5)
    ratios = []
    for K in (4, 16):
        f = jax.vmap(lambda k, K=K: W.ensemble_losses(L, 0, num_members=K, key=k, spread=0.05))
        out = f(jr.split(jr.fold_in(key, K), 30))
        ratios.append(float(jnp.mean(out.average_loss) / jnp.mean(out.mean_loss)))
    np.testing.assert_allclose(ratios, W.ensemble_loss_ratio([4, 16]), rtol=0.15)
    # members of different wedges average to a high-loss point
    sx = W.connect_through_intersection(L, [0, 1], key=key)
    mid = 0.5 * (sx.solutions[0] + sx.solutions[1])
    assert float(L.loss(mid)) > 10 * max(ratios) * 0.05**2


def test_soft_min_and_bad_input(key):
    Lh = W.wedge_landscape(key=key, dim=10, short_dims=(2, 3), combine="hard")
    Ls = W.wedge_landscape(key=key, dim=10, short_dims=(2, 3), combine="soft", temperature=1e-3)
    th = jr.normal(key, (10,))
    assert abs(float(Ls.loss(th)) - float(Lh.loss(th))) < 1e-3 * np.log(2) + 1e-12
    assert float(Ls.loss(th)) <= float(Lh.loss(th))
    with pytest.raises(ValueError, match="^short_dims"):
        W.wedge_landscape(key=key, dim=5, short_dims=(5,))
    with pytest.raises(ValueError, match="^kind"):
        W.wedge_landscape(key=key, dim=5, short_dims=(2,), kind="cone")
    with pytest.raises(ValueError, match="^epsilon"):
        W.wedge_landscape(key=key, dim=5, short_dims=(2,), epsilon=0.0)
    with pytest.raises(ValueError, match="^learning_rate"):
        W.equilibrium_norm(learning_rate=1.0, weight_decay=3.0, noise=1.0)


def test_derivation_check():
    theory.check()


def test_scale_invariant_noise_is_a_keyed_optax_transformation(key):
    # against a hand-written recurrence with the same key chain: state key k -> split(k) =
    # (next, sub), xi drawn with sub, projected off theta, scaled to E|xi|^2 = sigma^2.
    L = W.wedge_landscape(key=key, dim=9, short_dims=(2, 3), epsilon=0.7)
    th0 = jr.normal(jr.fold_in(key, 1), (9,))
    kn = jr.fold_in(key, 2)
    eta, lam, sigma, steps = 0.05, 0.1, 0.8, 40

    @jax.jit
    def ref_step(th, k):
        k, sub = jr.split(k)
        xi = jr.normal(sub, (9,))
        xi = sigma * (xi - (xi @ th) / (th @ th) * th) / np.sqrt(8)
        return (1 - eta * lam) * th - eta * (jax.grad(L.loss)(th) + xi / jnp.linalg.norm(th)), k

    th, k, ref = th0, jr.split(kn)[0], [float(jnp.linalg.norm(th0))]
    for _ in range(steps):
        th, k = ref_step(th, k)
        ref.append(float(jnp.linalg.norm(th)))
    out = W.weight_decay_sgd(
        L, th0, key=kn, learning_rate=eta, weight_decay=lam, noise=sigma, num_steps=steps
    )
    np.testing.assert_allclose(out.norms, ref, rtol=1e-12)
    np.testing.assert_allclose(out.params, th, rtol=1e-12, atol=1e-14)
    # the transformation alone: its state carries the key, each update draws anew
    tx = W.scale_invariant_noise(sigma, key=kn)
    state = tx.init(th0)
    zero = jnp.zeros(9)
    draws = []
    for _ in range(3):
        u, state = tx.update(zero, state, th0)
        draws.append(np.asarray(u) * float(jnp.linalg.norm(th0)))
    assert abs(float(np.asarray(draws[0]) @ np.asarray(th0))) < 1e-12  # orthogonal to theta
    assert not np.allclose(draws[0], draws[1]) and not np.allclose(draws[1], draws[2])
    many = jax.jit(jax.vmap(lambda k: tx.update(zero, W.NoiseState(key=k), th0)[0]))(
        jr.split(key, 4000)
    )
    sq = jnp.sum((many * jnp.linalg.norm(th0)) ** 2, axis=1)
    np.testing.assert_allclose(float(jnp.mean(sq)), sigma**2, rtol=0.03)
    with own_checks(), pytest.raises(TypeError, match="^key"):
        W.scale_invariant_noise(sigma, key=None)
