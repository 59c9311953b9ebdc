r"""A random model of logit gradients (after Fort & Ganguli 2019; reconstruction of the
spec `hessian-goldilocks-wedges-taxonomy.md` §1.3).

For softmax cross-entropy $L = \frac1N\sum_\mu \ell(z^\mu, y^\mu)$ the Hessian splits as
$H = G + H_\text{res}$ with the Gauss–Newton term
$G = \frac1N\sum_\mu J_\mu^\top M^\mu J_\mu$, $M^\mu = \operatorname{diag}(p^\mu) -
p^\mu p^{\mu\top}$ ($J_\mu$ the $C\times D$ matrix of logit gradients $\nabla z^\mu_k$) and
the residual term $H_\text{res} = \frac1N\sum_{\mu,k}(p^\mu_k - y^\mu_k)\nabla^2 z^\mu_k$.

The model draws

- logit gradients $\nabla z^\mu_k = c_{k(,y^\mu)} + E^\mu_k$ with $E$ i.i.d.
  $\mathcal N(0, \sigma_E^2/D)$ entries and means either by logit index ($c_k$,
  `MeanStructure.LOGIT`) or by logit and true class ($c_{k,y}$, `MeanStructure.LOGIT_CLASS`);
  orthogonal means are $\sigma_c$ times distinct coordinate vectors, random ones have
  i.i.d. $\mathcal N(0, \sigma_c^2/D)$ entries;
- logits $z^\mu = \sigma_z\xi^\mu + b\,e_{y^\mu} + \bar z$ ($\xi$ standard normal, $b$ a
  correct-class bias, $\bar z = o\,\zeta$ a sample-independent offset, $\zeta$ standard
  normal): as $\sigma_z$ or $b$ grows the softmax freezes, $M^\mu\to0$ and $G$ shrinks;
- the logit Hessians $\nabla^2 z^\mu_k$ as independent GOE matrices with semicircle radius
  $2\sigma_H$, so that $H_\text{res}$ is GOE with radius
  $2\sigma_H\sqrt{\sum_{\mu,k}(p^\mu_k-y^\mu_k)^2}/N$.

Labels are balanced: $y^\mu = \mu \bmod C$.
"""

import enum
import functools

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import Array, Float, Int, PRNGKeyArray

from ... import rmt as _rmt
from ..._validation import as_enum, check_key, check_positive


class MeanStructure(enum.Enum):
    """Means of the logit gradients: by logit index (`LOGIT`, $c_k$) or by logit and true
    class (`LOGIT_CLASS`, $c_{k,y}$)."""

    LOGIT = "logit"
    LOGIT_CLASS = "logit_class"


def _pos_int(name, v, lo=1):
    if isinstance(v, bool) or not isinstance(v, int | np.integer) or int(v) < lo:
        raise ValueError(f"{name}: expected an int >= {lo}, got {v!r}")
    return int(v)


class LogitGradientSample(eqx.Module):
    """One draw of the model: `jacobians` $(N, C, D)$, `logits` $(N, C)$, `labels` $(N,)$,
    the mean vectors `means` ($(C, D)$ for `LOGIT`, $(C, C, D)$ indexed `[k, y]` for
    `LOGIT_CLASS`) and the `noise` scale $\\sigma_E$."""

    jacobians: Float[Array, "N C D"]
    logits: Float[Array, "N C"]
    labels: Int[Array, " N"]
    means: Array
    noise: float = eqx.field(static=True)

    @property
    def probs(self) -> Float[Array, "N C"]:
        return jax.nn.softmax(self.logits, axis=-1)

    @property
    def residuals(self) -> Float[Array, "N C"]:
        """$r^\\mu = p^\\mu - y^\\mu$ (one-hot labels)."""
        c = self.logits.shape[1]
        return self.probs - jax.nn.one_hot(self.labels, c, dtype=self.logits.dtype)

    def mean_jacobians(self) -> Float[Array, "N C D"]:
        """The mean part $c_{k(,y^\\mu)}$ of every sample's logit gradients."""
        if self.means.ndim == 2:
            return jnp.broadcast_to(self.means, self.jacobians.shape)
        return jnp.transpose(self.means[:, self.labels, :], (1, 0, 2))


