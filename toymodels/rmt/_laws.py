r"""Random-matrix laws for overlays and tests.

Conventions: a sample covariance $H = X^\top X/n$ with $X$ an $n\times p$ matrix of i.i.d.
entries of variance $\sigma^2$ and aspect ratio $\gamma = p/n$ (the $p\times p$ matrix);
a Wigner matrix with entry variance $\sigma^2/N$ has the semicircle on $[-2\sigma, 2\sigma]$.
Every function is a function of its parameters (vectorised over `x`), float64 by NumPy.
"""

import numpy as np
from jaxtyping import ArrayLike

from .._custom_types import Numbers


def _pos(name, v):
    v = float(v)
    if not np.isfinite(v) or v <= 0:
        raise ValueError(f"{name}: must be finite and > 0, got {v!r}")
    return v


def marchenko_pastur_edges(gamma: float, *, sigma2: float = 1.0) -> tuple[float, float]:
    r"""Bulk edges $\lambda_\pm = \sigma^2(1 \pm \sqrt\gamma)^2$."""
    g, s = _pos("gamma", gamma), _pos("sigma2", sigma2)
    return s * (1 - np.sqrt(g)) ** 2, s * (1 + np.sqrt(g)) ** 2


def marchenko_pastur_density(x: ArrayLike, gamma: float, *, sigma2: float = 1.0) -> np.ndarray | float:
    r"""Continuous part of the Marchenko–Pastur law,
    $\rho(x) = \frac{\sqrt{(\lambda_+ - x)(x - \lambda_-)}}{2\pi\sigma^2\gamma x}$ on
    $[\lambda_-, \lambda_+]$, 0 elsewhere. It integrates to $\min(1, 1/\gamma)$; for
    $\gamma > 1$ the rest, $1 - 1/\gamma$, is an atom at 0."""
    g, s = _pos("gamma", gamma), _pos("sigma2", sigma2)
    lo, hi = marchenko_pastur_edges(g, sigma2=s)
    x = np.asarray(x, dtype=np.float64)
    inside = (x > lo) & (x < hi)
    xs = np.where(inside, x, 0.5 * (lo + hi))
    return np.where(inside, np.sqrt((hi - xs) * (xs - lo)) / (2 * np.pi * s * g * xs), 0.0)


def marchenko_pastur_quantile(q: ArrayLike, gamma: float, *, sigma2: float = 1.0) -> np.ndarray | float:
    r"""The q-quantile of the continuous part of the Marchenko–Pastur law normalised to unit
    mass, i.e. of the nonzero eigenvalues (for $\gamma > 1$ the atom at 0 is left out).

    With $x = \bar\lambda - w\cos\varphi$ ($\bar\lambda$, $w$ the bulk's centre and
    half-width) the density becomes $w^2\sin^2\varphi / (2\pi\sigma^2\gamma x)\,d\varphi$,
    smooth with vanishing slope at both ends, so the trapezoid rule on a uniform grid in
    $\varphi$ is accurate to $O(h^4)$; the CDF is inverted by interpolation in $\varphi$
    (relative error ≲ 1e-9 on the default grid)."""
    g, s = _pos("gamma", gamma), _pos("sigma2", sigma2)
    qa = np.asarray(q, dtype=np.float64)
    if np.any(~np.isfinite(qa)) or np.any((qa < 0) | (qa > 1)):
        raise ValueError(f"q: quantile levels must lie in [0, 1], got {q!r}")
    lo, hi = marchenko_pastur_edges(g, sigma2=s)
    centre, half = 0.5 * (lo + hi), 0.5 * (hi - lo)
    phi = np.linspace(0.0, np.pi, 40001)
    x = centre - half * np.cos(phi)
    # half²sin²φ/x; at γ = 1 the lower edge is 0, where it tends to half(1 + cos φ)
    safe = np.where(x > 0, x, 1.0)
    f = np.where(x > 0, half**2 * np.sin(phi) ** 2 / safe, half * (1 + np.cos(phi)))
    f = f / (2 * np.pi * s * g)
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (f[1:] + f[:-1]) * np.diff(phi))])
    cdf /= cdf[-1]
    out = centre - half * np.cos(np.interp(qa, cdf, phi))
    return float(out) if np.ndim(out) == 0 else out


def semicircle_density(x: ArrayLike, *, radius: float = 2.0) -> np.ndarray | float:
    r"""Wigner semicircle $\frac{2}{\pi R^2}\sqrt{R^2 - x^2}$ on $[-R, R]$ (default $R = 2$:
    unit entry variance after the $1/\sqrt N$ scaling)."""
    r = _pos("radius", radius)
    x = np.asarray(x, dtype=np.float64)
    return np.where(np.abs(x) < r, 2 / (np.pi * r**2) * np.sqrt(np.maximum(r**2 - x**2, 0)), 0.0)


