r"""Spectral density by stochastic Lanczos quadrature (SLQ; Golub–Meurant, Ubaru–Chen–Saad
2017, Ghorbani–Krishnan–Xiao 2019).

Target: the spectral measure $\phi(t) = \frac1n\sum_i \delta(t-\lambda_i)$. For a unit
probe $v$ ($v = z/\lVert z\rVert$, $z$ Gaussian, so $E[vv^\top] = I/n$), $m$ Lanczos steps
from $v$ give $T_m = S\,\mathrm{diag}(\ell)\,S^\top$ and the Gauss quadrature
$v^\top f(A) v \approx \sum_{i=1}^m \omega_i f(\ell_i)$ with nodes $\ell_i$ and weights
$\omega_i = S_{1i}^2$ (summing to 1), exact for polynomials of degree $\le 2m-1$. Averaging
over probes, $\hat\phi = \frac1k\sum_l\sum_i \omega_i^{(l)}\delta(t-\ell_i^{(l)})$; smoothing
with a Gaussian or Lorentzian kernel of width $\sigma$ gives a density on a grid, normalised
to integrate to 1 there. The default $m = 90$ is the order of Ghorbani et al.'s notebooks.
"""

import enum
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from .._validation import as_enum, check_finite, check_key, check_positive, is_concrete
from ._batching import (
    bucket,
    bucket_fine,
    dtype_of,
    filter_jit,
    float_array,
    int_array,
    key_seed,
)
from ._lanczos import _default_tol, _lanczos_impl, _raise_nonfinite
from ._matfree import Probes, sample_probes
from ._operator import as_operator
from ._trace import _check_probes


class Kernel(enum.Enum):
    r"""Smoothing kernel: Gaussian $\frac{1}{\sqrt{2\pi}\sigma}e^{-x^2/2\sigma^2}$ or
    Lorentzian (Cauchy) $\frac{1}{\pi}\frac{\sigma}{x^2+\sigma^2}$."""

    GAUSSIAN = "gaussian"
    LORENTZIAN = "lorentzian"


class SpectralDensity(eqx.Module):
    """SLQ result: `nodes` and `weights` of shape `(num_probes, num_steps)`; each probe's
    weights sum to 1. Nodes of a block split off by a Lanczos breakdown carry weight 0."""

    nodes: Float[Array, "probes m"]
    weights: Float[Array, "probes m"]

    @property
    def num_probes(self) -> int:
        return self.nodes.shape[0]

    def support(self) -> tuple[float, float]:
        """(min, max) of the nodes with non-negligible weight."""
        w = np.asarray(self.weights)
        x = np.asarray(self.nodes)[w > 1e-14 * w.max()]
        return float(x.min()), float(x.max())

    def grid(self, num: int = 1000, *, margin: float = 0.05) -> Float[Array, " num"]:
        """A uniform grid over the support widened by `margin` × its length on each side."""
        lo, hi = self.support()
        width = max(hi - lo, 1e-12 * max(abs(lo), abs(hi), 1.0))
        return jnp.linspace(lo - margin * width, hi + margin * width, num, dtype=self.nodes.dtype)

    def default_sigma(self) -> float:
        """1 % of the support length (or of max(1, |λ|) for a single point)."""
        lo, hi = self.support()
        return 0.01 * max(hi - lo, 1e-3 * max(abs(lo), abs(hi), 1.0))

    def density(
        self,
        grid: Float[ArrayLike, " g"],
        *,
        sigma: float | None = None,
        kernel: Kernel | str = "gaussian",
        normalize: bool = True,
    ) -> Float[Array, " g"]:
        r"""The smoothed density $\frac1k\sum_{l,i}\omega_i^{(l)} g_\sigma(t-\ell_i^{(l)})$ on
        `grid` (increasing), renormalised to integrate to 1 by the trapezoid rule on the grid
        unless `normalize=False`."""
        kernel = as_enum("kernel", kernel, Kernel)
        sigma = self.default_sigma() if sigma is None else sigma
        check_positive("sigma", sigma)
        t = jnp.asarray(grid, self.nodes.dtype)
        if t.ndim != 1 or t.shape[0] < 2:
            raise ValueError(f"grid: expected a 1-D array of at least 2 points, got {t.shape}")
        x = t[:, None] - self.nodes.reshape(-1)[None, :]
        if kernel is Kernel.GAUSSIAN:
            g = jnp.exp(-0.5 * (x / sigma) ** 2) / (jnp.sqrt(2 * jnp.pi) * sigma)
        else:
            g = (sigma / jnp.pi) / (x**2 + sigma**2)
        d = g @ self.weights.reshape(-1) / self.num_probes
        if normalize:
            z = jnp.trapezoid(d, t)
            d = d / jnp.where(z > 0, z, 1.0)
        return d

    def moments(self, j: int) -> Float[Array, " probes"]:
        r"""Per-probe quadrature $\sum_i\omega_i\ell_i^j$ ($= v^\top A^j v$ exactly for
        $j\le 2m-1$)."""
        return jnp.sum(self.weights * self.nodes**j, axis=1)

    def integrate(self, f) -> Float[Array, ""]:
        r"""$\frac1k\sum_{l,i}\omega_i^{(l)} f(\ell_i^{(l)})$, the SLQ estimate of
        $\frac1n\operatorname{tr} f(A)$."""
        return jnp.mean(jnp.sum(self.weights * f(self.nodes), axis=1))