@eqx.filter_jit
def _gn_factor(jac, probs):
    # J^T M J = sum_k p_k (J_k - u)(J_k - u)^T with u = sum_k p_k J_k.
    u = jnp.einsum("nk,nkd->nd", probs, jac)
    b = jnp.sqrt(probs)[:, :, None] * (jac - u[:, None, :])
    n, c, d = jac.shape
    return b.reshape(n * c, d) / jnp.sqrt(jnp.asarray(n, jac.dtype))


def gauss_newton_factor(sample: LogitGradientSample) -> Float[Array, "NC D"]:
    r"""$B$ with $G = B^\top B$: rows $\sqrt{p^\mu_k/N}\,(\nabla z^\mu_k - \sum_l
    p^\mu_l\nabla z^\mu_l)$ (from $J^\top MJ = \sum_k p_k(J_k-\bar J)(J_k-\bar J)^\top$)."""
    return _gn_factor(sample.jacobians, sample.probs)


def gauss_newton(sample: LogitGradientSample) -> Float[Array, "D D"]:
    r"""The Gauss–Newton term $G = \frac1N\sum_\mu J_\mu^\top(\operatorname{diag}p^\mu -
    p^\mu p^{\mu\top})J_\mu$ (dense $D\times D$)."""
    b = gauss_newton_factor(sample)
    return b.T @ b


def gauss_newton_eigenvalues(sample: LogitGradientSample) -> Float[Array, " k"]:
    """Nonzero-part spectrum of $G$: squared singular values of `gauss_newton_factor`,
    descending (length $\\min(NC, D)$)."""
    return _squared_singular_values(gauss_newton_factor(sample))


@jax.jit
def _squared_singular_values(b):
    # the eigenvalues of the smaller Gram matrix (B B^T for NC <= D): one matrix product
    # and a symmetric eigensolve, ~10x cheaper than an SVD of B on a 600 x 2000 factor;
    # absolute error ~ eps * sigma_max^2, clipped at 0
    n, d = b.shape
    ev = jnp.linalg.eigvalsh(b @ b.T if n <= d else b.T @ b)[::-1]
    return jnp.maximum(ev, 0.0)


def gradient(sample: LogitGradientSample) -> Float[Array, " D"]:
    r"""$\nabla L = \frac1N\sum_{\mu,k}(p^\mu_k - y^\mu_k)\nabla z^\mu_k$."""
    return jnp.einsum("nk,nkd->d", sample.residuals, sample.jacobians) / sample.jacobians.shape[0]


def residual_radius(sample: LogitGradientSample, scale: float) -> Float[Array, ""]:
    r"""Semicircle radius $2\sigma_H\sqrt{\sum_{\mu,k}r_k^{\mu2}}/N$ of the residual term."""
    r = sample.residuals
    return 2.0 * scale * jnp.sqrt(jnp.sum(r**2)) / r.shape[0]


def residual_term(
    sample: LogitGradientSample, scale: float, *, key: PRNGKeyArray
) -> Float[Array, "D D"]:
    r"""The residual term: a GOE matrix with semicircle radius `residual_radius(sample,
    scale)` (the sum of $N C$ independent GOE logit Hessians of radius $2\sigma_H$ weighted
    by $r^\mu_k/N$). It is indefinite and carries the negative eigenvalues."""
    check_key("key", key)
    check_positive("scale", scale, allow_zero=True)
    d = sample.jacobians.shape[2]
    a = jr.normal(key, (d, d), sample.jacobians.dtype)
    goe = (a + a.T) / jnp.sqrt(2.0 * d)  # radius 2
    return 0.5 * residual_radius(sample, scale) * goe


def logit_hessian(
    sample: LogitGradientSample, *, residual_scale: float, key: PRNGKeyArray
) -> Float[Array, "D D"]:
    """The model's Hessian $G + H_\\text{res}$ of one draw (dense $D\\times D$): the
    Gauss–Newton term plus a GOE residual term of scale `residual_scale` drawn with `key`
    (`gauss_newton(sample)` alone for `residual_scale = 0`). Not a problem's Hessian: for
    that see `toymodels.landscape.hessian`."""
    check_key("key", key)
    return gauss_newton(sample) + residual_term(sample, residual_scale, key=key)


