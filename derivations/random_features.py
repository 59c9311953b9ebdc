r"""Fort & Ganguli's logit-gradient model: BBP threshold, outlier location and bulk edge of the
Gauss–Newton term, the gradient-confinement fraction, freezing of tr G, and the semicircle
formula for the positive fraction of random restrictions (Goldilocks).

At uniform softmax with orthogonal logit-index means $c_k = \sigma_c e_k$,
$G = \frac{C-1}{C}\frac1n XX^\top$ with $X$ ($D\times n$, $n = N(C-1)$) an
information-plus-noise matrix: noise variance $s^2 = \sigma_E^2/D$, signal eigenvalue
$\sigma_c^2/(C-1)$ of multiplicity $C-1$, i.e. spike $\ell = \theta^2 =
\sigma_c^2/((C-1)s^2)$ in units of the noise, ratio $\gamma = c = D/n$.

Silverstein's inverse for a unit-variance bulk, $z(\underline m) = -1/\underline m +
\gamma/(1+\underline m)$, gives the bulk edge at $z'(\underline m)=0$ and a spiked
population eigenvalue $1+\ell$ an outlier at $z(-1/(1+\ell))$ when $-1/(1+\ell)$ lies
beyond the critical $\underline m$: BBP.
"""

import sympy as sp


gamma, ell, m = sp.symbols("gamma ell m", positive=True)
C, D, N, sigma_E, sigma_c = sp.symbols("C D N sigma_E sigma_c", positive=True)
S, R2, k, rho, d, x = sp.symbols("S R2 k rho d x", positive=True)

Z_OF_M = -1 / m + gamma / (1 + m)

# Critical point of z(m) on (-1, 0): m_c = -1/(1+sqrt(gamma)).
M_CRIT = -1 / (1 + sp.sqrt(gamma))
EDGE_UNIT = sp.simplify(Z_OF_M.subs(m, M_CRIT))
OUTLIER_UNIT = sp.simplify(Z_OF_M.subs(m, -1 / (1 + ell)))
ELL_CRIT = sp.sqrt(gamma)

# The model's parameters.
N_COLS = N * (C - 1)
RATIO = D / N_COLS
S2 = sigma_E**2 / D
PREF = (C - 1) / C
THETA2 = sigma_c**2 / ((C - 1) * S2)

EDGE = PREF * S2 * EDGE_UNIT.subs(gamma, RATIO)
OUTLIER = PREF * S2 * OUTLIER_UNIT.subs({gamma: RATIO, ell: THETA2})
SIGMA_C_CRIT = sp.sqrt((C - 1) * S2 * sp.sqrt(RATIO))

# The outliers' eigenvectors: squared overlap with the spiked (mean) directions on the D side,
# |<u, u~>|^2 = (l_pop/lambda) d lambda/d l_pop with population eigenvalue l_pop = 1 + l
# (Paul 2007; Benaych-Georges & Nadakuditi 2012 for the information-plus-noise matrix:
# 1 - gamma(1 + l)/(l(l + gamma))), zero at the threshold l = sqrt(gamma).
OVERLAP_UNIT = sp.simplify((1 + ell) * sp.diff(OUTLIER_UNIT, ell) / OUTLIER_UNIT)
OVERLAP = OVERLAP_UNIT.subs({gamma: RATIO, ell: THETA2})

# Confinement: E||P g||^2 / E||g||^2 with S = ||mean part||^2 and noise NZ.
NZ = sigma_E**2 * R2 / N
FRACTION = (S + k / D * NZ) / (S + NZ)

# Semicircle CDF (unit radius) and the Goldilocks positive fraction.
_t = sp.symbols("t", real=True)
SC_DENSITY = 2 / sp.pi * sp.sqrt(1 - _t**2)
SC_CDF = sp.Rational(1, 2) + (x * sp.sqrt(1 - x**2) + sp.asin(x)) / sp.pi
POSITIVE_FRACTION = 1 - SC_CDF.subs(x, -rho / (2 * sp.sqrt(d)))

bulk_edge = sp.lambdify((C, D, N, sigma_E), EDGE, modules="numpy")
bbp_outlier = sp.lambdify((sigma_c, C, D, N, sigma_E), OUTLIER, modules="numpy")
bbp_threshold = sp.lambdify((C, D, N, sigma_E), SIGMA_C_CRIT, modules="numpy")
outlier_overlap = sp.lambdify((sigma_c, C, D, N, sigma_E), OVERLAP, modules="numpy")
confinement_fraction = sp.lambdify((S, R2, sigma_E, N, D, k), FRACTION, modules="numpy")
positive_fraction = sp.lambdify((rho, d), POSITIVE_FRACTION, modules="numpy")


def _expect_gaussian(expr, noise_syms, var):
    """E over independent centred noise symbols with variance `var` (degree <= 2 terms)."""
    poly = sp.Poly(sp.expand(expr), *noise_syms)
    out = 0
    for monom, coeff in poly.terms():
        if all(p == 0 for p in monom):
            out += coeff
        elif sorted(monom)[-1] == 2 and sum(monom) == 2:
            out += coeff * var
        # odd or mixed monomials average to zero
    return sp.simplify(out)


