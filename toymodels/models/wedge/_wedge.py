r"""The wedge landscape (after Fort & Jastrzebski 2019; concrete toy of the spec
`hessian-goldilocks-wedges-taxonomy.md` §3.3).

Wedge $i$ has an orthonormal short basis $S_i\in\mathbb R^{D\times n_i}$ and loss

- hinge: $\ell_i(\theta) = \sum_j \mathrm{relu}(|S_i^\top\theta|_j - \varepsilon\lVert\theta
  \rVert)^2$ (zero on a cone around the $(D-n_i)$-dimensional core $\ker S_i^\top$);
- smooth, scale invariant: $\ell_i(\theta) = \lVert S_i^\top\theta\rVert^2/(\varepsilon^2
  \lVert\theta\rVert^2)$ (zero exactly on the core).

The landscape is $L = \min_i\ell_i$ (hard) or $-T\log\sum_i e^{-\ell_i/T}$ (soft). Params
are a flat vector $\theta\in\mathbb R^D$.

Predictions (functions of their parameters):

- P1 `escape_distance`: from $\theta$ on the core of wedge $i$ along a unit $u$ the hinge
  loss stays zero up to $t^*$ solving $t\lVert S_i^\top u\rVert_\infty = \varepsilon
  \lVert\theta + tu\rVert$, so $t^*(r\hat\theta) = r\,t^*(\hat\theta)$: width ∝ radius.
- P2 `curvature_scaling`: the smooth loss has $L(c\theta) = L(\theta)$, hence
  $\nabla^2L(c\theta) = c^{-2}\nabla^2L(\theta)$.
- P3 `equilibrium_norm`: scale-invariant SGD with weight decay $\lambda$ and step $\eta$
  under gradient noise of norm $\sigma/\lVert\theta\rVert$ orthogonal to $\theta$ settles
  at $r^4 = \eta\sigma^2/(\lambda(2-\eta\lambda))$, so curvature $\propto r^{-2}\propto
  \sqrt{\lambda/\eta}$.
- P4 `subspace_threshold`: a random $d$-dimensional affine plane meets a core iff
  $d\ge\min_i n_i$.
- P5 `has_common_intersection`: $m$ generic cores share a nonzero point iff
  $D > \sum_i n_i$; then solutions connect through it by zero-loss segments.
- P6 `ensemble_loss_ratio`: averaging $K$ points of one wedge with i.i.d. isotropic
  short-direction noise divides the smooth loss by about $K$.
"""

import enum
from collections.abc import Sequence
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from ..._custom_types import Scalar
from ..._validation import as_enum, check_positive
from ...problems._base import AbstractProblem


class WedgeKind(enum.Enum):
    """`HINGE` (a cone of half-width ε around the core) or `SMOOTH` (scale-invariant
    quadratic)."""

    HINGE = "hinge"
    SMOOTH = "smooth"


class Combine(enum.Enum):
    """`HARD` minimum over wedges, or `SOFT` minimum $-T\\log\\sum e^{-\\ell_i/T}$."""

    HARD = "hard"
    SOFT = "soft"


