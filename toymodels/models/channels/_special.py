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

import jax.numpy as jnp
import numpy as np
from jax.scipy.special import ndtr


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


def owens_t(h, a):
    r"""Owen's $T(h, a) = \frac1{2\pi}\int_0^a \frac{e^{-h^2(1+x^2)/2}}{1+x^2}dx$.

    Gauss–Legendre (64 nodes) for $|a|\le1$; for $|a|>1$ the identity
    $T(h,a) = \operatorname{sgn}(a)[\tfrac12\Phi(|h|) + \tfrac12\Phi(|ah|) - \Phi(|h|)\Phi(|ah|)
    - T(|ah|, 1/|a|)]$. Differentiable (JAX); agrees with `scipy.special.owens_t`."""
    h, a = jnp.broadcast_arrays(jnp.asarray(h), jnp.asarray(a))
    ah = jnp.abs(h)
    aa = jnp.abs(a)
    small = aa <= 1.0
    a_s = jnp.where(small, a, 0.0)
    a_l = jnp.where(small, 2.0, aa)
    direct = _owens_t_small(h, a_s)
    hp = a_l * ah
    big = 0.5 * ndtr(ah) + 0.5 * ndtr(hp) - ndtr(ah) * ndtr(hp) - _owens_t_small(hp, 1.0 / a_l)
    return jnp.where(small, direct, jnp.sign(a) * big)


def erf_pair_nobias(a1, a2):
    r"""$\mathbb E[\sigma(\alpha_1x)\sigma(\alpha_2x)] = \frac2\pi\arcsin\frac{\alpha_1\alpha_2}
    {\sqrt{(1+\alpha_1^2)(1+\alpha_2^2)}}$."""
    return (2.0 / jnp.pi) * jnp.arcsin(a1 * a2 / jnp.sqrt((1.0 + a1**2) * (1.0 + a2**2)))


def erf_pair_onebias(a1, a2, b2):
    r"""$\mathbb E[\sigma(\alpha_1x)\sigma(\alpha_2x+\beta_2)] =
    4T\big(\beta_2/\sqrt{1+\alpha_2^2},\ \alpha_1\alpha_2/\sqrt{1+\alpha_1^2+\alpha_2^2}\big)$."""
    k = b2 / jnp.sqrt(1.0 + a2**2)
    return 4.0 * owens_t(k, a1 * a2 / jnp.sqrt(1.0 + a1**2 + a2**2))


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
    phi2 = (
        0.5 * ndtr(h)
        + 0.5 * ndtr(k)
        - owens_t(hs, (ks - rho * hs) / (hs * s))
        - owens_t(ks, (hs - rho * ks) / (ks * s))
        - jnp.where(h * k < 0, 0.5, 0.0)
    )
    general = 4.0 * phi2 - 2.0 * ndtr(h) - 2.0 * ndtr(k) + 1.0
    r = rho / s
    one_h0 = 4.0 * owens_t(ks, r)
    one_k0 = 4.0 * owens_t(hs, r)
    none = (2.0 / jnp.pi) * jnp.arcsin(rho)
    return jnp.where(hz & kz, none, jnp.where(hz, one_h0, jnp.where(kz, one_k0, general)))
