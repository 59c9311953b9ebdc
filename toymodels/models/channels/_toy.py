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

from ..._custom_types import Numbers, Params, Scalar
from ..._validation import as_float_array, check_key, check_positive
from ...linalg._batching import compiler_options
from ...problems import AbstractProblem
from ._special import erf_pair, erf_pair_nobias, erf_pair_onebias


def _taylor3(f, x):
    r"""$f(x)$ and its first three derivatives for a (vector-valued) function of a scalar:
    three nested `jax.jvp`s in one graph (no basis vmap as in `jax.jacfwd`, no separate
    graph per order)."""
    one = jnp.ones_like(x)
    f1 = lambda y: jax.jvp(f, (y,), (one,))
    f2 = lambda y: jax.jvp(f1, (y,), (one,))
    ((f0, d1), (_, d2)), (_, (_, d3)) = jax.jvp(f2, (x,), (one,))
    return f0, d1, d2, d3


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
        check_key("key", key)
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
    def _glu_table(self, w):
        r"""The optimal $(c, a)$ at gate weight $w$, $r\cdot(c, a)$ (so that
        $\ell(w, 0) = \mathbb E[f^{*2}] - r\cdot(c, a)$), $-\partial_w\,r\cdot(c, a)$ and
        $h(w)$, from the $s$-derivatives up to third order at $s = w$ of $K(s, w)$,
        $K_t(s, w) = \partial_tK(s, t)|_{t=w}$ and $C(s)$ ($K$ the student kernel, $C$ the
        cross term): with $x = (c, a) = G^{-1}r$, $G = [[K, K_t], [K_t, K_{st}]]$,
        $r = (C, C')$, the envelope derivative $\partial_w(r\cdot x) = 2r'\cdot x -
        x^\top G'x$ ($K$ is symmetric: $G' = [[2K_t, K_{st} + K_{ss}], [K_{st} + K_{ss},
        2K_{sst}]]$) and $h = c\,R'' + \tfrac a3R'''$ with $R(s) = cK(s, w) + aK_t(s, w) -
        C(s)$."""
        K = self.student_kernel

        def table(s):
            kt = jax.jvp(lambda t: K(s, t), (w,), (jnp.ones_like(w),))[1]
            return jnp.stack([K(s, w), kt, self.cross(s)])

        t0, t1, t2, t3 = _taylor3(table, w)
        k, kt, cr = t0
        _, k_st, cr_1 = t1
        k_ss, k_sst, cr_2 = t2
        k_sss, k_ssst, cr_3 = t3
        # the 2 x 2 normal equations G x = r by Cramer's rule (a LAPACK solve per point
        # would be the largest part of the compiled program)
        det = k * k_st - kt * kt
        c, a = (k_st * cr - kt * cr_1) / det, (k * cr_1 - kt * cr) / det
        r, x = jnp.stack([cr, cr_1]), jnp.stack([c, a])
        dG = jnp.array([[2.0 * kt, k_st + k_ss], [k_st + k_ss, 2.0 * k_sst]])
        drx = 2.0 * jnp.array([cr_1, cr_2]) @ x - x @ dG @ x
        d2 = c * k_ss + a * k_sst - cr_2
        d3 = c * k_sss + a * k_ssst - cr_3
        return c, a, r @ x, -drx, 2.0 * (0.5 * c * d2 + a / 6.0 * d3)

    def glu_fit(self, w) -> GLUFit:
        r"""The optimal GLU readout $(c, a)$ at gate weight `w` and the loss $\ell(w, 0)$."""
        c, a, rx, _, _ = self._glu_table(jnp.asarray(w))
        return GLUFit(c=c, a=a, loss=self.target_norm() - rx)

    def glu_loss(self, w) -> Scalar:
        r"""$\ell(w, 0)$, the loss at the end of a channel with gate weight `w`."""
        return self.glu_fit(w).loss

    def channel_curvature(self, w) -> Scalar:
        r"""$h(w)$, the $\varepsilon^2$ coefficient of the loss along the channel at the
        optimal $(c, a)$ (module docs)."""
        return self._glu_table(jnp.asarray(w))[4]