class LogitGradientModel(eqx.Module):
    """The random logit-gradient model; build it with `logit_gradient_model` and draw with
    `sample(key)`."""

    dim: int = eqx.field(static=True)
    num_samples: int = eqx.field(static=True)
    num_classes: int = eqx.field(static=True)
    means: MeanStructure = eqx.field(static=True)
    orthogonal_means: bool = eqx.field(static=True)
    mean_scale: float
    noise: float
    logit_scale: float
    class_bias: float
    offset: float

    def sample(self, key: PRNGKeyArray, *, dtype=None) -> LogitGradientSample:
        dtype = jnp.result_type(float) if dtype is None else dtype
        check_key("key", key)
        jac, z, labels, mu = _draw(
            key,
            self.mean_scale,
            self.noise,
            self.logit_scale,
            self.class_bias,
            self.offset,
            shape=(self.num_samples, self.num_classes, self.dim),
            means=self.means,
            orthogonal=self.orthogonal_means,
            dtype=jnp.dtype(dtype),
        )
        return LogitGradientSample(
            jacobians=jac, logits=z, labels=labels, means=mu, noise=float(self.noise)
        )


# one compiled program per shape and mean structure; the scales are traced (a sweep over
# mean_scale compiles nothing new)
@functools.partial(jax.jit, static_argnames=("shape", "means", "orthogonal", "dtype"))
def _draw(
    key, mean_scale, noise, logit_scale, class_bias, offset, *, shape, means, orthogonal, dtype
):
    n, c, d = shape
    km, ke, kz, ko = jr.split(key, 4)
    labels = jnp.arange(n) % c
    if means is MeanStructure.LOGIT:
        if orthogonal:
            mu = mean_scale * jnp.eye(c, d, dtype=dtype)
        else:
            mu = mean_scale * jr.normal(km, (c, d), dtype) / np.sqrt(d)
        mean_j = jnp.broadcast_to(mu, (n, c, d))
    else:
        if orthogonal:
            mu = mean_scale * jnp.eye(c * c, d, dtype=dtype).reshape(c, c, d)
        else:
            mu = mean_scale * jr.normal(km, (c, c, d), dtype) / np.sqrt(d)
        mean_j = jnp.transpose(mu[:, labels, :], (1, 0, 2))
    jac = mean_j + noise * jr.normal(ke, (n, c, d), dtype) / np.sqrt(d)
    zbar = offset * jr.normal(ko, (c,), dtype)
    onehot = jax.nn.one_hot(labels, c, dtype=dtype)
    z = logit_scale * jr.normal(kz, (n, c), dtype) + class_bias * onehot + zbar
    return jac, z, labels, mu


def logit_gradient_model(
    *,
    dim: int,
    num_samples: int,
    num_classes: int,
    means: MeanStructure | str = MeanStructure.LOGIT,
    mean_scale: float = 1.0,
    noise: float = 1.0,
    logit_scale: float = 0.0,
    class_bias: float = 0.0,
    offset: float = 0.0,
    orthogonal_means: bool = True,
) -> LogitGradientModel:
    r"""The random logit-gradient model (see the module docstring for the math).

    **Arguments (keyword-only):** `dim` $D$, `num_samples` $N$, `num_classes` $C\ge2$; `means` a
    `MeanStructure`; `mean_scale` $\sigma_c$; `noise` $\sigma_E$; `logit_scale` $\sigma_z$;
    `class_bias` $b$; `offset` $o$ (scale of the sample-independent logit offset);
    `orthogonal_means` (default `True`; needs $D\ge C$, or $D\ge C^2$ for `LOGIT_CLASS`).
    """
    d = _pos_int("dim", dim)
    n = _pos_int("num_samples", num_samples)
    c = _pos_int("num_classes", num_classes, 2)
    ms = as_enum("means", means, MeanStructure)
    for name, v in (
        ("mean_scale", mean_scale),
        ("noise", noise),
        ("logit_scale", logit_scale),
        ("offset", offset),
    ):
        check_positive(name, v, allow_zero=True)
    if not np.isfinite(float(class_bias)):
        raise ValueError(f"class_bias: must be finite, got {class_bias!r}")
    need = c if ms is MeanStructure.LOGIT else c * c
    if orthogonal_means and d < need:
        raise ValueError(f"dim: orthogonal means need dim >= {need}, got {d}")
    return LogitGradientModel(
        dim=d,
        num_samples=n,
        num_classes=c,
        means=ms,
        orthogonal_means=bool(orthogonal_means),
        mean_scale=float(mean_scale),
        noise=float(noise),
        logit_scale=float(logit_scale),
        class_bias=float(class_bias),
        offset=float(offset),
    )


