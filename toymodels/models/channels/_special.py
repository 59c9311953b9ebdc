r"""Owen's T function and Gaussian expectations of products of erf neurons with biases.

$\sigma(z) = \mathrm{erf}(z/\sqrt2) = 2\Phi(z) - 1$. For $x\sim\mathcal N(0,1)$ and
$p = \alpha_1x + \beta_1$, $q = \alpha_2x+\beta_2$:

$$\mathbb E[\sigma(p)\sigma(q)] = 4\Phi_2(h, k; \rho) - 2\Phi(h) - 2\Phi(k) + 1,\quad
h = \tfrac{\beta_1}{\sqrt{1+\alpha_1^2}},\ k = \tfrac{\beta_2}{\sqrt{1+\alpha_2^2}},\
\rho = \tfrac{\alpha_1\alpha_2}{\sqrt{(1+\alpha_1^2)(1+\alpha_2^2)}},$$

with the bivariate normal CDF $\Phi_2$ written with Owen's $T$ (Owen 1956):
$\Phi_2(h,k;\rho) = \tfrac12\Phi(h)+\tfrac12\Phi(k) - T(h, a_h) - T(k, a_k) - \beta$,
$a_h = \frac{k-\rho h}{h\sqrt{1-\rho^2}}$, $a_k = \frac{h-\rho k}{k\sqrt{1-\rho^2}}$,
$\beta = \tfrac12$ if $hk<0$ else 0. Special cases used here:
$\beta_1 = \beta_2 = 0$: $\frac2\pi\arcsin\rho$;
$\beta_1 = 0$: $4\,T\big(k, \alpha_1\alpha_2/\sqrt{1+\alpha_1^2+\alpha_2^2}\big)$.
"""

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import erf, ndtr


_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(64)
_T01 = 0.5 * (_NODES + 1.0)
_W01 = 0.5 * _WEIGHTS


def _owens_t_small(h, a):
    # |a| <= 1: T = (1/2π) ∫_0^a exp(-h²(1+x²)/2)/(1+x²) dx, Gauss–Legendre on [0, 1]·a.
    t = jnp.asarray(_T01, dtype=jnp.result_type(h, a))
    w = jnp.asarray(_W01, dtype=jnp.result_type(h, a))
    x = a[..., None] * t
    f = jnp.exp(-0.5 * h[..., None] ** 2 * (1.0 + x**2)) / (1.0 + x**2)
    return a * jnp.sum(w * f, axis=-1) / (2.0 * jnp.pi)


@jax.jit  # one program per shape when called outside jit (not op by op)
def owens_t(h, a):
    r"""Owen's $T(h, a) = \frac1{2\pi}\int_0^a \frac{e^{-h^2(1+x^2)/2}}{1+x^2}dx$.

    Gauss–Legendre (64 nodes) for $|a|\le1$; for $|a|>1$ the identity
    $T(h,a) = \operatorname{sgn}(a)[\tfrac12\Phi(|h|) + \tfrac12\Phi(|ah|) - \Phi(|h|)\Phi(|ah|)
    - T(|ah|, 1/|a|)]$. Agrees with `scipy.special.owens_t`.

    Differentiable (JAX) through its closed-form partial derivatives
    $\partial_aT = \frac{e^{-h^2(1+a^2)/2}}{2\pi(1+a^2)}$ and
    $\partial_hT = -\varphi(h)\,\tfrac12\mathrm{erf}(ah/\sqrt2)$ (a custom JVP): derivatives
    of any order are elementary functions, not derivatives of the quadrature and of both
    branches, so the nested derivatives of the GLU limit stay small programs."""
    h, a = jnp.broadcast_arrays(jnp.asarray(h), jnp.asarray(a))
    return _owens_t(h, a)