def semicircle_cdf(x: Numbers, *, radius: float = 2.0) -> np.ndarray | float:
    r"""CDF of the semicircle: $\frac12 + \frac{u\sqrt{1-u^2} + \arcsin u}{\pi}$,
    $u = \mathrm{clip}(x/R, -1, 1)$."""
    r = _pos("radius", radius)
    u = np.clip(np.asarray(x, dtype=np.float64) / r, -1.0, 1.0)
    return 0.5 + (u * np.sqrt(1 - u**2) + np.arcsin(u)) / np.pi


def bbp_threshold(gamma: float) -> float:
    r"""Critical spike $\theta_c = \sqrt\gamma$ of the BBP transition (spiked covariance)."""
    return float(np.sqrt(_pos("gamma", gamma)))


def bbp_outlier(theta: ArrayLike, gamma: float, *, sigma2: float = 1.0) -> np.ndarray | float:
    r"""Top eigenvalue of $X^\top X/n$ for rows $x \sim N(0, \sigma^2(I + \theta\,uu^\top))$
    as $n, p\to\infty$ with $p/n = \gamma$ (Baik–Ben Arous–Péché 2005):
    $\sigma^2(1+\theta)(1 + \gamma/\theta)$ when $\theta > \sqrt\gamma$, else the bulk edge
    $\sigma^2(1+\sqrt\gamma)^2$."""
    g, s = _pos("gamma", gamma), _pos("sigma2", sigma2)
    t = np.asarray(theta, dtype=np.float64)
    if np.any(t < 0):
        raise ValueError("theta: spike strengths must be >= 0")
    edge = s * (1 + np.sqrt(g)) ** 2
    above = t > np.sqrt(g)
    ts = np.where(above, t, 1.0)
    return np.where(above, s * (1 + ts) * (1 + g / ts), edge)


def additive_spike_threshold(*, gamma: float = 1.0, sigma2: float = 1.0) -> float:
    r"""Critical strength $\theta_c = \sigma^2\sqrt\gamma(1+\sqrt\gamma)$ above which an
    additive spike separates from a Marchenko–Pastur bulk ($\theta_c = 2$ for $\gamma=1$)."""
    g, s = _pos("gamma", gamma), _pos("sigma2", sigma2)
    return s * np.sqrt(g) * (1 + np.sqrt(g))


def additive_spike_outlier(
    theta: Numbers, *, gamma: float = 1.0, sigma2: float = 1.0
) -> np.ndarray | float:
    r"""Outlier of $\theta\,uu^\top + W$ with $W$ Marchenko–Pastur$(\gamma, \sigma^2)$
    (solve $G_W(\lambda) = 1/\theta$ with the R-transform $R(w) = \sigma^2/(1-\gamma\sigma^2
    w)$): $\lambda = \theta + \theta\sigma^2/(\theta - \gamma\sigma^2)$, which for
    $\gamma = \sigma^2 = 1$ is $\theta^2/(\theta-1)$ (Papyan 2020: 6.25, 5.333, 4.5 for
    $\theta = 5, 4, 3$). Below `additive_spike_threshold` the bulk edge is returned."""
    g, s = _pos("gamma", gamma), _pos("sigma2", sigma2)
    t = np.asarray(theta, dtype=np.float64)
    tc = additive_spike_threshold(gamma=g, sigma2=s)
    above = t > tc
    ts = np.where(above, t, 2 * tc)
    return np.where(above, ts + ts * s / (ts - g * s), s * (1 + np.sqrt(g)) ** 2)


def wigner_spike_outlier(theta: ArrayLike, *, sigma: float = 1.0) -> np.ndarray | float:
    r"""Outlier of $\theta\,uu^\top + W$, $W$ Wigner with semicircle on $[-2\sigma, 2\sigma]$:
    $\theta + \sigma^2/\theta$ for $\theta > \sigma$, else the edge $2\sigma$."""
    s = _pos("sigma", sigma)
    t = np.asarray(theta, dtype=np.float64)
    above = t > s
    ts = np.where(above, t, 1.0)
    return np.where(above, ts + s**2 / ts, 2 * s)


def goldilocks_positive_fraction(rho: ArrayLike, d: int) -> np.ndarray | float:
    r"""Predicted fraction of positive eigenvalues of $P^\top H P$ for a random orthonormal
    $P$ ($D\times d$, $D \gg d$): $1 - F_\text{sc}(-\rho/(2\sqrt d))$ with
    $\rho = \operatorname{tr}H/\lVert H\rVert_F$ and $F_\text{sc}$ the CDF of the unit
    semicircle (taxonomy notes §2.2; accurate when the bulk dominates $\lVert H\rVert_F$)."""
    if int(d) < 1:
        raise ValueError(f"d: must be >= 1, got {d}")
    r = np.asarray(rho, dtype=np.float64)
    return 1.0 - semicircle_cdf(-r / (2 * np.sqrt(int(d))), radius=1.0)