# ------------------------------------------------------------------------- predictions
def outlier_count(*, num_classes: int, means: MeanStructure | str, dim: int | None = None) -> int:
    r"""Rank of the mean part of $G$, i.e. the number of outliers above the bulk for strong
    means: $C-1$ for logit-index means (the all-ones null vector of $M$ removes one
    direction; Fort & Ganguli's abstract says $C$), $C(C-1)$ for logit-and-class means (at
    most; capped by $D$)."""
    c = _pos_int("num_classes", num_classes, 2)
    ms = as_enum("means", means, MeanStructure)
    k = c - 1 if ms is MeanStructure.LOGIT else c * (c - 1)
    return k if dim is None else min(k, _pos_int("dim", dim))


def gap_count(eigenvalues, *, max_k: int = 60) -> int:
    r"""Where the largest gap sits: $\arg\max_i \lambda_i/\lambda_{i+1}$ over the top
    `max_k` eigenvalues (sorted descending, positive part), plus one — the number of
    eigenvalues above the largest relative gap."""
    ev = np.sort(np.asarray(eigenvalues, dtype=np.float64))[::-1][: int(max_k)]
    if ev.size < 2:
        raise ValueError("eigenvalues: need at least two")
    ratios = ev[:-1] / np.maximum(ev[1:], 1e-300)
    ratios = np.where(ev[1:] > 0, ratios, 0.0)
    return int(np.argmax(ratios)) + 1


def _uniform_params(dim, num_samples, num_classes, noise):
    d = _pos_int("dim", dim)
    n = _pos_int("num_samples", num_samples)
    c = _pos_int("num_classes", num_classes, 2)
    check_positive("noise", noise)
    cols = n * (c - 1)
    return d, n, c, d / cols, float(noise) ** 2 / d, (c - 1) / c


def bulk_edge(*, dim: int, num_samples: int, num_classes: int, noise: float = 1.0) -> float:
    r"""Upper edge of the bulk of $G$ at uniform softmax ($\sigma_z = b = o = 0$):
    $\frac{C-1}{C}s^2(1+\sqrt{c})^2$ with $s^2 = \sigma_E^2/D$ and $c = D/(N(C-1))$
    ($G = \frac{C-1}{C}\frac1n XX^\top$, $X$ a $D\times n$ information-plus-noise matrix)."""
    d, n, c, ratio, s2, pref = _uniform_params(dim, num_samples, num_classes, noise)
    return float(_rmt.marchenko_pastur_edges(ratio, sigma2=pref * s2)[1])


def _theta2(mean_scale, classes, s2):
    return np.asarray(mean_scale, dtype=np.float64) ** 2 / ((classes - 1) * s2)


def logit_bbp_threshold(
    *, dim: int, num_samples: int, num_classes: int, noise: float = 1.0
) -> float:
    r"""Critical mean scale $\sigma_c^*$ for orthogonal logit-index means at uniform
    softmax: outliers exist iff $\theta^2 = \sigma_c^2/((C-1)s^2) > \sqrt c$, i.e.
    $\sigma_c^* = \sqrt{(C-1)s^2\theta_c}$ with $\theta_c = \sqrt c$ the spike threshold
    `toymodels.rmt.bbp_threshold(c)`."""
    d, n, c, ratio, s2, pref = _uniform_params(dim, num_samples, num_classes, noise)
    return float(np.sqrt((c - 1) * s2 * _rmt.bbp_threshold(ratio)))


def logit_bbp_outlier(
    mean_scale, *, dim: int, num_samples: int, num_classes: int, noise: float = 1.0
) -> np.ndarray | float:
    r"""Location of the $C-1$ (degenerate) outliers of $G$ for orthogonal logit-index means
    at uniform softmax: $\frac{C-1}{C}s^2(1+\theta^2)(c+\theta^2)/\theta^2$ above the
    threshold, the bulk edge below (rectangular BBP, Benaych-Georges & Nadakuditi; to first
    order the same curve as the spiked-covariance law with spike $\theta^2$). Vectorised over
    `mean_scale` (`toymodels.rmt.bbp_outlier` at spike $\theta^2$)."""
    d, n, c, ratio, s2, pref = _uniform_params(dim, num_samples, num_classes, noise)
    th2 = _theta2(mean_scale, c, s2)
    return _rmt.bbp_outlier(th2, ratio, sigma2=pref * s2)


