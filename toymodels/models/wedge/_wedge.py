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
  loss stays zero up to the first $t^*$ solving $t\lVert S_i^\top u\rVert_\infty =
  \varepsilon\lVert\theta + tu\rVert$ (also for rays aimed back through the apex), so
  $t^*(r\hat\theta) = r\,t^*(\hat\theta)$: width ∝ radius.
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

import dataclasses
import enum
from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
import optimistix as optx
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from ..._custom_types import Numbers, Real, Scalar
from ..._validation import as_enum, check_key, check_positive
from ...dynamics import Save, Stop, minimize, run
from ...landscape import SubspaceProblem
from ...linalg._batching import filter_jit
from ...problems import AbstractProblem


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
    epsilon: float | Float[Array, ""]  # an array inside subspace_losses (traced)
    temperature: float | Float[Array, ""]
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
        check_key("key", key)
        return jr.normal(key, (self.dim,), self.bases.dtype)

    def core_projection(self, theta: Float[Array, " D"], i: int) -> Float[Array, " D"]:
        """$\\theta - S_iS_i^\\top\\theta$: the nearest point of wedge $i$'s core."""
        s = self.bases[i]
        return theta - s @ (s.T @ theta)


def wedge_landscape(
    *,
    key: PRNGKeyArray,
    dim: int,
    short_dims: Sequence[int],
    epsilon: float = 0.1,
    kind: WedgeKind | str = WedgeKind.SMOOTH,
    combine: Combine | str = Combine.HARD,
    temperature: float = 0.1,
    dtype=None,
) -> WedgeLandscape:
    """Random wedges: wedge $i$'s short basis is the Q factor of a $D\\times n_i$ Gaussian
    (generic, independent across wedges), drawn with `key`."""
    check_key("key", key)
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
        $	heta$ on the core of wedge $i$ to where the hinge loss $\ell_i$ first turns positive.

        With $a = \lVert S_i^	op u
    Vert_\infty$ the loss is zero while
        $f(t) = (a^2-arepsilon^2)t^2 - 2arepsilon^2(	heta\cdot u)t -
        arepsilon^2\lVert	heta
    Vert^2 \le 0$, and $f(0) < 0$. The first crossing is the
        root $t^* = arepsilon^2\lVert	heta
    Vert^2/(\sqrt{\Delta} - arepsilon^2	heta\cdot u)$,
        $\Delta = arepsilon^4(	heta\cdot u)^2 + (a^2-arepsilon^2)arepsilon^2\lVert	heta

    Vert^2$, whenever $\Delta > 0$ and the denominator is positive; otherwise $\infty$.
        For $a > arepsilon$ that is the single positive root. For $a \le arepsilon$ a ray
        heading back toward the apex ($	heta\cdot u < 0$) still leaves the cone near its tip,
        where the cone is thin, if it passes close enough to the origin ($\Delta > 0$), and
        re-enters further on; a ray heading away ($	heta\cdot u \ge 0$) never leaves."""
    theta = jnp.asarray(theta)
    u = jnp.asarray(direction)
    u = u / jnp.linalg.norm(u)
    a = jnp.max(jnp.abs(landscape.bases[i].T @ u))
    e2 = landscape.epsilon**2
    b = e2 * (theta @ u)
    c = e2 * jnp.sum(theta**2)
    disc = b**2 + (a**2 - e2) * c
    den = jnp.sqrt(jnp.maximum(disc, 0.0)) - b
    crosses = (disc > 0) & (den > 0)
    return jnp.where(crosses, c / jnp.where(crosses, den, 1.0), jnp.inf)


@eqx.filter_jit
def measured_escape_distance(
    landscape: WedgeLandscape,
    theta: Float[ArrayLike, " D"],
    direction: Float[ArrayLike, " D"],
    i: int,
    *,
    t_max: Real,
    num_steps: int = 80,
    num_grid: int = 4097,
    tol: float = 0.0,
) -> Float[Array, ""]:
    r"""The first $t\in[0, t_\max]$ where $\ell_i(\theta + tu) >$ `tol`: the first
    positive point of a uniform grid of `num_grid` points, then bisection (`num_steps`
    halvings, a `fori_loop` on the scalar $t$) between it and the grid point before. A ray
    can leave the cone and come back (heading back through the thin tip), so the crossing
    is not unique; excursions shorter than the grid spacing $t_\max/(n - 1)$ are missed.
    Returns `t_max` when the grid finds none."""
    theta = jnp.asarray(theta)
    u = jnp.asarray(direction)
    u = u / jnp.linalg.norm(u)
    f = lambda t: landscape.wedge_losses(theta + t * u)[i] > tol
    grid = jnp.linspace(0.0, jnp.asarray(t_max, theta.dtype), int(num_grid))
    out = jax.vmap(f)(grid)
    k = jnp.argmax(out)  # the first grid point outside (0 when none)
    found = jnp.any(out)

    def body(_, lohi):
        lo, hi = lohi
        mid = 0.5 * (lo + hi)
        out = f(mid)
        return jnp.where(out, lo, mid), jnp.where(out, mid, hi)

    lo, hi = jax.lax.fori_loop(0, int(num_steps), body, (grid[jnp.maximum(k - 1, 0)], grid[k]))
    return jnp.where(found, 0.5 * (lo + hi), jnp.asarray(t_max, theta.dtype))


def log_slope(x: ArrayLike, y: ArrayLike) -> float:
    """Least-squares slope of $\\log y$ against $\\log x$."""
    lx, ly = np.log(np.asarray(x, dtype=np.float64)), np.log(np.asarray(y, dtype=np.float64))
    return float(np.polyfit(lx, ly, 1)[0])


# ------------------------------------------------------------------------------ P2
def curvature_scaling(c: ArrayLike) -> np.ndarray | float:
    """$\\lambda_\\max(\\nabla^2L(c\\theta))/\\lambda_\\max(\\nabla^2L(\\theta)) = c^{-2}$
    for the smooth (degree-0 homogeneous) wedge loss."""
    c = np.asarray(c, dtype=np.float64)
    if np.any(c == 0):
        raise ValueError("c: must be nonzero")
    return c**-2.0


# ------------------------------------------------------------------------------ P3
def equilibrium_norm(
    *, learning_rate: ArrayLike, weight_decay: ArrayLike, noise: float
) -> np.ndarray | float:
    r"""$r_\infty = [\eta\sigma^2/(\lambda(2-\eta\lambda))]^{1/4}$: the fixed point of
    $r^2\mapsto(1-\eta\lambda)^2r^2 + \eta^2\sigma^2/r^2$ (updates orthogonal to
    $\theta$ of norm $\eta\sigma/r$ plus decay)."""
    eta = np.asarray(learning_rate, dtype=np.float64)
    lam = np.asarray(weight_decay, dtype=np.float64)
    if np.any(eta <= 0) or np.any(lam <= 0) or np.any(eta * lam >= 2):
        raise ValueError("learning_rate: need eta > 0, weight_decay > 0 and eta*lambda < 2")
    return (eta * float(noise) ** 2 / (lam * (2 - eta * lam))) ** 0.25


class NoiseState(eqx.Module):
    """State of `scale_invariant_noise`: the PRNG key of the next draw."""

    key: PRNGKeyArray

    def __check_init__(self):
        check_key("key", self.key)


class ScaleInvariantNoise(eqx.Module):
    """The transformation behind `scale_invariant_noise` (an equinox module, so that a new
    noise level or key does not recompile `toymodels.dynamics.run`)."""

    noise: Array
    key: PRNGKeyArray

    def __check_init__(self):
        check_key("key", self.key)

    def init(self, params) -> NoiseState:
        del params
        return NoiseState(key=self.key)

    def update(self, updates, state: NoiseState, params=None):
        if params is None:
            raise ValueError("params: scale_invariant_noise needs the params in update")
        nxt, sub = jr.split(state.key)
        th = params
        d = th.shape[0]
        xi = jr.normal(sub, (d,), th.dtype)
        xi = xi - (xi @ th) / (th @ th) * th
        xi = self.noise.astype(th.dtype) * xi / jnp.sqrt(jnp.asarray(d - 1, th.dtype))
        return updates + xi / jnp.linalg.norm(th), NoiseState(key=nxt)


def scale_invariant_noise(noise: float, *, key: PRNGKeyArray) -> optax.GradientTransformation:
    r"""An optax transformation adding scale-invariant minibatch noise to the gradient:
    $g \mapsto g + \xi/\lVert\theta\rVert$ with $\xi$ Gaussian orthogonal to $\theta$ and
    $\mathbb E\lVert\xi\rVert^2 = \sigma^2$ (`noise` $=\sigma$). Its state (`NoiseState`)
    holds the key: `init` starts from `key`, every `update` splits it and draws with the new
    subkey (never reused). Needs `params` (a flat vector $\theta$) in `update`."""
    check_key("key", key)
    check_positive("noise", noise, allow_zero=True)
    m = ScaleInvariantNoise(noise=jnp.asarray(float(noise)), key=key)
    return optax.GradientTransformation(m.init, m.update)


class _NoisyDecayedSGD(eqx.Module):
    # optax.chain(scale_invariant_noise, add_decayed_weights(wd), sgd(lr)) with array
    # hyperparameters (optax.chain's closures would recompile run at every call).
    noise: ScaleInvariantNoise
    learning_rate: Array
    weight_decay: Array

    def init(self, params):
        return self.noise.init(params)

    def update(self, updates, state, params=None):
        u, state = self.noise.update(updates, state, params)
        lr = self.learning_rate.astype(params.dtype)
        wd = self.weight_decay.astype(params.dtype)
        return -lr * (u + wd * params), state


class WeightDecayTrajectory(eqx.Module):
    r"""Output of `weight_decay_sgd`: the final point `params`, the norms `norms`
    $\lVert\theta_k\rVert$ for $k = 0, \dots,$ `num_steps` (before step $k$; the last one
    is the final point) and the loss at every step `loss`."""

    params: Float[Array, " D"]
    norms: Float[Array, " T1"]  # num_steps + 1
    loss: Float[Array, " T"]


def _norm_of(step, params, opt_state, loss):
    del step, opt_state, loss
    return jnp.linalg.norm(params)


def weight_decay_sgd(
    landscape: WedgeLandscape,
    theta0: Float[ArrayLike, " D"],
    *,
    key: PRNGKeyArray,
    learning_rate: float,
    weight_decay: float,
    noise: float,
    num_steps: int,
) -> WeightDecayTrajectory:
    r"""Noisy GD with weight decay on a scale-invariant landscape:
    $\theta\leftarrow(1-\eta\lambda)\theta - \eta(\nabla L + \xi/\lVert\theta\rVert)$ with
    $\xi\perp\theta$ Gaussian, $\mathbb E\lVert\xi\rVert^2 = \sigma^2$ (scale-invariant
    minibatch noise), through `toymodels.dynamics.run` with the optimizer
    `scale_invariant_noise(σ)` → `optax.add_decayed_weights(λ)` → `optax.sgd(η)` (fused
    into one transformation with array hyperparameters: new values do not recompile).
    Returns a `WeightDecayTrajectory` (the norms at every step)."""
    check_key("key", key)
    check_positive("learning_rate", learning_rate)
    check_positive("weight_decay", weight_decay, allow_zero=True)
    check_positive("noise", noise, allow_zero=True)
    k_noise, k_run = jr.split(key)
    opt = _NoisyDecayedSGD(
        noise=ScaleInvariantNoise(noise=jnp.asarray(float(noise)), key=k_noise),
        learning_rate=jnp.asarray(float(learning_rate)),
        weight_decay=jnp.asarray(float(weight_decay)),
    )
    tx = optax.GradientTransformation(opt.init, opt.update)
    traj = run(
        landscape,
        jnp.asarray(theta0),
        tx,
        num_steps=int(num_steps),
        key=k_run,  # no minibatches: run draws nothing from it
        save=Save(every=1, fn=_norm_of),
        stop=Stop(loss_ratio=None),
    )
    return WeightDecayTrajectory(params=traj.params, norms=traj.saved, loss=traj.loss)


# ------------------------------------------------------------------------------ P4
def subspace_threshold(short_dims: Sequence[int]) -> int:
    """Smallest $d$ at which a generic $d$-dimensional affine plane meets some wedge core:
    $\\min_i n_i$."""
    ns = [int(n) for n in short_dims]
    if not ns or min(ns) < 1:
        raise ValueError(f"short_dims: expected positive ints, got {short_dims!r}")
    return min(ns)


# optax's L-BFGS with its zoom line search (strong Wolfe), wrapped as an optimistix
# minimiser; tolerances for float64 (a run that meets a core ends at a loss ~1e-30). The
# scale-invariant loss tends to a plateau as |z| -> oo, and a backtracking BFGS
# (`optx.BFGS`) runs off to it more often at d = n (1/6 against 4/6 starts on the test's
# wedge).
_SUBSPACE_SOLVER = optx.OptaxMinimiser(optax.lbfgs(), rtol=1e-13, atol=1e-13)


def _bucket(n: int) -> int:
    return 1 << max(0, int(n) - 1).bit_length()  # the next power of two


@filter_jit  # eqx.filter_jit's rule, with the linalg programs' XLA:CPU options
def _subspace_min(landscape, key, dims, max_trials, solver, max_steps):
    # One program for the whole experiment: θ0, the random planes of every d (each drawn
    # as the first T·D·d normals of its key's stream of max_trials·D·D, which are the
    # normals of shape (T, D, d): threefry's bits depend on the flat index only, as do the
    # keys of a split), their Q factors (Householder: the first d columns of Q depend on
    # the first d columns only) with the columns beyond d zeroed, and the L-BFGS
    # minimisations. `dims` (padded to a power of two) is an array: other sizes, counts up
    # to the bucket and trial numbers up to `max_trials` compile nothing; the padded
    # entries are computed and dropped by the caller.
    dim, dt = landscape.dim, landscape.bases.dtype
    k0, kp = jr.split(key)
    theta0 = jr.normal(k0, (dim,), dt)
    ti = jnp.arange(max_trials)[:, None, None]
    ii = jnp.arange(dim)[None, :, None]
    jj = jnp.arange(dim)[None, None, :]

    def plane(k, d):
        flat = jr.normal(k, (max_trials * dim * dim,), dt)
        keep = jj < d
        a = jnp.where(keep, flat[jnp.where(keep, ti * dim * d + ii * d + jj, 0)], 0.0)
        return jnp.where(keep, jnp.linalg.qr(a)[0], 0.0)

    bases = jax.vmap(plane)(jr.split(kp, dims.shape[0]), dims).reshape(-1, dim, dim)

    def one(p):
        sub = SubspaceProblem(landscape, theta0, p)
        z0 = jnp.zeros((p.shape[1],), theta0.dtype)
        return minimize(sub, z0, solver=solver, max_steps=max_steps).loss

    # lax.map, not vmap: a batched while loop (L-BFGS with its zoom line search) is a
    # larger program (trace 1.3 s, compile 4.1 s CPU against 0.2 s and 2.8 s)
    return jax.lax.map(one, bases).reshape(dims.shape[0], max_trials)


def subspace_losses(
    landscape: WedgeLandscape,
    dims: Sequence[int],
    *,
    key: PRNGKeyArray,
    num_trials: int = 8,
    max_steps: int = 300,
) -> np.ndarray | float:
    r"""Final losses (a numpy array, dims × trials) of minimising over $z$ in $\theta_0 + Pz$ (the problem transform
    `toymodels.landscape.SubspaceProblem`, L-BFGS through `toymodels.dynamics.minimize`, at most `max_steps` steps
    from $z = 0$) for every $d$ in `dims` and `num_trials` random orthonormal $P$
    ($D\times d$) from one standard normal $\theta_0$. All $d$ share one compiled program
    ($P$ is padded with zero columns to $D$; the padded coordinates have zero gradient and
    stay at 0), and so do other `dims` and `num_trials` up to the next power of two of
    their count (the padded trials are computed and dropped)."""
    check_key("key", key)
    dims = [int(d) for d in dims]
    if not dims or min(dims) < 1 or max(dims) > landscape.dim:
        raise ValueError(f"dims: each d must be in [1, {landscape.dim}], got {dims}")
    if int(num_trials) < 1:
        raise ValueError(f"num_trials: must be >= 1, got {num_trials}")
    if int(max_steps) < 1:
        raise ValueError(f"max_steps: must be >= 1, got {max_steps}")
    n, t = len(dims), int(num_trials)
    padded = np.full(_bucket(n), dims[0])
    padded[:n] = dims
    # ε and T as arrays (python floats would be static leaves of the jitted program):
    # another ε or temperature compiles nothing, and computes the same floats
    dt = landscape.bases.dtype
    traced = dataclasses.replace(
        landscape,
        epsilon=jnp.asarray(landscape.epsilon, dt),
        temperature=jnp.asarray(landscape.temperature, dt),
    )
    out = _subspace_min(traced, key, padded, _bucket(t), _SUBSPACE_SOLVER, int(max_steps))
    return np.asarray(out)[:n, :t]  # sliced on the host: no program per shape


def success_rate(losses: ArrayLike, *, tol: float = 1e-12) -> np.ndarray | float:
    """Fraction of trials (last axis) whose final loss is below `tol`."""
    return np.mean(np.asarray(losses) < float(tol), axis=-1)


# ------------------------------------------------------------------------------ P5
def has_common_intersection(*, dim: int, short_dims: Sequence[int]) -> bool:
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


class Simplex(eqx.Module):
    """Solutions `solutions` $(m, D)$ (one per wedge, on its core), the common point
    `center`, and the largest loss on the segments solution→center (`path_max`) and on the
    straight segments between solutions (`direct_max`)."""

    solutions: Array
    center: Array
    path_max: Array
    direct_max: Array


def connect_through_intersection(
    landscape: WedgeLandscape, indices: Sequence[int], *, key: PRNGKeyArray, num_points: int = 65
) -> Simplex:
    """Pick a solution on each chosen wedge's core (a random point projected onto it,
    rescaled to the center's norm), join each to the common point by a straight segment and
    evaluate the landscape loss along these segments and along the direct segments."""
    check_key("key", key)
    idx = [int(i) for i in indices]
    center = common_point(landscape, idx)
    r = jnp.sqrt(jnp.asarray(landscape.dim, center.dtype))
    center = r * center
    sols = []
    for k, i in zip(jr.split(key, len(idx)), idx):
        s = landscape.core_projection(jr.normal(k, (landscape.dim,), center.dtype), i)
        sols.append(r * s / jnp.linalg.norm(s))
    sols = jnp.stack(sols)
    ts = jnp.linspace(0.0, 1.0, int(num_points))
    seg = lambda a, b: jax.vmap(lambda t: landscape.loss((1 - t) * a + t * b))(ts)
    path = jnp.max(jnp.stack([seg(s, center) for s in sols]))
    direct = jnp.stack(
        [jnp.max(seg(sols[a], sols[b])) for a in range(len(idx)) for b in range(a + 1, len(idx))]
    )
    return Simplex(solutions=sols, center=center, path_max=path, direct_max=direct)


# ------------------------------------------------------------------------------ P6
def ensemble_loss_ratio(num_members: Numbers) -> np.ndarray | float:
    """Predicted $\\ell_i(\\bar\\theta)/\\langle\\ell_i(\\theta_k)\\rangle \\approx 1/K$ for
    $K$ members $\\theta_k = c + \\delta_k$ of one smooth wedge ($c$ on the core, i.i.d.
    small isotropic short-direction noise $\\delta_k$)."""
    k = np.asarray(num_members, dtype=np.float64)
    if np.any(k < 1):
        raise ValueError("num_members: must be >= 1")
    return 1.0 / k


class EnsembleLosses(eqx.Module):
    """Output of `ensemble_losses`: the loss of the members' average `average_loss` and the
    members' mean loss `mean_loss`."""

    average_loss: Array
    mean_loss: Array


def ensemble_losses(
    landscape: WedgeLandscape,
    i: int,
    *,
    num_members: int,
    key: PRNGKeyArray,
    spread: float,
) -> EnsembleLosses:
    """`num_members` points of wedge `i`: a core point of norm $\\sqrt D$ plus
    short-direction noise of std `spread`; the smooth loss $\\ell_i$ of their average and
    their mean loss."""
    check_key("key", key)
    kc, kn = jr.split(key)
    dim = landscape.dim
    c = landscape.core_projection(jr.normal(kc, (dim,), landscape.bases.dtype), i)
    c = jnp.sqrt(jnp.asarray(dim, c.dtype)) * c / jnp.linalg.norm(c)
    s = landscape.bases[i]
    noise = spread * jr.normal(kn, (int(num_members), s.shape[1]), c.dtype) @ s.T
    pts = c + noise
    f = jax.vmap(lambda th: landscape.wedge_losses(th)[i])
    return EnsembleLosses(
        average_loss=f(jnp.mean(pts, axis=0, keepdims=True))[0], mean_loss=jnp.mean(f(pts))
    )
