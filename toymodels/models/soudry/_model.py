r"""Soudry & Carmon (2016), "No bad local minima": a one-hidden-layer leaky-ReLU network with
a fixed dropout-like multiplicative noise, its Khatri–Rao matrix, and training.

Model (data as columns, the paper's convention): $X\in\mathbb R^{d_0\times N}$,
$U = W_1X$, $V = f(U)\circ E$ with $f(u) = u$ for $u>0$ and $su$ otherwise ($s\ne1$) and a
fixed noise realisation $E\in\mathbb R^{d_1\times N}$; output $\hat y = w_2^\top V$; loss
$\mathrm{MSE} = \frac1N\lVert\hat y - y\rVert^2$ (no ½). Params: `{"W": (d1, d0),
"w2": (d1,)}`.

At a differentiable local minimum, $\nabla_{W_1}\mathrm{MSE} = 0$ reads $(G*X)\,e = 0$ with
$G = \mathrm{diag}(w_2)(A\circ E)$, $A$ the slope pattern ($1$ or $s$), $*$ the column-wise
Khatri–Rao product ($d_0d_1\times N$) and $e = \hat y - y$. For almost every $(X, E)$ the
matrix has rank $\min(N, d_0d_1)$, so when $N\le d_0d_1$ every differentiable local minimum
has zero training error. (The precise statement is [R] in the spec: reconstructed from the
abstract.) Training can still stall at *non-differentiable* points (a pre-activation at
exactly 0), which `train` reports through the smallest $|U|$.
"""

import equinox as eqx
import jax
import jax.flatten_util
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, Float, PRNGKeyArray

from ..._custom_types import Params, Scalar
from ..._validation import as_float_array
from ...problems import AbstractProblem


class SoudryCarmon(AbstractProblem):
    """The noisy one-hidden-layer leaky-ReLU regression of the module docs."""

    x: Array  # (d0, N)
    y: Array  # (N,)
    noise: Array  # (d1, N)
    slope: float = eqx.field(static=True, default=0.1)

    @property
    def d0(self) -> int:
        return self.x.shape[0]

    @property
    def d1(self) -> int:
        return self.noise.shape[0]

    @property
    def num_samples(self) -> int:
        return self.x.shape[1]

    def preactivations(self, params: Params) -> Array:
        return params["W"] @ self.x

    def outputs(self, params: Params) -> Array:
        U = self.preactivations(params)
        V = jnp.where(U > 0, U, self.slope * U) * self.noise
        return params["w2"] @ V

    def loss(self, params: Params) -> Scalar:
        return jnp.mean((self.outputs(params) - self.y) ** 2)

    def init(self, key: PRNGKeyArray) -> Params:
        k1, k2 = jr.split(key)
        dt = self.x.dtype
        return {
            "W": jr.normal(k1, (self.d1, self.d0), dt) / jnp.sqrt(jnp.asarray(self.d0, dt)),
            "w2": jr.normal(k2, (self.d1,), dt) / jnp.sqrt(jnp.asarray(self.d1, dt)),
        }

    def khatri_rao(self, params: Params) -> Float[Array, "d0d1 N"]:
        r"""$G * X$: column $n$ is $G_{:,n}\otimes X_{:,n}$, $G = \mathrm{diag}(w_2)(A\circ E)$."""
        U = self.preactivations(params)
        A = jnp.where(U > 0, 1.0, self.slope)
        G = params["w2"][:, None] * A * self.noise
        return jnp.einsum("in,jn->ijn", G, self.x).reshape(self.d1 * self.d0, self.num_samples)