@jax.custom_jvp
def _owens_t(h, a):
    ah = jnp.abs(h)
    aa = jnp.abs(a)
    small = aa <= 1.0
    a_s = jnp.where(small, a, 0.0)
    a_l = jnp.where(small, 2.0, aa)
    hp = a_l * ah
    # both branches from one quadrature and one ndtr (stacked): small compiled programs
    direct, t_big = _owens_t_small(jnp.stack([h, hp]), jnp.stack([a_s, 1.0 / a_l]))
    p_h, p_hp = ndtr(jnp.stack([ah, hp]))
    big = 0.5 * p_h + 0.5 * p_hp - p_h * p_hp - t_big
    return jnp.where(small, direct, jnp.sign(a) * big)


@_owens_t.defjvp
def _owens_t_jvp(primals, tangents):
    h, a = primals
    dh, da = tangents
    dt_da = jnp.exp(-0.5 * h**2 * (1.0 + a**2)) / (2.0 * jnp.pi * (1.0 + a**2))
    dt_dh = -jnp.exp(-0.5 * h**2) / np.sqrt(2.0 * np.pi) * 0.5 * erf(a * h / np.sqrt(2.0))
    return _owens_t(h, a), dt_dh * dh + dt_da * da


def erf_pair_nobias(a1, a2):
    r"""$\mathbb E[\sigma(\alpha_1x)\sigma(\alpha_2x)] = \frac2\pi\arcsin\frac{\alpha_1\alpha_2}
    {\sqrt{(1+\alpha_1^2)(1+\alpha_2^2)}}$."""
    return (2.0 / jnp.pi) * jnp.arcsin(a1 * a2 / jnp.sqrt((1.0 + a1**2) * (1.0 + a2**2)))


def erf_pair_onebias(a1, a2, b2):
    r"""$\mathbb E[\sigma(\alpha_1x)\sigma(\alpha_2x+\beta_2)] =
    4T\big(\beta_2/\sqrt{1+\alpha_2^2},\ \alpha_1\alpha_2/\sqrt{1+\alpha_1^2+\alpha_2^2}\big)$."""
    k = b2 / jnp.sqrt(1.0 + a2**2)
    return 4.0 * owens_t(k, a1 * a2 / jnp.sqrt(1.0 + a1**2 + a2**2))


@jax.jit  # one program per shape when called outside jit (not op by op)
def erf_pair(a1, b1, a2, b2):
    r"""$\mathbb E[\sigma(\alpha_1x+\beta_1)\sigma(\alpha_2x+\beta_2)]$ for any biases (module
    docs); biases exactly 0 take the special-case formulas."""
    a1, b1, a2, b2 = jnp.broadcast_arrays(*map(jnp.asarray, (a1, b1, a2, b2)))
    h = b1 / jnp.sqrt(1.0 + a1**2)
    k = b2 / jnp.sqrt(1.0 + a2**2)
    rho = a1 * a2 / jnp.sqrt((1.0 + a1**2) * (1.0 + a2**2))
    s = jnp.sqrt(1.0 - rho**2)
    hz, kz = h == 0, k == 0
    hs = jnp.where(hz, 1.0, h)
    ks = jnp.where(kz, 1.0, k)
    r = rho / s
    # the four Owen's T values and the two Φ values from one call each (stacked)
    t_h, t_k, one_h0, one_k0 = owens_t(
        jnp.stack([hs, ks, ks, hs]),
        jnp.stack([(ks - rho * hs) / (hs * s), (hs - rho * ks) / (ks * s), r, r]),
    )
    p_h, p_k = ndtr(jnp.stack([h, k]))
    phi2 = 0.5 * p_h + 0.5 * p_k - t_h - t_k - jnp.where(h * k < 0, 0.5, 0.0)
    general = 4.0 * phi2 - 2.0 * p_h - 2.0 * p_k + 1.0
    one_h0, one_k0 = 4.0 * one_h0, 4.0 * one_k0
    none = (2.0 / jnp.pi) * jnp.arcsin(rho)
    return jnp.where(hz & kz, none, jnp.where(hz, one_h0, jnp.where(kz, one_k0, general)))
