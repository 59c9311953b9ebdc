r"""Non-normal measures of linearized update operators (the operators themselves are built
by the optimizer objects: `GD(...).operator(H)`, `HeavyBall(...).operator(H)`, ...).

The eigenvector condition number $\kappa(V) = \lVert V\rVert_2\lVert V^{-1}\rVert_2$ is taken
with unit-norm eigenvector columns (within $\sqrt n$ of the optimal scaling); it depends on the
state coordinates of the operator, the spectrum does not.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from .._validation import check_positive


# --------------------------------------------------------------------------- measures


def _square(name, j) -> Array:
    a = jnp.asarray(j)
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ValueError(f"{name}: expected a square matrix, got shape {a.shape}")
    if not bool(jnp.all(jnp.isfinite(a))):
        raise ValueError(f"{name}: contains non-finite values")
    return a


def spectral_radius(operator: Float[ArrayLike, "n n"]) -> float:
    r"""$\rho(J) = \max_i |\lambda_i(J)|$."""
    j = _square("operator", operator)
    return float(np.max(np.abs(np.linalg.eigvals(np.asarray(j)))))


def eigenvector_condition(operator: Float[ArrayLike, "n n"]) -> float:
    r"""$\kappa(V) = \sigma_{\max}(V)/\sigma_{\min}(V)$ for the eigenvector matrix with unit
    columns; `inf` for a defective (numerically singular $V$) operator."""
    j = np.asarray(_square("operator", operator))
    _, v = np.linalg.eig(j)
    v = v / np.linalg.norm(v, axis=0, keepdims=True)
    s = np.linalg.svd(v, compute_uv=False)
    return float(s[0] / s[-1]) if s[-1] > 0 else float("inf")


def transient_growth(operator: Float[ArrayLike, "n n"], num_steps: int) -> Float[Array, " K"]:
    r"""$\lVert J^k\rVert_2$ for $k = 0, \dots,$ `num_steps` (spectral norm)."""
    j = _square("operator", operator)
    if int(num_steps) < 1:
        raise ValueError(f"num_steps: must be >= 1, got {num_steps}")

    def step(p, _):
        p = j @ p
        return p, jnp.linalg.norm(p, ord=2)

    _, norms = jax.lax.scan(step, jnp.eye(j.shape[0], dtype=j.dtype), None, length=int(num_steps))
    return jnp.concatenate([jnp.ones((1,), norms.dtype), norms])


def _sigma_min_grid(j: np.ndarray, z: np.ndarray) -> np.ndarray:
    """σ_min(zI − J) for every complex z (any shape), via the Schur form (unitary
    invariance: σ(zI − J) = σ(zI − T))."""
    import scipy.linalg  # noqa: PLC0415

    t, _ = scipy.linalg.schur(j.astype(complex), output="complex")
    n = t.shape[0]
    zf = z.reshape(-1)
    out = np.empty(zf.shape, dtype=float)
    chunk = max(1, 200_000 // (n * n))
    eye = np.eye(n)
    for s in range(0, zf.size, chunk):
        zz = zf[s : s + chunk]
        mats = zz[:, None, None] * eye - t
        out[s : s + chunk] = np.linalg.svd(mats, compute_uv=False)[:, -1]
    return out.reshape(z.shape)


def pseudospectral_radius(
    operator: Float[ArrayLike, "n n"],
    eps: float,
    *,
    num_angles: int = 256,
    num_radii: int = 400,
    r_max: float | None = None,
) -> float:
    r"""The $\epsilon$-pseudospectral radius $\rho_\epsilon(J) = \max\{|z| :
    \sigma_{\min}(zI - J) \le \epsilon\}$ on a polar grid (a lower estimate, accurate to the
    radial spacing `r_max / num_radii`). Bauer–Fike gives $\rho_\epsilon \le \rho + \epsilon\kappa(V)$
    (`pseudospectral_bound`)."""
    j = np.asarray(_square("operator", operator), dtype=float)
    check_positive("eps", eps)
    rho = float(np.max(np.abs(np.linalg.eigvals(j))))
    if r_max is None:
        r_max = rho + eps * np.linalg.norm(j, 2) + 2 * eps + 0.5
    radii = np.linspace(0.0, r_max, int(num_radii))
    angles = np.linspace(0.0, 2 * np.pi, int(num_angles), endpoint=False)
    z = radii[:, None] * np.exp(1j * angles)[None, :]
    smin = _sigma_min_grid(j, z)
    inside = smin <= eps
    r_grid = np.broadcast_to(radii[:, None], z.shape)
    best = float(np.max(np.where(inside, r_grid, 0.0)))
    return max(best, rho)


def pseudospectral_bound(operator: Float[ArrayLike, "n n"], eps: float) -> float:
    r"""Bauer–Fike: $\rho_\epsilon(J) \le \rho(J) + \epsilon\,\kappa(V)$."""
    check_positive("eps", eps)
    return spectral_radius(operator) + eps * eigenvector_condition(operator)


def kreiss_constant(
    operator: Float[ArrayLike, "n n"], *, num_angles: int = 256, num_radii: int = 200
) -> float:
    r"""$K(J) = \sup_{|z|>1}(|z|-1)\,\lVert(zI - J)^{-1}\rVert_2$ on a polar grid with
    $|z| - 1$ log-spaced in $[10^{-6}, 10^{2}]$ (a lower estimate). Kreiss' matrix theorem:
    $K \le \sup_k\lVert J^k\rVert \le e\,n\,K$. `inf` when $\rho(J) \ge 1$."""
    j = np.asarray(_square("operator", operator), dtype=float)
    if np.max(np.abs(np.linalg.eigvals(j))) >= 1.0:
        return float("inf")
    radii = 1.0 + np.geomspace(1e-6, 1e2, int(num_radii))
    angles = np.linspace(0.0, 2 * np.pi, int(num_angles), endpoint=False)
    # include the eigenvalue directions, where the resolvent peaks
    lam = np.linalg.eigvals(j)
    angles = np.concatenate([angles, np.angle(lam[np.abs(lam) > 0])])
    z = radii[:, None] * np.exp(1j * angles)[None, :]
    smin = _sigma_min_grid(j, z)
    return float(np.max((np.abs(z) - 1.0) / smin))


class OperatorMeasures(eqx.Module):
    """Summary of an update operator: `rho` (spectral radius), `kappa` (κ(V)),
    `max_growth` (sup over k ≤ `num_steps` of ‖Jᵏ‖₂), `departure` (‖JJᵀ − JᵀJ‖_F / ‖J‖_F²,
    0 for a normal operator)."""

    rho: float
    kappa: float
    max_growth: float
    departure: float


def operator_measures(
    operator: Float[ArrayLike, "n n"], *, num_steps: int = 200
) -> OperatorMeasures:
    """`spectral_radius`, `eigenvector_condition`, `transient_growth` and a normality
    defect of `operator` in one call."""
    j = _square("operator", operator)
    growth = transient_growth(j, num_steps)
    jn = np.asarray(j)
    dep = np.linalg.norm(jn @ jn.T - jn.T @ jn) / max(np.linalg.norm(jn) ** 2, 1e-300)
    return OperatorMeasures(
        rho=spectral_radius(j),
        kappa=eigenvector_condition(j),
        max_growth=float(jnp.max(growth)),
        departure=float(dep),
    )