class WedgeLandscape(AbstractProblem):
    """Wedges with short bases `bases` $(K, D, n_\\max)$ (columns beyond $n_i$ are zero,
    `short_dims` gives $n_i$); see the module docstring."""

    bases: Float[Array, "K D n"]
    epsilon: float
    temperature: float
    short_dims: tuple[int, ...] = eqx.field(static=True)
    kind: WedgeKind = eqx.field(static=True)
    combine: Combine = eqx.field(static=True)

    @property
    def dim(self) -> int:
        return self.bases.shape[1]

    def wedge_losses(self, theta: Float[Array, " D"]) -> Float[Array, " K"]:
        """$\\ell_i(\\theta)$ for every wedge."""
        proj = jnp.einsum("kdn,d->kn", self.bases, theta)
        r2 = jnp.sum(theta**2)
        if self.kind is WedgeKind.SMOOTH:
            return jnp.sum(proj**2, axis=1) / (self.epsilon**2 * r2)
        r = jnp.sqrt(r2)
        return jnp.sum(jax.nn.relu(jnp.abs(proj) - self.epsilon * r) ** 2, axis=1)

    def loss(self, params: Float[Array, " D"]) -> Scalar:
        ls = self.wedge_losses(params)
        if self.combine is Combine.HARD:
            return jnp.min(ls)
        t = self.temperature
        return -t * jax.nn.logsumexp(-ls / t)

    def init(self, key: PRNGKeyArray) -> Float[Array, " D"]:
        """A standard normal point."""
        return jr.normal(key, (self.dim,), self.bases.dtype)

    def core_projection(self, theta: Float[Array, " D"], i: int) -> Float[Array, " D"]:
        """$\\theta - S_iS_i^\\top\\theta$: the nearest point of wedge $i$'s core."""
        s = self.bases[i]
        return theta - s @ (s.T @ theta)


def wedge_landscape(
    key: PRNGKeyArray,
    *,
    dim: int,
    short_dims: Sequence[int],
    epsilon: float = 0.1,
    kind: WedgeKind | str = WedgeKind.SMOOTH,
    combine: Combine | str = Combine.HARD,
    temperature: float = 0.1,
    dtype=None,
) -> WedgeLandscape:
    """Random wedges: wedge $i$'s short basis is the Q factor of a $D\\times n_i$ Gaussian
    (generic, independent across wedges)."""
    d = int(dim)
    if d < 2:
        raise ValueError(f"dim: expected an int >= 2, got {dim!r}")
    ns = tuple(int(n) for n in short_dims)
    if not ns or any(n < 1 or n >= d for n in ns):
        raise ValueError(f"short_dims: need 1 <= n_i < dim={d}, got {ns}")
    check_positive("epsilon", epsilon)
    check_positive("temperature", temperature)
    dtype = jnp.result_type(float) if dtype is None else dtype
    nmax = max(ns)
    bases = []
    for k, n in zip(jr.split(key, len(ns)), ns):
        q, _ = jnp.linalg.qr(jr.normal(k, (d, n), dtype))
        bases.append(jnp.pad(q, ((0, 0), (0, nmax - n))))
    return WedgeLandscape(
        bases=jnp.stack(bases),
        epsilon=float(epsilon),
        temperature=float(temperature),
        short_dims=ns,
        kind=as_enum("kind", kind, WedgeKind),
        combine=as_enum("combine", combine, Combine),
    )


# ------------------------------------------------------------------------------ P1
@eqx.filter_jit
def escape_distance(
    landscape: WedgeLandscape,
    theta: Float[ArrayLike, " D"],
    direction: Float[ArrayLike, " D"],
    i: int,
) -> Float[Array, ""]:
    r"""Closed-form distance $t^*$ along the unit vector $u$ (normalised here) from
    $\theta$ on the core of wedge $i$ before the hinge loss $\ell_i$ turns positive: the
    positive root of $t^2(a^2-\varepsilon^2) - 2\varepsilon^2(\theta\cdot u)t -
    \varepsilon^2\lVert\theta\rVert^2 = 0$, $a = \lVert S_i^\top u\rVert_\infty$ ($\infty$
    when $a \le \varepsilon$)."""
    theta = jnp.asarray(theta)
    u = jnp.asarray(direction)
    u = u / jnp.linalg.norm(u)
    a = jnp.max(jnp.abs(landscape.bases[i].T @ u))
    e2 = landscape.epsilon**2
    b = e2 * (theta @ u)
    qa = a**2 - e2
    disc = b**2 + qa * e2 * jnp.sum(theta**2)
    return jnp.where(
        qa > 0, (b + jnp.sqrt(jnp.maximum(disc, 0.0))) / jnp.where(qa > 0, qa, 1.0), jnp.inf
    )


