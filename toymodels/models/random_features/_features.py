r"""Random-feature regression Hessians.

Features $F = \sigma(XW)$ with $X$ an $n\times d$ matrix of i.i.d. $\mathcal N(0,1)$ inputs
and $W$ a $d\times p$ matrix of i.i.d. $\mathcal N(0, 1/d)$ weights; the readout $a$ is fitted
by $L(a) = \frac1{2n}\lVert Fa - y\rVert^2$, whose Hessian is $H = F^\top F/n$ ($p\times p$).

Predictions (proportional limit $n, d, p\to\infty$, $\gamma = p/n$, $\psi = p/d$):

- i.i.d. features ($\mu_1 = 0$, or $\psi\to0$): Marchenko–Pastur with ratio $\gamma$ and
  variance $\mathbb E\sigma(g)^2$;
- general $\sigma$ with $\mu_0 = \mathbb E\sigma(g) = 0$ (Gaussian equivalence): the rows of
  $F$ behave as samples with population covariance $K = \mu_1^2 W^\top W + \mu_*^2 I$,
  $\mu_1 = \mathbb E[g\sigma(g)]$, $\mu_*^2 = \mathbb E\sigma(g)^2 - \mu_0^2 - \mu_1^2$, so the
  spectrum of $H$ solves the Silverstein equation with the population law
  $\mu_*^2 + \mu_1^2\,\mathrm{MP}(\psi)$ (the nonlinear random-feature spectrum of Pennington
  & Worah 2017). A nonzero $\mu_0$ adds one outlier near $\mu_0^2 p$.
"""

import equinox as eqx
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from ..._custom_types import Params
from ..._validation import as_enum, check_key, check_positive
from ...problems._activations import Activation, activation_function
from ...problems._base import MSE, AbstractObjective, AbstractSupervisedProblem


class RandomFeatureRegression(AbstractSupervisedProblem):
    r"""Least squares on frozen random features: params $a\in\mathbb R^p$,
    $L(a) = \frac1{2n}\lVert\sigma(XW)a - y\rVert^2$, Hessian $F^\top F/n$."""

    x: Array
    targets: Array
    weights: Array
    objective: AbstractObjective
    activation: Activation = eqx.field(static=True)

    def features(self, x: Array) -> Array:
        return activation_function(self.activation)(x @ self.weights)

    def apply(self, params: Params, x: Array) -> Array:
        return self.features(x) @ params

    def init(self, key: PRNGKeyArray) -> Params:
        check_key("key", key)
        return jnp.zeros((self.weights.shape[1],), self.x.dtype)


def random_feature_regression(
    *,
    key: PRNGKeyArray,
    num_samples: int,
    dim: int,
    num_features: int,
    activation: Activation | str = "tanh",
    dtype=None,
) -> RandomFeatureRegression:
    """A `RandomFeatureRegression` with Gaussian inputs $X$ ($n\\times d$), weights
    $W\\sim\\mathcal N(0, 1/d)$ ($d\\times p$) and targets from a random linear teacher, drawn
    with `key`."""
    check_key("key", key)
    n, d, p = (
        _int(nm, v)
        for nm, v in (("num_samples", num_samples), ("dim", dim), ("num_features", num_features))
    )
    act = as_enum("activation", activation, Activation)
    dtype = jnp.result_type(float) if dtype is None else dtype
    kx, kw, kt = jr.split(key, 3)
    x = jr.normal(kx, (n, d), dtype)
    w = jr.normal(kw, (d, p), dtype) / np.sqrt(d)
    y = x @ jr.normal(kt, (d,), dtype) / np.sqrt(d)
    return RandomFeatureRegression(x=x, targets=y, weights=w, objective=MSE(), activation=act)


def feature_hessian(problem: RandomFeatureRegression) -> Float[Array, "p p"]:
    """$F^\\top F/n$, the (parameter-independent) Hessian of the readout loss."""
    f = problem.features(problem.x)
    return f.T @ f / f.shape[0]


def _int(name, v):
    if isinstance(v, bool) or not isinstance(v, int | np.integer) or int(v) < 1:
        raise ValueError(f"{name}: expected a positive int, got {v!r}")
    return int(v)


class GaussianMoments(eqx.Module):
    r"""$\mu_0 = \mathbb E\sigma(g)$, $\mu_1 = \mathbb E[g\sigma(g)]$,
    $\mu_*^2 = \mathbb E\sigma(g)^2 - \mu_0^2 - \mu_1^2$ for $g\sim\mathcal N(0,1)$."""

    mu0: float
    mu1: float
    mu_star: float