def soudry_carmon(
    key: PRNGKeyArray,
    d0: int,
    d1: int,
    num_samples: int,
    *,
    slope: float = 0.1,
    noise_range: tuple[float, float] = (0.5, 1.5),
    dtype=None,
) -> SoudryCarmon:
    r"""Random instance: $X$ and labels $y$ standard normal (random labels), noise
    $E\sim U[\text{noise\_range}]$, leaky slope `slope`."""
    for name, v in (("d0", d0), ("d1", d1), ("num_samples", num_samples)):
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ValueError(f"{name}: must be a positive integer, got {v!r}")
    s = float(slope)
    if not jnp.isfinite(s) or s == 1.0:
        raise ValueError(f"slope: must be finite and != 1 (piecewise linear), got {slope!r}")
    lo, hi = (float(t) for t in noise_range)
    if not (0 < lo < hi):
        raise ValueError(f"noise_range: expected 0 < low < high, got {noise_range!r}")
    dtype = jnp.result_type(float) if dtype is None else dtype
    kx, ky, ke = jr.split(key, 3)
    return SoudryCarmon(
        x=jr.normal(kx, (d0, num_samples), dtype),
        y=jr.normal(ky, (num_samples,), dtype),
        noise=jr.uniform(ke, (d1, num_samples), dtype, lo, hi),
        slope=s,
    )


def from_data(x, y, noise, *, slope: float = 0.1) -> SoudryCarmon:
    """A problem on given data `x` `(d0, N)`, labels `y` `(N,)`, noise `(d1, N)`."""
    x = as_float_array("x", x, ndim=2)
    y = as_float_array("y", y, ndim=1).astype(x.dtype)
    noise = as_float_array("noise", noise, ndim=2).astype(x.dtype)
    if y.shape[0] != x.shape[1]:
        raise ValueError(f"y: has {y.shape[0]} samples but x has {x.shape[1]} columns")
    if noise.shape[1] != x.shape[1]:
        raise ValueError(f"noise: has {noise.shape[1]} columns but x has {x.shape[1]}")
    if float(slope) == 1.0:
        raise ValueError("slope: must be != 1")
    return SoudryCarmon(x=x, y=y, noise=noise, slope=float(slope))


def train(problem: SoudryCarmon, params: Params, *, steps: int = 300) -> tuple[Params, dict]:
    r"""Levenberg–Marquardt (damped Gauss–Newton on the residuals, a full Jacobian: the
    problem is small) for `steps` iterations in `lax.scan`, damping adapted on each step.
    Returns `(params, info)` with `mse`, `grad_inf` (∞-norm of the gradient),
    `min_abs_preactivation` (≈ 0 flags a non-differentiable point) and `rank` of the
    Khatri–Rao matrix at the end."""
    if int(steps) < 1:
        raise ValueError(f"steps: must be >= 1, got {steps}")
    p = _lm(problem, params, int(steps))
    g, _ = jax.flatten_util.ravel_pytree(jax.grad(problem.loss)(p))
    KR = problem.khatri_rao(p)
    return p, {
        "mse": float(problem.loss(p)),
        "grad_inf": float(jnp.max(jnp.abs(g))),
        "min_abs_preactivation": float(jnp.min(jnp.abs(problem.preactivations(p)))),
        "rank": int(jnp.linalg.matrix_rank(KR)),
    }


@eqx.filter_jit
def _lm(problem, params, steps):
    x0, unravel = jax.flatten_util.ravel_pytree(params)

    def resid(z):
        return problem.outputs(unravel(z)) - problem.y

    def body(carry, _):
        x, mu = carry
        r = resid(x)
        J = jax.jacfwd(resid)(x)
        JtJ = J.T @ J
        step = jnp.linalg.solve(JtJ + mu * jnp.eye(x.size, dtype=x.dtype), J.T @ r)
        xn = x - step
        ok = jnp.sum(resid(xn) ** 2) < jnp.sum(r**2)
        return (jnp.where(ok, xn, x), jnp.where(ok, mu / 3.0, mu * 4.0)), None

    (x, _), _ = jax.lax.scan(body, (x0, jnp.asarray(1e-2, x0.dtype)), None, length=steps)
    return unravel(x)


def khatri_rao_rank(problem: SoudryCarmon, params: Params) -> int:
    """Numerical rank of $G*X$ at `params`."""
    return int(jnp.linalg.matrix_rank(problem.khatri_rao(params)))


def predicted_rank(problem: SoudryCarmon) -> int:
    """The generic rank $\\min(N, d_0d_1)$."""
    return min(problem.num_samples, problem.d0 * problem.d1)