@eqx.filter_jit
def measured_escape_distance(
    landscape: WedgeLandscape,
    theta: Float[ArrayLike, " D"],
    direction: Float[ArrayLike, " D"],
    i: int,
    *,
    t_max: float,
    iterations: int = 80,
    tol: float = 0.0,
) -> Float[Array, ""]:
    """Bisection on $t\\mapsto\\ell_i(\\theta + tu) > $ `tol` over $[0, t_\\max]$ (assumes a
    single crossing; returns `t_max` when none)."""
    theta = jnp.asarray(theta)
    u = jnp.asarray(direction)
    u = u / jnp.linalg.norm(u)
    f = lambda t: landscape.wedge_losses(theta + t * u)[i] > tol

    def body(_, lohi):
        lo, hi = lohi
        mid = 0.5 * (lo + hi)
        out = f(mid)
        return jnp.where(out, lo, mid), jnp.where(out, mid, hi)

    lo, hi = jax.lax.fori_loop(
        0, int(iterations), body, (jnp.zeros((), theta.dtype), jnp.asarray(t_max, theta.dtype))
    )
    return 0.5 * (lo + hi)


def log_slope(x: ArrayLike, y: ArrayLike) -> float:
    """Least-squares slope of $\\log y$ against $\\log x$."""
    lx, ly = np.log(np.asarray(x, dtype=np.float64)), np.log(np.asarray(y, dtype=np.float64))
    return float(np.polyfit(lx, ly, 1)[0])


# ------------------------------------------------------------------------------ P2
def curvature_scaling(c: ArrayLike) -> np.ndarray:
    """$\\lambda_\\max(\\nabla^2L(c\\theta))/\\lambda_\\max(\\nabla^2L(\\theta)) = c^{-2}$
    for the smooth (degree-0 homogeneous) wedge loss."""
    c = np.asarray(c, dtype=np.float64)
    if np.any(c == 0):
        raise ValueError("c: must be nonzero")
    return c**-2.0


# ------------------------------------------------------------------------------ P3
def equilibrium_norm(learning_rate: ArrayLike, weight_decay: ArrayLike, noise: float) -> np.ndarray:
    r"""$r_\infty = [\eta\sigma^2/(\lambda(2-\eta\lambda))]^{1/4}$: the fixed point of
    $r^2\mapsto(1-\eta\lambda)^2r^2 + \eta^2\sigma^2/r^2$ (updates orthogonal to
    $\theta$ of norm $\eta\sigma/r$ plus decay)."""
    eta = np.asarray(learning_rate, dtype=np.float64)
    lam = np.asarray(weight_decay, dtype=np.float64)
    if np.any(eta <= 0) or np.any(lam <= 0) or np.any(eta * lam >= 2):
        raise ValueError("learning_rate: need eta > 0, weight_decay > 0 and eta*lambda < 2")
    return (eta * float(noise) ** 2 / (lam * (2 - eta * lam))) ** 0.25


@eqx.filter_jit
def _wd_sgd(landscape, theta0, key, eta, lam, noise, steps):
    d = theta0.shape[0]

    def step(th, k):
        g = jax.grad(landscape.loss)(th)
        xi = jr.normal(k, (d,), th.dtype)
        xi = xi - (xi @ th) / (th @ th) * th
        xi = noise * xi / jnp.sqrt(jnp.asarray(d - 1, th.dtype))
        th = (1 - eta * lam) * th - eta * (g + xi / jnp.linalg.norm(th))
        return th, jnp.linalg.norm(th)

    return jax.lax.scan(step, theta0, jr.split(key, steps))


def weight_decay_sgd(
    landscape: WedgeLandscape,
    theta0: Float[ArrayLike, " D"],
    *,
    key: PRNGKeyArray,
    learning_rate: float,
    weight_decay: float,
    noise: float,
    num_steps: int,
) -> tuple[Array, Array]:
    r"""Noisy GD with weight decay on a scale-invariant landscape:
    $\theta\leftarrow(1-\eta\lambda)\theta - \eta(\nabla L + \xi/\lVert\theta\rVert)$ with
    $\xi\perp\theta$ Gaussian, $\mathbb E\lVert\xi\rVert^2 = \sigma^2$ (scale-invariant
    minibatch noise). Returns the final point and $\lVert\theta_t\rVert$."""
    return _wd_sgd(
        landscape,
        jnp.asarray(theta0),
        key,
        float(learning_rate),
        float(weight_decay),
        float(noise),
        int(num_steps),
    )