def check() -> None:
    # Silverstein inverse: dz/dm = 0 at m_c, and the edge is (1 + sqrt(gamma))^2.
    assert sp.simplify(sp.diff(Z_OF_M, m).subs(m, M_CRIT)) == 0
    assert sp.simplify(EDGE_UNIT - (1 + sp.sqrt(gamma)) ** 2) == 0
    # Outlier (1 + l)(1 + gamma/l) = (1 + theta^2)(c + theta^2)/theta^2 with l = theta^2.
    assert sp.simplify(OUTLIER_UNIT - (1 + ell) * (1 + gamma / ell)) == 0
    assert sp.simplify(OUTLIER_UNIT - (1 + ell) * (gamma + ell) / ell) == 0
    # The spike's m = -1/(1+l) reaches m_c exactly at l = sqrt(gamma) (BBP threshold),
    # where the outlier meets the edge tangentially (zero slope).
    assert sp.simplify((-1 / (1 + ell)).subs(ell, ELL_CRIT) - M_CRIT) == 0
    assert sp.simplify(OUTLIER_UNIT.subs(ell, ELL_CRIT) - EDGE_UNIT) == 0
    assert sp.simplify(sp.diff(OUTLIER_UNIT, ell).subs(ell, ELL_CRIT)) == 0
    # Strong signal: outlier ~ l + 1 + gamma.
    assert sp.limit(OUTLIER_UNIT - (ell + 1 + gamma), ell, sp.oo) == 0
    # In model units: at sigma_c = sigma_c* the outlier equals the edge.
    assert sp.simplify(OUTLIER.subs(sigma_c, SIGMA_C_CRIT) - EDGE) == 0
    assert sp.simplify(THETA2.subs(sigma_c, SIGMA_C_CRIT) - sp.sqrt(RATIO)) == 0

    # The eigenvector overlap: Paul's (1 - gamma/l^2)/(1 + gamma/l), Benaych-Georges and
    # Nadakuditi's rectangular form 1 - c(1 + t)/(t(t + c)) (t = theta^2 = l, c = gamma),
    # zero at the threshold, -> 1 for a strong spike, in [0, 1) above the threshold.
    assert sp.simplify(OVERLAP_UNIT - (1 - gamma / ell**2) / (1 + gamma / ell)) == 0
    assert sp.simplify(OVERLAP_UNIT - (1 - gamma * (1 + ell) / (ell * (ell + gamma)))) == 0
    assert sp.simplify(OVERLAP_UNIT.subs(ell, ELL_CRIT)) == 0
    assert sp.limit(OVERLAP_UNIT, ell, sp.oo) == 1
    assert sp.simplify(OVERLAP.subs(sigma_c, SIGMA_C_CRIT)) == 0

    # Confinement from the noise model, N = 2 samples, C = 2 logits, D = 3 coordinates:
    # g = (1/N) sum_mu sum_k r_k^mu (c_k + E_k^mu), top projector onto e_1 (k = 1).
    r = sp.symbols("r0:4", real=True)  # r[mu*2 + k]
    a0, a1 = sp.symbols("a0 a1", real=True)  # mean vectors c_0 = a0 e1, c_1 = a1 e1
    e = sp.symbols("e0:12", real=True)  # E[mu, k, j] = e[(mu*2+k)*3 + j]
    var = sigma_E**2 / 3
    g = [0, 0, 0]
    for mu in range(2):
        for kk in range(2):
            rk = r[mu * 2 + kk]
            mean = (a0 if kk == 0 else a1, 0, 0)
            for j in range(3):
                g[j] += rk * (mean[j] + e[(mu * 2 + kk) * 3 + j]) / 2
    eg2 = _expect_gaussian(sum(gj**2 for gj in g), e, var)
    epg2 = _expect_gaussian(g[0] ** 2, e, var)
    s_val = ((r[0] + r[2]) * a0 + (r[1] + r[3]) * a1) ** 2 / 4
    r2_val = (r[0] ** 2 + r[1] ** 2 + r[2] ** 2 + r[3] ** 2) / 2
    subs = {S: s_val, R2: r2_val, N: 2, D: 3, k: 1}
    assert sp.simplify(eg2 - (S + NZ).subs(subs)) == 0
    assert sp.simplify(epg2 - (S + k / D * NZ).subs(subs)) == 0
    assert sp.simplify(FRACTION.subs(S, 0) - k / D) == 0
    assert sp.limit(FRACTION, S, sp.oo) == 1

    # Freezing: for orthogonal means c_k = sigma_c e_k (C = 3),
    # sum_k p_k ||c_k - sum_j p_j c_j||^2 = sigma_c^2 (1 - ||p||^2) on the simplex.
    p0, p1 = sp.symbols("p0 p1", positive=True)
    p = [p0, p1, 1 - p0 - p1]
    cbar = [sigma_c * pj for pj in p]
    spread = sum(
        p[i] * sum((sigma_c * int(i == j) - cbar[j]) ** 2 for j in range(3)) for i in range(3)
    )
    assert sp.simplify(spread - sigma_c**2 * (1 - sum(pj**2 for pj in p))) == 0

    # Semicircle: the CDF integrates the density; the positive fraction is 1/2 at rho = 0
    # and increases with rho, decreases with d.
    assert sp.simplify(sp.diff(SC_CDF, x) - SC_DENSITY.subs(_t, x)) == 0
    assert sp.simplify(SC_CDF.subs(x, -1)) == 0 and sp.simplify(SC_CDF.subs(x, 1) - 1) == 0
    assert POSITIVE_FRACTION.subs(rho, 0) == sp.Rational(1, 2)
    assert sp.simplify(sp.diff(POSITIVE_FRACTION, rho).subs({rho: 1, d: 4})) > 0
    assert sp.simplify(sp.diff(POSITIVE_FRACTION, d).subs({rho: 1, d: 4})) < 0
    assert sp.simplify(POSITIVE_FRACTION.subs(rho, 2 * sp.sqrt(d)) - 1) == 0


if __name__ == "__main__":
    check()
    print("ok")