def erf_toy(
    u: Numbers = (5.0, 5.0),
    b: Numbers = (2.5, -2.5),
    v: Numbers = (1.0, 1.0),
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


def _glu_values(toy, w):
    # ℓ(w, 0), the optimal (c, a), ∂_wℓ(w, 0) and h(w) at one gate weight
    c, a, rx, dloss, h = toy._glu_table(w)
    return jnp.stack([toy.target_norm() - rx, c, a, dloss, h])


# One module-level program for every GLU quantity, taking the toy as a pytree argument:
# compiled once per dtype and shared by every caller (curves, critical points, stable
# intervals, bisection steps; tests and figures), whatever the teacher; with the linalg
# programs' XLA:CPU options (classic emitters: 1.2-1.4 s CPU to compile instead of 2.0-2.6 s).
_GLU_PROGRAM: list = []


def _glu_values_jit(toy, w):
    if not _GLU_PROGRAM:
        fn = jax.vmap(_glu_values, in_axes=(None, 0))
        _GLU_PROGRAM.append(jax.jit(fn, compiler_options=compiler_options()))
    return _GLU_PROGRAM[0](toy, w)


_LOSS, _C, _A, _DLOSS, _H = range(5)
_CHUNK = 64  # gate weights per call: grids run in chunks, bisection brackets fit in one
_TEACHER_BUCKET = 4  # teacher neurons padded to a multiple of this (v = 0 adds nothing)


def _canonical(toy: ErfToy) -> ErfToy:
    """The toy with its teacher padded by neurons of zero output weight (u = b = v = 0:
    they add exact zeros to every kernel sum) to a multiple of `_TEACHER_BUCKET`, and the
    student width fixed (the GLU limit does not depend on it): teachers of 1-4 neurons and
    any width share one compiled program."""
    n = toy.u.shape[0]
    pad = -n % _TEACHER_BUCKET
    u, b, v = (jnp.asarray(np.pad(np.asarray(t), (0, pad))) for t in (toy.u, toy.b, toy.v))
    return ErfToy(u=u, b=b, v=v, width=2)


def _glu_eval(toy: ErfToy, w) -> np.ndarray | float:
    """`_glu_values` at the gate weights `w` (any length), as a numpy array (n, 5): chunks of
    `_CHUNK` points (the last one padded with w = 1), so that every length shares one shape."""
    w = np.asarray(w, dtype=toy.u.dtype)
    n = w.shape[0]
    size = _CHUNK * max(1, -(-n // _CHUNK))
    wp = np.concatenate([w, np.ones(size - n, w.dtype)])
    out = [np.asarray(_glu_values_jit(toy, wp[i : i + _CHUNK])) for i in range(0, size, _CHUNK)]
    return np.concatenate(out)[:n]


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
    vals = _glu_eval(_canonical(toy), ws)
    return GLUCurve(
        w=np.asarray(ws),
        loss=vals[:, _LOSS],
        c=vals[:, _C],
        a=vals[:, _A],
        h=vals[:, _H],
    )


def _roots(toy, column, lo, hi, num, steps=60):
    """Sign changes of column `column` of `_glu_values` on a grid of `num` points, refined
    by bisection (`steps` halvings of every bracket at once, each one call of the shared
    program). Returns the roots, the sign of the slope there and the values at the roots.
    (A bisection on the scalar gate weight $w$ of the closed-form GLU limit: it moves no
    params.)"""
    grid = np.linspace(lo, hi, int(num))
    vals = _glu_eval(toy, grid)[:, column]
    idx = np.where(np.sign(vals[1:]) * np.sign(vals[:-1]) < 0)[0]
    a, b = grid[idx], grid[idx + 1]
    fa = vals[idx]
    for _ in range(steps):
        m = 0.5 * (a + b)
        fm = _glu_eval(toy, m)[:, column]
        left = np.sign(fm) == np.sign(fa)
        a, b, fa = np.where(left, m, a), np.where(left, b, m), np.where(left, fm, fa)
    roots = 0.5 * (a + b)
    return roots, -np.sign(vals[idx]), _glu_eval(toy, roots)


def _check_grid(lo, hi, num):
    if int(num) < 3:
        raise ValueError(f"num: need at least 3 grid points, got {num}")
    for name, val in (("lo", lo), ("hi", hi)):
        if not np.isfinite(float(val)):
            raise ValueError(f"{name}: must be finite, got {val!r}")
    if not hi > lo:
        raise ValueError(f"hi: must exceed lo, got lo={lo}, hi={hi}")


def glu_critical_points(
    toy: ErfToy, *, lo: float = 0.3, hi: float = 6.0, num: int = 200
) -> GLUCriticalPoints:
    r"""Critical points $w$ of $\ell(w, 0)$ in $[lo, hi]$ (sign changes of $\partial_w\ell$ on
    a grid of `num` points, bisected to machine precision), with their losses, optimal
    $(c, a)$, $h(w)$ and `kind` (+1 minimum, −1 maximum). Any teacher of up to four neurons,
    any `num`: one compiled program (the teacher is an array argument)."""
    _check_grid(lo, hi, num)
    ws, kind, vals = _roots(_canonical(toy), _DLOSS, lo, hi, num)
    return GLUCriticalPoints(
        w=ws,
        loss=vals[:, _LOSS],
        c=vals[:, _C],
        a=vals[:, _A],
        h=vals[:, _H],
        kind=kind,
    )


def stable_channel_interval(
    toy: ErfToy, *, lo: float = 0.3, hi: float = 6.0, num: int = 200
) -> np.ndarray | float:
    r"""Zeros of $h(w)$ in $[lo, hi]$ (the ends of the intervals where $h > 0$); the same
    compiled program as `glu_critical_points`."""
    _check_grid(lo, hi, num)
    return _roots(_canonical(toy), _H, lo, hi, num)[0]


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