# ------------------------------------------------------------------------------ P4
def subspace_threshold(short_dims: Sequence[int]) -> int:
    """Smallest $d$ at which a generic $d$-dimensional affine plane meets some wedge core:
    $\\min_i n_i$."""
    ns = [int(n) for n in short_dims]
    if not ns or min(ns) < 1:
        raise ValueError(f"short_dims: expected positive ints, got {short_dims!r}")
    return min(ns)


@eqx.filter_jit
def _subspace_min(landscape, theta0, bases, steps):
    def one(p):
        opt = optax.lbfgs()
        z0 = jnp.zeros((p.shape[1],), theta0.dtype)
        f = lambda z: landscape.loss(theta0 + p @ z)
        vg = optax.value_and_grad_from_state(f)

        def step(carry, _):
            z, s = carry
            v, g = vg(z, state=s)
            up, s = opt.update(g, s, z, value=v, grad=g, value_fn=f)
            return (optax.apply_updates(z, up), s), None

        (z, _), _ = jax.lax.scan(step, (z0, opt.init(z0)), None, length=steps)
        return f(z)

    return jax.vmap(one)(bases)


def subspace_losses(
    landscape: WedgeLandscape,
    dims: Sequence[int],
    *,
    key: PRNGKeyArray,
    trials: int = 8,
    num_steps: int = 300,
) -> Float[Array, "dims trials"]:
    r"""Final losses of training $z$ in $\theta_0 + Pz$ (L-BFGS with line search,
    `num_steps` steps from $z = 0$) for every $d$ in `dims` and `trials` random
    orthonormal $P$ ($D\times d$) from one standard normal $\theta_0$. All $d$ share one
    compiled program ($P$ is padded with zero columns to $\max d$)."""
    dims = [int(d) for d in dims]
    if not dims or min(dims) < 1 or max(dims) > landscape.dim:
        raise ValueError(f"dims: each d must be in [1, {landscape.dim}], got {dims}")
    k0, kp = jr.split(key)
    dim, dmax, dt = landscape.dim, max(dims), landscape.bases.dtype
    theta0 = jr.normal(k0, (dim,), dt)
    ps = []
    for d, k in zip(dims, jr.split(kp, len(dims))):
        q = jnp.linalg.qr(jr.normal(k, (int(trials), dim, d), dt))[0]
        ps.append(jnp.pad(q, ((0, 0), (0, 0), (0, dmax - d))))
    bases = jnp.concatenate(ps)
    # optax's L-BFGS mixes int32/int64 counters internally; allow that under strict promotion.
    with jax.numpy_dtype_promotion("standard"):
        out = _subspace_min(landscape, theta0, bases, int(num_steps))
    return out.reshape(len(dims), int(trials))


def success_rate(losses: ArrayLike, *, tol: float = 1e-12) -> np.ndarray:
    """Fraction of trials (last axis) whose final loss is below `tol`."""
    return np.mean(np.asarray(losses) < float(tol), axis=-1)


# ------------------------------------------------------------------------------ P5
def has_common_intersection(dim: int, short_dims: Sequence[int]) -> bool:
    """Generic cores $\\ker S_i^\\top$ share a nonzero point iff $D > \\sum_i n_i$."""
    return int(dim) > sum(int(n) for n in short_dims)