def _quadrature(alpha, beta, m):
    """Gauss nodes and weights of the first `m` (traced) rows of the tridiagonal held in
    `alpha`, `beta` (m_max,): the padded rows get a sentinel diagonal above every
    eigenvalue (Gershgorin) and no coupling, so they sort last with weight 0 and the first
    `m` nodes are those of $T_m$."""
    rows = jnp.arange(alpha.shape[0])
    off = jnp.where(rows[:-1] < m - 1, beta[:-1], 0.0)
    sentinel = 2 * (jnp.max(jnp.abs(alpha)) + 2 * jnp.max(jnp.abs(off), initial=0.0)) + 1
    diag = jnp.where(rows < m, alpha, sentinel)
    T = jnp.diag(diag) + jnp.diag(off, 1) + jnp.diag(off, -1)
    theta, S = jnp.linalg.eigh(T)
    return theta, S[0] ** 2


@filter_jit
def _slq(op, key, counts, kind, breakdown_tol, v0, p_max, m_max):
    """`counts` = (num_probes, num_steps), traced; buffers of `p_max` × `m_max` (static).
    Probe p is drawn from `fold_in(kz, p)` (or is row p of `v0`, which has exactly
    `num_probes` rows)."""
    num_probes, num_steps = counts[0], counts[1]
    n = op.shape[0]
    dtype = dtype_of(op)
    kz, kl = jr.split(key)
    seed = key_seed(kl)

    def one(p, carry):
        nodes, weights, ok = carry
        z = sample_probes(jr.fold_in(kz, p), n, 1, dtype, kind)[0] if v0 is None else v0[p]
        # restart vectors: distinct counters for every probe and step
        _, alpha, beta, _, anorm = _lanczos_impl(
            op, z.astype(dtype), seed, m_max, num_steps, breakdown_tol, 1 + p * (m_max + 1)
        )
        x, w = _quadrature(alpha, beta, num_steps)
        ok = ok & ~jnp.isnan(anorm) & jnp.all(jnp.isfinite(x)) & jnp.all(jnp.isfinite(w))
        return nodes.at[p].set(x), weights.at[p].set(w), ok

    zeros = jnp.zeros((p_max, m_max), dtype)
    return jax.lax.fori_loop(0, num_probes, one, (zeros, zeros, jnp.asarray(True)))


def spectral_density(
    op: Any,
    *,
    num_steps: int = 90,
    num_probes: int,
    key: PRNGKeyArray,
    probes: Probes | str = "gaussian",
    v0: Float[Array, "probes n"] | None = None,
    breakdown_tol: float | None = None,
) -> SpectralDensity:
    r"""SLQ spectral density of a symmetric operator: `num_probes` independent Lanczos runs
    of `num_steps` steps (default 90, Ghorbani et al.; clipped to the dimension $n$, where the
    quadrature is exact) from random unit vectors (`probes`: `"gaussian"` (default) or
    `"rademacher"`; probe $p$ from `fold_in(key', p)`, so more probes reuse the first ones),
    or from the rows of `v0` when given. Probes run one after another in one compiled loop,
    each with full reorthogonalisation; memory is $O(m\,n)$. A new `num_steps` or
    `num_probes` in the same bucket (see `_lanczos.py`) compiles nothing.

    Returns a `SpectralDensity` with `nodes`, `weights` and `.density(grid, sigma=,
    kernel=)`. Raises a ValueError naming `op` if a product is not finite.
    """
    op = as_operator(op)
    n = op.shape[0]
    probes = as_enum("probes", probes, Probes)
    num_probes = _check_probes("num_probes", num_probes, 1)
    if isinstance(num_steps, bool) or not isinstance(num_steps, int | np.integer):
        raise TypeError(f"num_steps: expected an int, got {num_steps!r}")
    if num_steps < 1:
        raise ValueError(f"num_steps: must be >= 1, got {num_steps}")
    check_key("key", key)
    m = min(int(num_steps), n)
    dtype = dtype_of(op)
    p_max = bucket(num_probes)
    m_max = min(bucket_fine(m), n)
    if v0 is not None:
        if not hasattr(v0, "shape"):
            v0 = np.asarray(v0)
        if tuple(v0.shape) != (num_probes, n):
            raise ValueError(f"v0: expected shape ({num_probes}, {n}), got {v0.shape}")
        check_finite("v0", v0)
    bt = _default_tol(dtype) if breakdown_tol is None else float(breakdown_tol)
    counts = int_array([num_probes, m])
    bt = float_array(bt, dtype)
    nodes, weights, ok = _slq(op, key, counts, probes, bt, v0, p_max, m_max)
    if is_concrete(ok):
        nodes, weights, ok = jax.device_get((nodes, weights, ok))
        if not ok:
            _raise_nonfinite("the spectral density")
        # cut on the host (compiles nothing); device_put, as `jnp.asarray` of a host array
        # compiles a copy for every new shape
        nodes, weights = (np.ascontiguousarray(x[:num_probes, :m]) for x in (nodes, weights))
        return SpectralDensity(jax.device_put(nodes), jax.device_put(weights))
    return SpectralDensity(nodes[:num_probes, :m], weights[:num_probes, :m])