def confinement_fraction(
    signal_sq,
    mean_sq_residual,
    *,
    noise: float,
    num_samples: int,
    dim: int | None = None,
    k: int = 0,
) -> np.ndarray | float:
    r"""Predicted share of $\lVert\nabla L\rVert^2$ in the top-$k$ eigenspace of $G$:
    $\dfrac{S + (k/D)\,\mathcal N}{S + \mathcal N}$ with $S = \lVert\bar g\rVert^2$ the mean
    part of the gradient and $\mathcal N = \sigma_E^2\langle\lVert p-y\rVert^2\rangle/N$ the
    expected squared norm of its noise part (isotropic, so a $k/D$ share of it falls in the
    top space; pass `dim=None` for the large-$D$ form $S/(S+\mathcal N)$)."""
    s = np.asarray(signal_sq, dtype=np.float64)
    nz = (
        float(noise) ** 2
        * np.asarray(mean_sq_residual, dtype=np.float64)
        / _pos_int("num_samples", num_samples)
    )
    extra = 0.0 if dim is None else int(k) / _pos_int("dim", dim)
    return (s + extra * nz) / (s + nz)


def sample_confinement_prediction(sample: LogitGradientSample, *, k: int | None = None) -> float:
    """`confinement_fraction` evaluated on a draw: $S = \\lVert\\frac1N\\sum_{\\mu,k}
    r^\\mu_k c_{k(,y^\\mu)}\\rVert^2$, $\\langle\\lVert r\\rVert^2\\rangle$ from its
    residuals; `k` defaults to `outlier_count`."""
    n, c, d = sample.jacobians.shape
    ms = MeanStructure.LOGIT if sample.means.ndim == 2 else MeanStructure.LOGIT_CLASS
    k = outlier_count(num_classes=c, means=ms, dim=d) if k is None else int(k)
    signal, mean_sq = (float(v) for v in _confinement_terms(sample))
    return float(
        confinement_fraction(
            signal,
            mean_sq,
            noise=sample.noise,
            num_samples=n,
            dim=d,
            k=k,
        )
    )


def measured_confinement(sample: LogitGradientSample, *, k: int | None = None) -> float:
    """Share of the model's $\\lVert\\nabla L\\rVert^2$ in the span of the top-`k`
    eigenvectors of $G$ (dense `eigh`)."""
    n, c, d = sample.jacobians.shape
    ms = MeanStructure.LOGIT if sample.means.ndim == 2 else MeanStructure.LOGIT_CLASS
    k = outlier_count(num_classes=c, means=ms, dim=d) if k is None else int(k)
    return float(_top_share(sample, k))


# one compiled program per shape each (these ran as ~10 eager operations per call, each
# compiled on first use)
@eqx.filter_jit
def _confinement_terms(sample):
    r = sample.residuals
    gbar = jnp.einsum("nk,nkd->d", r, sample.mean_jacobians()) / r.shape[0]
    return jnp.sum(gbar**2), jnp.mean(jnp.sum(r**2, axis=1))


@eqx.filter_jit
def _top_share(sample, k):
    _, v = jnp.linalg.eigh(gauss_newton(sample))
    g = gradient(sample)
    top = v[:, -k:]
    return jnp.sum((top.T @ g) ** 2) / jnp.sum(g**2)


def softmax_spread(sample: LogitGradientSample) -> Float[Array, ""]:
    r"""$\langle\operatorname{tr}M^\mu\rangle = \langle 1 - \lVert p^\mu\rVert^2\rangle$:
    how unfrozen the softmax is (→ 0 as it freezes to one-hot)."""
    p = sample.probs
    return jnp.mean(1.0 - jnp.sum(p**2, axis=1))


@eqx.filter_jit
def gauss_newton_trace_prediction(sample: LogitGradientSample) -> Float[Array, ""]:
    r"""$\mathbb E\operatorname{tr}G$ over the noise given the logits:
    $\frac1N\sum_\mu[\sum_k p_k\lVert c_k - \bar c_p\rVert^2 + \sigma_E^2(1-\lVert
    p\rVert^2)]$ with $\bar c_p = \sum_k p_k c_k$; it vanishes as the softmax freezes."""
    p = sample.probs
    mj = sample.mean_jacobians()
    cbar = jnp.einsum("nk,nkd->nd", p, mj)
    mean_part = jnp.sum(p * jnp.sum((mj - cbar[:, None, :]) ** 2, axis=2), axis=1)
    return jnp.mean(mean_part + sample.noise**2 * (1.0 - jnp.sum(p**2, axis=1)))
