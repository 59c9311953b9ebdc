r"""The two-erf-neuron toy of Martinelli et al. (NeurIPS 2025, App. C.3/C.5) in closed form.

Student: $f(x) = \sum_i a_i\,\sigma(w_i x)$, $\sigma(z) = \mathrm{erf}(z/\sqrt2)$, scalar input,
no biases; params in the MLP layout `({"w": (r, 1)}, {"w": (1, r)})`. Teacher:
$f^*(x) = \sum_k v_k\,\sigma(u_k x + b_k)$, by default the paper's
$\sigma(5x + 2.5) + \sigma(5x - 2.5)$. Population loss, *without* a ½ (the paper's
convention): $\ell = \mathbb E_{x\sim\mathcal N(0,1)}[(f - f^*)^2]$, in closed form through
`erf_pair` (arcsine kernel and Owen's T).

**GLU limit.** As two neurons merge along a channel ($\varepsilon\to0$, `to_channel`), the
pair becomes $c\,\sigma(wx) + a\,x\sigma'(wx)$ and the loss tends to
$\ell(w, 0) = \min_{c,a}\mathbb E[(c\sigma(wx) + a x\sigma'(wx) - f^*)^2]$, a least-squares
problem whose Gram matrix and right-hand side are derivatives in $w$ of the closed-form
kernels ($x\sigma'(wx) = \partial_w\sigma(wx)$), taken by automatic differentiation. The
$\varepsilon^2$ coefficient of the loss is
$h(w) = \mathbb E[f_2\cdot 2(f_0 - f^*)]$ with
$f_2 = \tfrac c2 x^2\sigma''(wx) + \tfrac a6 x^3\sigma'''(wx)
 = \tfrac c2\partial_w^2\sigma(wx) + \tfrac a6\partial_w^3\sigma(wx)$.
A minimum of $\ell(\cdot, 0)$ with $h > 0$ is a stable channel to infinity.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from ..._custom_types import Params, Scalar
from ..._validation import as_float_array, check_positive
from ...problems import AbstractProblem
from ._special import erf_pair, erf_pair_nobias, erf_pair_onebias


class GLUFit(eqx.Module):
    r"""The optimal GLU readout `(c, a)` at one gate weight and the loss $\ell(w, 0)$ there."""

    c: Array
    a: Array
    loss: Array


class ErfToy(AbstractProblem):
    """Population loss of a bias-free scalar-input erf student against a biased erf teacher
    (module docs). `init` draws LeCun-normal weights of `width` neurons."""

    u: Array
    b: Array
    v: Array
    width: int = eqx.field(static=True, default=2)

    def __check_init__(self):
        if self.width < 1:
            raise ValueError(f"width: must be positive, got {self.width}")

    # ------------------------------------------------------------------ kernels
    def student_kernel(self, w1, w2):
        """$\\mathbb E[\\sigma(w_1x)\\sigma(w_2x)]$ (broadcasting)."""
        return erf_pair_nobias(w1, w2)

    def cross(self, w):
        """$C(w) = \\mathbb E[\\sigma(wx) f^*(x)]$ for scalar `w`."""
        return jnp.sum(self.v * erf_pair_onebias(w, self.u, self.b))

    def target_norm(self) -> Scalar:
        """$\\mathbb E[f^{*2}]$."""
        K = erf_pair(self.u[:, None], self.b[:, None], self.u[None, :], self.b[None, :])
        return self.v @ K @ self.v

    # ------------------------------------------------------------------ problem
    def loss(self, params: Params) -> Scalar:
        w = params[0]["w"][:, 0]
        a = params[1]["w"][0]
        kss = self.student_kernel(w[:, None], w[None, :])
        kst = jax.vmap(self.cross)(w)
        return a @ kss @ a - 2.0 * a @ kst + self.target_norm()

    def init(self, key: PRNGKeyArray) -> Params:
        k1, k2 = jax.random.split(key)
        dt = self.u.dtype
        return (
            {"w": jax.random.normal(k1, (self.width, 1), dt)},
            {
                "w": jax.random.normal(k2, (1, self.width), dt)
                / jnp.sqrt(jnp.asarray(self.width, dt))
            },
        )

    def predict(self, params: Params, x: Array) -> Array:
        """Student outputs at scalar inputs `x`."""
        w, a = params[0]["w"][:, 0], params[1]["w"][0]
        return jax.scipy.special.erf(x[:, None] * w / jnp.sqrt(2.0)) @ a

    def target(self, x: Array) -> Array:
        """Teacher outputs at scalar inputs `x`."""
        return jax.scipy.special.erf((x[:, None] * self.u + self.b) / jnp.sqrt(2.0)) @ self.v

    # ------------------------------------------------------------------ GLU limit
    def glu_fit(self, w) -> GLUFit:
        r"""The optimal GLU readout $(c, a)$ at gate weight `w` and the loss $\ell(w, 0)$."""
        K = self.student_kernel
        g11 = K(w, w)
        g12 = jax.jacfwd(lambda s: K(w, s))(w)
        g22 = jax.jacfwd(lambda r: jax.jacfwd(lambda s: K(r, s))(w))(w)
        r1 = self.cross(w)
        r2 = jax.jacfwd(self.cross)(w)
        G = jnp.array([[g11, g12], [g12, g22]])
        r = jnp.array([r1, r2])
        c, a = jnp.linalg.solve(G, r)
        return GLUFit(c=c, a=a, loss=self.target_norm() - r @ jnp.array([c, a]))

    def glu_loss(self, w) -> Scalar:
        r"""$\ell(w, 0)$, the loss at the end of a channel with gate weight `w`."""
        return self.glu_fit(w).loss

    def channel_curvature(self, w) -> Scalar:
        r"""$h(w)$, the $\varepsilon^2$ coefficient of the loss along the channel at the
        optimal $(c, a)$ (module docs)."""
        fit = self.glu_fit(w)
        c, a = fit.c, fit.a
        K = self.student_kernel

        def resid_proj(s):  # E[σ(s x) (f0 - f*)] as a function of the first weight
            return c * K(s, w) + a * jax.jacfwd(lambda t: K(s, t))(w) - self.cross(s)

        d2 = jax.jacfwd(jax.jacfwd(resid_proj))(w)
        d3 = jax.jacfwd(jax.jacfwd(jax.jacfwd(resid_proj)))(w)
        return 2.0 * (0.5 * c * d2 + a / 6.0 * d3)


def erf_toy(
    u: ArrayLike = (5.0, 5.0),
    b: ArrayLike = (2.5, -2.5),
    v: ArrayLike = (1.0, 1.0),
    *,
    width: int = 2,
) -> ErfToy:
    r"""The toy with teacher $\sum_k v_k\sigma(u_kx + b_k)$ (default: the paper's
    $\sigma(5x+2.5) + \sigma(5x-2.5)$) and a bias-free student of `width` neurons."""
    u = as_float_array("u", u, ndim=1)
    b = as_float_array("b", b, ndim=1).astype(u.dtype)
    v = as_float_array("v", v, ndim=1).astype(u.dtype)
    if not (u.shape == b.shape == v.shape):
        raise ValueError(
            f"b: u, b and v must have the same shape, got {u.shape}, {b.shape}, {v.shape}"
        )
    if int(width) < 1:
        raise ValueError(f"width: must be positive, got {width}")
    return ErfToy(u=u, b=b, v=v, width=int(width))


# Module-level jitted kernels taking the toy as a pytree argument: compiled once per shape
# and shared by every caller (tests, figures).
_glu_fit_jit = jax.jit(jax.vmap(lambda toy, w: toy.glu_fit(w), in_axes=(None, 0)))
_glu_dloss_jit = jax.jit(jax.vmap(lambda toy, w: jax.jacfwd(toy.glu_loss)(w), in_axes=(None, 0)))
_glu_h_jit = jax.jit(jax.vmap(lambda toy, w: toy.channel_curvature(w), in_axes=(None, 0)))


def _padded(fn):
    """Call `fn(toy, w)` on `w` padded to a multiple of 256 points: one shape for grids and
    bisection brackets alike, so each kernel compiles once (compiling dominates; 256
    evaluations cost next to nothing)."""

    def call(toy, w):
        w = jnp.asarray(w)
        n = w.shape[0]
        size = 256 * max(1, -(-n // 256))
        wp = jnp.concatenate([w, jnp.full((size - n,), 1.0, w.dtype)])
        return jax.tree_util.tree_map(lambda t: t[:n], fn(toy, wp))

    return call


_glu_fit = _padded(_glu_fit_jit)
_glu_dloss = _padded(_glu_dloss_jit)
_glu_h = _padded(_glu_h_jit)


class GLUCurve(eqx.Module):
    r"""The loss at the end of channels against the gate weight: `w`, $\ell(w, 0)$ (`loss`),
    the optimal GLU readout (`c`, `a`) and the $\varepsilon^2$ coefficient `h` (numpy arrays
    of one shape)."""

    w: np.ndarray
    loss: np.ndarray
    c: np.ndarray
    a: np.ndarray
    h: np.ndarray


class GLUCriticalPoints(GLUCurve):
    r"""`GLUCurve` at the critical points of $\ell(\cdot, 0)$, with `kind` (+1 minimum,
    −1 maximum)."""

    kind: np.ndarray


def glu_loss_curve(toy: ErfToy, ws: ArrayLike) -> GLUCurve:
    r"""$\ell(w, 0)$, optimal $(c, a)$ and $h(w)$ at the gate weights `ws`."""
    ws = jnp.atleast_1d(as_float_array("ws", ws, ndim=(0, 1)))
    fit = _glu_fit(toy, ws)
    return GLUCurve(
        w=np.asarray(ws),
        loss=np.asarray(fit.loss),
        c=np.asarray(fit.c),
        a=np.asarray(fit.a),
        h=np.asarray(_glu_h(toy, ws)),
    )


def _roots(fn, lo, hi, num, steps=60):
    """Sign changes of the vectorised `fn` on a grid, refined by bisection. Returns the
    roots and the sign of the slope there. (A bisection on the scalar gate weight $w$ of
    the closed-form GLU limit, all brackets at once: it moves no params.)"""
    grid = np.linspace(lo, hi, int(num))
    vals = np.asarray(fn(jnp.asarray(grid)))
    idx = np.where(np.sign(vals[1:]) * np.sign(vals[:-1]) < 0)[0]
    a, b = grid[idx], grid[idx + 1]
    fa = vals[idx]
    for _ in range(steps):
        m = 0.5 * (a + b)
        fm = np.asarray(fn(jnp.asarray(m)))
        left = np.sign(fm) == np.sign(fa)
        a, b, fa = np.where(left, m, a), np.where(left, b, m), np.where(left, fm, fa)
    return 0.5 * (a + b), -np.sign(vals[idx])


def glu_critical_points(
    toy: ErfToy, *, lo: float = 0.3, hi: float = 6.0, num: int = 200
) -> GLUCriticalPoints:
    r"""Critical points $w$ of $\ell(w, 0)$ in $[lo, hi]$ (sign changes of $\partial_w\ell$ on
    a grid of `num` points, bisected to machine precision), with their losses, optimal
    $(c, a)$, $h(w)$ and `kind` (+1 minimum, −1 maximum)."""
    if int(num) < 3:
        raise ValueError(f"num: need at least 3 grid points, got {num}")
    if not hi > lo:
        raise ValueError(f"hi: must exceed lo, got lo={lo}, hi={hi}")
    ws, kind = _roots(lambda w: _glu_dloss(toy, w), lo, hi, num)
    cu = glu_loss_curve(toy, ws)
    return GLUCriticalPoints(w=cu.w, loss=cu.loss, c=cu.c, a=cu.a, h=cu.h, kind=kind)


def stable_channel_interval(
    toy: ErfToy, *, lo: float = 0.3, hi: float = 6.0, num: int = 200
) -> np.ndarray:
    r"""Zeros of $h(w)$ in $[lo, hi]$ (the ends of the intervals where $h > 0$)."""
    if int(num) < 3:
        raise ValueError(f"num: need at least 3 grid points, got {num}")
    if not hi > lo:
        raise ValueError(f"hi: must exceed lo, got lo={lo}, hi={hi}")
    return _roots(lambda w: _glu_h(toy, w), lo, hi, num)[0]


def channel_params(c: float, a: float, w: float, eps: float) -> Params:
    r"""Two-neuron params on the channel: $a_{1,2} = c/2 \pm a/(2\varepsilon)$,
    $w_{1,2} = w\pm\varepsilon$ (the inverse of the scalar-input `to_channel`)."""
    for name, val in (("c", c), ("a", a), ("w", w)):
        if not np.isfinite(float(val)):
            raise ValueError(f"{name}: must be finite, got {val!r}")
    check_positive("eps", eps)
    c, a, w, eps = (jnp.asarray(float(t)) for t in (c, a, w, eps))
    return (
        {"w": jnp.stack([w + eps, w - eps])[:, None]},
        {"w": jnp.stack([c / 2 + a / (2 * eps), c / 2 - a / (2 * eps)])[None, :]},
    )


class ChannelRate(eqx.Module):
    r"""The predicted flow along a channel at times `t`: `eps` $=\varepsilon(t)$ and `excess`
    $= L - L_\infty$."""

    eps: Float[Array, "..."]
    excess: Float[Array, "..."]


def channel_rate(t: ArrayLike, *, a: float, h: float) -> ChannelRate:
    r"""Gradient-flow rate along a channel (projection of the flow onto the channel curve,
    `derivations/channels.py`): $\varepsilon(t) = (a^2/(16ht))^{1/4}$ and
    $L - L_\infty = h\varepsilon^2 = |a|\sqrt h/(4\sqrt t)$ for large $t$."""
    check_positive("h", h)
    t = jnp.asarray(t)
    eps = (a**2 / (16.0 * h * t)) ** 0.25
    return ChannelRate(eps=eps, excess=h * eps**2)
