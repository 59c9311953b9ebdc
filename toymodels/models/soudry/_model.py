r"""Soudry & Carmon (2016), "No bad local minima": a one-hidden-layer leaky-ReLU network with
a fixed dropout-like multiplicative noise, its Khatri–Rao matrix, and training to a minimum.

Model, data laid out (samples, features): inputs $X\in\mathbb R^{N\times d_0}$ (row $n$ is
sample $x_n$), pre-activations $U = XW_1^\top \in\mathbb R^{N\times d_1}$,
$V = f(U)\circ E$ with $f(u) = u$ for $u>0$ and $su$ otherwise ($s\ne1$) and a fixed noise
realisation $E\in\mathbb R^{N\times d_1}$; outputs $\hat y = Vw_2$; loss
$\mathrm{MSE} = \frac1N\lVert\hat y - y\rVert^2$ (no ½). Params: `{"W": (d1, d0),
"w2": (d1,)}`.

At a differentiable local minimum, $\nabla_{W_1}\mathrm{MSE} = 0$ reads $(G*X)^\top e = 0$
with $G = (A\circ E)\,\mathrm{diag}(w_2)$ ($N\times d_1$), $A$ the slope pattern ($1$ or
$s$), $G*X$ the row-wise Khatri–Rao product ($N\times d_1d_0$, row $n$ is
$G_{n,:}\otimes X_{n,:}$; the paper's column-wise matrix transposed) and
$e = \hat y - y$. For almost every $(X, E)$ the matrix has rank $\min(N, d_0d_1)$, so when
$N\le d_0d_1$ every differentiable local minimum has zero training error. (The precise
statement is [R] in the spec: reconstructed from the abstract.) Training can still stall at
*non-differentiable* points (a pre-activation at exactly 0), which `fit` reports through
the smallest $|U|$.
"""

import functools

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optimistix as optx
from jaxtyping import Array, Float, PRNGKeyArray

from ..._custom_types import Params, Scalar
from ..._validation import as_float_array, check_key
from ...dynamics import StopCode, minimize
from ...problems import AbstractProblem


class SoudryCarmon(AbstractProblem):
    """The noisy one-hidden-layer leaky-ReLU regression of the module docs (data
    (samples, features)). Has the minibatch protocol (`num_samples`, `batch`)."""

    x: Array  # (N, d0)
    y: Array  # (N,)
    noise: Array  # (N, d1)
    slope: float = eqx.field(static=True, default=0.1)

    @property
    def d0(self) -> int:
        return self.x.shape[1]

    @property
    def d1(self) -> int:
        return self.noise.shape[1]

    @property
    def num_samples(self) -> int:
        return self.x.shape[0]

    def batch(self, indices: Array) -> "SoudryCarmon":
        """The same problem on the samples `indices` (their noise rows included)."""
        return SoudryCarmon(
            x=self.x[indices], y=self.y[indices], noise=self.noise[indices], slope=self.slope
        )

    def preactivations(self, params: Params) -> Float[Array, "N d1"]:
        return self.x @ params["W"].T

    def outputs(self, params: Params) -> Float[Array, " N"]:
        U = self.preactivations(params)
        V = jnp.where(U > 0, U, self.slope * U) * self.noise
        return V @ params["w2"]

    def loss(self, params: Params) -> Scalar:
        return jnp.mean((self.outputs(params) - self.y) ** 2)

    def init(self, key: PRNGKeyArray) -> Params:
        check_key("key", key)
        return _init(key, self.d0, self.d1, self.x.dtype)

    def khatri_rao(self, params: Params) -> Float[Array, "N d1d0"]:
        r"""$G * X$ row-wise: row $n$ is $G_{n,:}\otimes X_{n,:}$,
        $G = (A\circ E)\,\mathrm{diag}(w_2)$; so $\nabla_{W_1}\mathrm{MSE} =
        \tfrac2N\,\mathrm{reshape}_{d_1\times d_0}((G*X)^\top e)$."""
        U = self.preactivations(params)
        A = jnp.where(U > 0, 1.0, self.slope)
        G = A * self.noise * params["w2"]
        return jnp.einsum("ni,nj->nij", G, self.x).reshape(self.num_samples, self.d1 * self.d0)


@functools.partial(jax.jit, static_argnums=(1, 2, 3))
def _init(key, d0, d1, dtype):
    # one compiled program per shape (not a string of eager operations)
    k1, k2 = jr.split(key)
    return {
        "W": jr.normal(k1, (d1, d0), dtype) / jnp.sqrt(jnp.asarray(d0, dtype)),
        "w2": jr.normal(k2, (d1,), dtype) / jnp.sqrt(jnp.asarray(d1, dtype)),
    }


@functools.partial(jax.jit, static_argnums=(1, 2, 3, 4))
def _draw(key, num_samples, d0, d1, dtype, lo, hi):
    kx, ky, ke = jr.split(key, 3)
    return (
        jr.normal(kx, (num_samples, d0), dtype),
        jr.normal(ky, (num_samples,), dtype),
        jr.uniform(ke, (num_samples, d1), dtype, lo, hi),
    )