def intersection_residual(landscape: WedgeLandscape, indices: Sequence[int]) -> Float[Array, ""]:
    r"""$\min_{\lVert\theta\rVert=1}\sum_{i}\lVert S_i^\top\theta\rVert^2 =
    \lambda_\min(\sum_i S_iS_i^\top)$ over the chosen wedges: 0 iff their cores meet
    (this is $\varepsilon^2\min\sum_i\ell_i$ for the smooth loss)."""
    a = sum(landscape.bases[i] @ landscape.bases[i].T for i in indices)
    return jnp.linalg.eigvalsh(a)[0]


def common_point(landscape: WedgeLandscape, indices: Sequence[int]) -> Float[Array, " D"]:
    """A unit vector in the intersection of the chosen cores (the bottom eigenvector of
    $\\sum_i S_iS_i^\\top$; meaningful when `intersection_residual` is 0)."""
    a = sum(landscape.bases[i] @ landscape.bases[i].T for i in indices)
    return jnp.linalg.eigh(a)[1][:, 0]


class Simplex(NamedTuple):
    """Solutions `solutions` $(m, D)$ (one per wedge, on its core), the common point
    `center`, and the largest loss on the segments solution→center (`path_max`) and on the
    straight segments between solutions (`direct_max`)."""

    solutions: Array
    center: Array
    path_max: Array
    direct_max: Array


def connect_through_intersection(
    landscape: WedgeLandscape, indices: Sequence[int], *, key: PRNGKeyArray, points: int = 65
) -> Simplex:
    """Pick a solution on each chosen wedge's core (a random point projected onto it,
    rescaled to the center's norm), join each to the common point by a straight segment and
    evaluate the landscape loss along these segments and along the direct segments."""
    idx = [int(i) for i in indices]
    center = common_point(landscape, idx)
    r = jnp.sqrt(jnp.asarray(landscape.dim, center.dtype))
    center = r * center
    sols = []
    for k, i in zip(jr.split(key, len(idx)), idx):
        s = landscape.core_projection(jr.normal(k, (landscape.dim,), center.dtype), i)
        sols.append(r * s / jnp.linalg.norm(s))
    sols = jnp.stack(sols)
    ts = jnp.linspace(0.0, 1.0, int(points))
    seg = lambda a, b: jax.vmap(lambda t: landscape.loss((1 - t) * a + t * b))(ts)
    path = jnp.max(jnp.stack([seg(s, center) for s in sols]))
    direct = jnp.stack(
        [jnp.max(seg(sols[a], sols[b])) for a in range(len(idx)) for b in range(a + 1, len(idx))]
    )
    return Simplex(sols, center, path, direct)


# ------------------------------------------------------------------------------ P6
def ensemble_loss_ratio(members: ArrayLike) -> np.ndarray:
    """Predicted $\\ell_i(\\bar\\theta)/\\langle\\ell_i(\\theta_k)\\rangle \\approx 1/K$ for
    $K$ members $\\theta_k = c + \\delta_k$ of one smooth wedge ($c$ on the core, i.i.d.
    small isotropic short-direction noise $\\delta_k$)."""
    k = np.asarray(members, dtype=np.float64)
    if np.any(k < 1):
        raise ValueError("members: must be >= 1")
    return 1.0 / k


def ensemble_losses(
    landscape: WedgeLandscape, i: int, members: int, *, key: PRNGKeyArray, spread: float
) -> tuple[Array, Array]:
    """`members` points of wedge `i`: a core point of norm $\\sqrt D$ plus short-direction
    noise of std `spread`; returns (loss of their average, mean loss of the members)."""
    kc, kn = jr.split(key)
    dim = landscape.dim
    c = landscape.core_projection(jr.normal(kc, (dim,), landscape.bases.dtype), i)
    c = jnp.sqrt(jnp.asarray(dim, c.dtype)) * c / jnp.linalg.norm(c)
    s = landscape.bases[i]
    noise = spread * jr.normal(kn, (int(members), s.shape[1]), c.dtype) @ s.T
    pts = c + noise
    f = jax.vmap(lambda th: landscape.wedge_losses(th)[i])
    return f(jnp.mean(pts, axis=0, keepdims=True))[0], jnp.mean(f(pts))