def gaussian_moments(activation: Activation | str, *, order: int = 120) -> GaussianMoments:
    """Hermite coefficients of the activation under a standard Gaussian (Gauss–Hermite
    quadrature with `order` nodes)."""
    act = as_enum("activation", activation, Activation)
    g, w = np.polynomial.hermite_e.hermegauss(int(order))
    w = w / w.sum()
    f = np.asarray(activation_function(act)(jnp.asarray(g)), dtype=np.float64)
    m0 = float(w @ f)
    m1 = float(w @ (g * f))
    m2 = float(w @ f**2)
    return GaussianMoments(mu0=m0, mu1=m1, mu_star=float(np.sqrt(max(m2 - m0**2 - m1**2, 0.0))))


def _mp_quantiles(ratio: float, sigma2: float, count: int) -> np.ndarray | float:
    """`count` atoms at mid-quantiles of Marchenko–Pastur(ratio, sigma2) (with its atom at
    0 when ratio > 1)."""
    from ...rmt import marchenko_pastur_density, marchenko_pastur_edges

    lo, hi = marchenko_pastur_edges(ratio, sigma2=sigma2)
    xs = np.linspace(lo, hi, 20001)
    dens = marchenko_pastur_density(xs, ratio, sigma2=sigma2)
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (dens[1:] + dens[:-1]) * np.diff(xs))])
    atom = max(0.0, 1.0 - 1.0 / ratio)
    cdf = atom + cdf * (1.0 - atom) / cdf[-1]
    q = (np.arange(count) + 0.5) / count
    return np.where(q <= atom, 0.0, np.interp(q, cdf, xs))


def silverstein_density(
    x: ArrayLike,
    population: ArrayLike,
    gamma: float,
    *,
    eta: float | None = None,
    max_steps: int = 3000,
    tol: float = 1e-9,
) -> np.ndarray | float:
    r"""Density of the spectrum of $\frac1n\sum_{i=1}^n f_if_i^\top$ ($p\times p$,
    $\gamma = p/n$) for samples with population covariance eigenvalues `population`:
    the companion Stieltjes transform solves
    $\underline m = -\big(z - \gamma\langle\tau/(1+\tau\underline m)\rangle\big)^{-1}$
    (Silverstein 1995), iterated with damping (at most `max_steps` sweeps, until the relative
    change is below `tol`) at $z = x + i\eta$; the density is
    $\operatorname{Im} m/\pi$ with $m = (\underline m + (1-\gamma)/z)/\gamma$."""
    tau = np.asarray(population, dtype=np.float64)
    g = float(gamma)
    check_positive("gamma", g)
    x = np.asarray(x, dtype=np.float64)
    scale = max(float(np.mean(tau)), 1e-300)
    eta = 1e-3 * scale if eta is None else float(eta)
    z = x + 1j * eta
    m = -1.0 / z
    # A damped fixed-point iteration of the Silverstein equation on the grid (NumPy; not
    # training: nothing here moves params), at most `max_steps` sweeps.
    for _ in range(int(max_steps)):
        new = -1.0 / (z - g * np.mean(tau[None, :] / (1.0 + tau[None, :] * m[:, None]), axis=1))
        done = np.max(np.abs(new - m)) <= tol * np.max(np.abs(m))
        m = 0.5 * m + 0.5 * new
        if done:
            break
    mm = (m + (1.0 - g) / z) / g
    return np.maximum(mm.imag / np.pi, 0.0)


def random_feature_density(
    x: ArrayLike,
    *,
    gamma: float,
    psi: float,
    activation: Activation | str,
    atoms: int = 200,
) -> np.ndarray | float:
    r"""Predicted density of $F^\top F/n$ (continuous part) for $\gamma = p/n$,
    $\psi = p/d$: Silverstein with population $\mu_*^2 + \mu_1^2\,\mathrm{MP}(\psi)$
    (`atoms` quantiles). Assumes $\mu_0 = 0$ (odd activations); otherwise one outlier is
    not part of this density."""
    check_positive("psi", psi)
    mom = gaussian_moments(activation)
    pop = mom.mu_star**2 + mom.mu1**2 * _mp_quantiles(float(psi), 1.0, int(atoms))
    return silverstein_density(x, pop, gamma)


def density_cdf(x: ArrayLike, density: ArrayLike) -> np.ndarray | float:
    """Trapezoid CDF of a density on the grid `x`, normalised to end at 1."""
    x = np.asarray(x, dtype=np.float64)
    d = np.asarray(density, dtype=np.float64)
    c = np.concatenate([[0.0], np.cumsum(0.5 * (d[1:] + d[:-1]) * np.diff(x))])
    return c / c[-1]


def kolmogorov_distance(eigenvalues: ArrayLike, x: ArrayLike, cdf: ArrayLike) -> float:
    """$\\sup_x|F_\\text{emp}(x) - F(x)|$ on the grid `x` (empirical CDF of
    `eigenvalues`)."""
    ev = np.sort(np.asarray(eigenvalues, dtype=np.float64))
    x = np.asarray(x, dtype=np.float64)
    emp = np.searchsorted(ev, x, side="right") / ev.size
    return float(np.max(np.abs(emp - np.asarray(cdf))))