def _check_size(name, v):
    if not isinstance(v, int | np.integer) or isinstance(v, bool) or v < 1:
        raise ValueError(f"{name}: must be a positive integer, got {v!r}")
    return int(v)


def soudry_carmon(
    *,
    key: PRNGKeyArray,
    d0: int,
    d1: int,
    num_samples: int,
    slope: float = 0.1,
    noise_range: tuple[float, float] = (0.5, 1.5),
    dtype=None,
) -> SoudryCarmon:
    r"""Random instance: inputs $X$ `(num_samples, d0)` and labels $y$ standard normal (random
    labels), noise $E$ `(num_samples, d1)` $\sim U[\text{noise\_range}]$, leaky slope
    `slope`."""
    check_key("key", key)
    d0, d1, num_samples = (
        _check_size(n, v) for n, v in (("d0", d0), ("d1", d1), ("num_samples", num_samples))
    )
    s = float(slope)
    if not np.isfinite(s) or s == 1.0:
        raise ValueError(f"slope: must be finite and != 1 (piecewise linear), got {slope!r}")
    lo, hi = (float(t) for t in noise_range)
    if not (0 < lo < hi):
        raise ValueError(f"noise_range: expected 0 < low < high, got {noise_range!r}")
    dtype = jnp.result_type(float) if dtype is None else dtype
    x, y, noise = _draw(key, num_samples, d0, d1, jnp.dtype(dtype), lo, hi)
    return SoudryCarmon(x=x, y=y, noise=noise, slope=s)


def from_data(x, y, noise, *, slope: float = 0.1) -> SoudryCarmon:
    """A problem on given data `x` `(N, d0)`, labels `y` `(N,)`, noise `(N, d1)`."""
    x = as_float_array("x", x, ndim=2)
    y = as_float_array("y", y, ndim=1).astype(x.dtype)
    noise = as_float_array("noise", noise, ndim=2).astype(x.dtype)
    if y.shape[0] != x.shape[0]:
        raise ValueError(f"y: has {y.shape[0]} samples but x has {x.shape[0]} rows")
    if noise.shape[0] != x.shape[0]:
        raise ValueError(f"noise: has {noise.shape[0]} rows but x has {x.shape[0]}")
    if float(slope) == 1.0:
        raise ValueError("slope: must be != 1")
    return SoudryCarmon(x=x, y=y, noise=noise, slope=float(slope))


class SoudryCarmonFit(eqx.Module):
    """Output of `fit`: the final `params`, the training `mse`, `grad_norm` (∞-norm of the
    gradient), `min_abs_preactivation` (≈ 0 flags a non-differentiable point), `rank` of
    the Khatri–Rao matrix there, the minimiser's `num_steps` and `stop_reason`."""

    params: Params
    mse: float
    grad_norm: float
    min_abs_preactivation: float
    rank: int
    num_steps: int
    stop_reason: StopCode


def fit(
    problem: SoudryCarmon,
    params0: Params,
    *,
    num_steps: int = 1000,
    solver: optx.AbstractMinimiser | None = None,
) -> SoudryCarmonFit:
    r"""Minimise the training MSE from `params0` with `toymodels.dynamics.minimize` (default
    `optx.BFGS(rtol=1e-13, atol=1e-13)`: quasi-Newton with a line search, at most
    `num_steps` iterations; any optimistix minimiser can be passed) and report the outcome
    (`SoudryCarmonFit`). The paper's claim concerns the minima reached, not the method."""
    if int(num_steps) < 1:
        raise ValueError(f"num_steps: must be >= 1, got {num_steps}")
    if solver is None:
        solver = optx.BFGS(rtol=1e-13, atol=1e-13)
    m = minimize(problem, params0, solver=solver, max_steps=int(num_steps))
    p = m.params
    min_pre, rank = _diagnostics(problem, p)
    return SoudryCarmonFit(
        params=p,
        mse=float(m.loss),
        grad_norm=float(m.grad_norm),
        min_abs_preactivation=float(min_pre),
        rank=int(rank),
        num_steps=int(m.num_steps),
        stop_reason=m.stop_reason,
    )


@eqx.filter_jit
def _diagnostics(problem, p):
    # the smallest |pre-activation| and rank(G∗X) in one compiled program
    return jnp.min(jnp.abs(problem.preactivations(p))), jnp.linalg.matrix_rank(
        problem.khatri_rao(p)
    )


def khatri_rao_rank(problem: SoudryCarmon, params: Params) -> int:
    """Numerical rank of $G*X$ at `params`."""
    return int(jnp.linalg.matrix_rank(problem.khatri_rao(params)))


def predicted_rank(problem: SoudryCarmon) -> int:
    """The generic rank $\\min(N, d_0d_1)$."""
    return min(problem.num_samples, problem.d0 * problem.d1)
