r"""Linearized update operators of optimizers and their non-normal measures.

Near a point where the loss is locally the quadratic $\tfrac12\theta^\top H\theta$, one step of an
optimizer is the linear map $s_{k+1} = J s_k$ on its state $s$. Conventions (state, operator):

- GD: $s = \theta$, $J = I - \eta H$ (symmetric, so normal: $\kappa(V) = 1$).
- Heavy ball, torch `SGD(momentum=β)` (buffer $b \leftarrow \beta b + g$,
  $\theta \leftarrow \theta - \eta b$), written as the two-step recurrence
  $\theta_{k+1} = \theta_k - \eta H\theta_k + \beta(\theta_k - \theta_{k-1})$ on
  $s = (\theta_k, \theta_{k-1})$: $J = \begin{pmatrix}(1+\beta)I - \eta H & -\beta I\\ I & 0\end{pmatrix}$.
- Nesterov, torch `nesterov=True`, on $s = (\theta_k, \theta_{k-1})$:
  $J = \begin{pmatrix}(1+\beta)(I - \eta H) & -\beta(I - \eta H)\\ I & 0\end{pmatrix}$.
- EMA momentum (Adam's first moment without preconditioning), $m \leftarrow \beta m +
  (1-\beta) g$, $\theta \leftarrow \theta - \eta m$, on $s = (\theta, m)$:
  $J = \begin{pmatrix}I - \eta(1-\beta) H & -\eta\beta I\\ (1-\beta)H & \beta I\end{pmatrix}$.
- Adam with a frozen diagonal preconditioner $M = \mathrm{diag}(1/(\sqrt{\hat v} + \epsilon))$:
  without first moment $J = I - \eta M H$; with first moment $\beta_1$ the EMA operator with
  $\eta M$ in place of $\eta$ (state $(\theta, m)$).

The eigenvector condition number $\kappa(V) = \lVert V\rVert_2\lVert V^{-1}\rVert_2$ is taken with
unit-norm eigenvector columns (within $\sqrt n$ of the optimal scaling); it depends on the
state coordinates above, the spectrum does not.
"""

import dataclasses
import enum

import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from .._custom_types import Params
from .._validation import as_enum, as_float_array, check_positive
from ._common import check_problem, flatten_params


class Method(enum.Enum):
    """Optimizer whose linearized update operator is formed (see module docstring)."""

    GD = "gd"
    HEAVY_BALL = "heavy_ball"
    NESTEROV = "nesterov"
    EMA_MOMENTUM = "ema_momentum"
    ADAM = "adam"


def _check_beta(beta) -> float:
    b = float(beta)
    if not (0.0 <= b < 1.0):
        raise ValueError(f"beta: must be in [0, 1), got {beta!r}")
    return b


def _hessian_matrix(hessian) -> Array:
    h = as_float_array("hessian", hessian, ndim=(0, 1, 2))
    if h.ndim == 0:
        h = h.reshape(1, 1)
    elif h.ndim == 1:  # eigenvalues / diagonal Hessian
        h = jnp.diag(h)
    if h.shape[0] != h.shape[1]:
        raise ValueError(f"hessian: expected a square matrix, got shape {h.shape}")
    return h


def stability_threshold(method: Method | str, *, beta: float = 0.0) -> float:
    r"""Critical $\eta\lambda$ above which the method diverges on a quadratic with curvature
    $\lambda > 0$: GD 2, heavy ball $2(1+\beta)$, Nesterov $(2+2\beta)/(1+2\beta)$,
    EMA momentum $2(1+\beta)/(1-\beta)$ (Adam with frozen $M$: the same numbers for the
    preconditioned sharpness $\lambda_{\max}(MH)$). See `derivations.optimizer_stability`."""
    m = as_enum("method", method, Method)
    b = _check_beta(beta)
    if m is Method.GD:
        return 2.0
    if m is Method.HEAVY_BALL:
        return 2.0 * (1.0 + b)
    if m is Method.NESTEROV:
        return (2.0 + 2.0 * b) / (1.0 + 2.0 * b)
    if m is Method.EMA_MOMENTUM:
        return 2.0 * (1.0 + b) / (1.0 - b)
    return 2.0 if b == 0.0 else 2.0 * (1.0 + b) / (1.0 - b)


def heavy_ball_exceptional_points(beta: float) -> tuple[float, float]:
    r"""The values of $\eta h$ where the heavy-ball block
    $\begin{pmatrix}1+\beta-\eta h & -\beta\\ 1 & 0\end{pmatrix}$ is defective (a Jordan block,
    $\kappa(V) = \infty$): $(1\mp\sqrt\beta)^2$. Between them the eigenvalues are complex with
    modulus $\sqrt\beta$."""
    b = _check_beta(beta)
    return ((1.0 - np.sqrt(b)) ** 2, (1.0 + np.sqrt(b)) ** 2)


def gd_operator(hessian: Float[ArrayLike, "n n"], lr: float) -> Float[Array, "n n"]:
    r"""$J = I - \eta H$."""
    h = _hessian_matrix(hessian)
    check_positive("lr", lr)
    return jnp.eye(h.shape[0], dtype=h.dtype) - lr * h


def heavy_ball_operator(
    hessian: Float[ArrayLike, "n n"], lr: float, beta: float
) -> Float[Array, "2n 2n"]:
    r"""Heavy ball (torch momentum) on $(\theta_k, \theta_{k-1})$:
    $\begin{pmatrix}(1+\beta)I - \eta H & -\beta I\\ I & 0\end{pmatrix}$."""
    h = _hessian_matrix(hessian)
    check_positive("lr", lr)
    b = _check_beta(beta)
    eye = jnp.eye(h.shape[0], dtype=h.dtype)
    top = jnp.concatenate([(1 + b) * eye - lr * h, -b * eye], axis=1)
    bottom = jnp.concatenate([eye, jnp.zeros_like(eye)], axis=1)
    return jnp.concatenate([top, bottom], axis=0)


def nesterov_operator(
    hessian: Float[ArrayLike, "n n"], lr: float, beta: float
) -> Float[Array, "2n 2n"]:
    r"""Nesterov (torch `nesterov=True`) on $(\theta_k, \theta_{k-1})$:
    $\begin{pmatrix}(1+\beta)(I - \eta H) & -\beta(I - \eta H)\\ I & 0\end{pmatrix}$."""
    h = _hessian_matrix(hessian)
    check_positive("lr", lr)
    b = _check_beta(beta)
    eye = jnp.eye(h.shape[0], dtype=h.dtype)
    a = eye - lr * h
    top = jnp.concatenate([(1 + b) * a, -b * a], axis=1)
    bottom = jnp.concatenate([eye, jnp.zeros_like(eye)], axis=1)
    return jnp.concatenate([top, bottom], axis=0)


def _ema_operator(h, lr_m, b):
    # lr_m: eta * M, an (n, n) matrix (diagonal preconditioner folded in).
    eye = jnp.eye(h.shape[0], dtype=h.dtype)
    top = jnp.concatenate([eye - (1 - b) * lr_m @ h, -b * lr_m], axis=1)
    bottom = jnp.concatenate([(1 - b) * h, b * eye], axis=1)
    return jnp.concatenate([top, bottom], axis=0)


def ema_momentum_operator(
    hessian: Float[ArrayLike, "n n"], lr: float, beta: float
) -> Float[Array, "2n 2n"]:
    r"""EMA momentum on $(\theta, m)$:
    $\begin{pmatrix}I - \eta(1-\beta)H & -\eta\beta I\\ (1-\beta)H & \beta I\end{pmatrix}$."""
    h = _hessian_matrix(hessian)
    check_positive("lr", lr)
    b = _check_beta(beta)
    return _ema_operator(h, lr * jnp.eye(h.shape[0], dtype=h.dtype), b)


def adam_preconditioner(second_moment: ArrayLike, *, eps: float = 1e-8) -> Array:
    r"""Adam's diagonal $M = 1/(\sqrt{\hat v} + \epsilon)$ from the (bias-corrected) second
    moment $\hat v$ (any pytree of arrays is raveled)."""
    flat, _ = jax.flatten_util.ravel_pytree(second_moment)
    return 1.0 / (jnp.sqrt(flat) + eps)


def adam_operator(
    hessian: Float[ArrayLike, "n n"],
    lr: float,
    preconditioner: Float[ArrayLike, " n"],
    *,
    beta1: float | None = None,
) -> Array:
    r"""Adam with a frozen diagonal preconditioner $M$ (the vector `preconditioner`):
    $J = I - \eta MH$ without first moment (`beta1=None`), otherwise the EMA operator on
    $(\theta, m)$ with $\eta M$ in place of $\eta$. $J - J^\top = -\eta[M, H]$ for the former."""
    h = _hessian_matrix(hessian)
    check_positive("lr", lr)
    m = as_float_array("preconditioner", preconditioner, ndim=1)
    if m.shape[0] != h.shape[0]:
        raise ValueError(
            f"preconditioner: has {m.shape[0]} entries for a Hessian of size {h.shape[0]}"
        )
    if bool(jnp.any(m <= 0)):
        raise ValueError("preconditioner: entries must be positive")
    lr_m = lr * jnp.diag(m)
    if beta1 is None:
        return jnp.eye(h.shape[0], dtype=h.dtype) - lr_m @ h
    return _ema_operator(h, lr_m, _check_beta(beta1))


def update_operator(
    hessian: Float[ArrayLike, "n n"],
    method: Method | str,
    *,
    lr: float,
    beta: float = 0.0,
    preconditioner: ArrayLike | None = None,
) -> Array:
    """The operator of `method` (a `Method` or its name) for the Hessian `hessian`;
    `beta` is the momentum (Adam: β₁, 0 meaning no first moment)."""
    m = as_enum("method", method, Method)
    if m is Method.GD:
        return gd_operator(hessian, lr)
    if m is Method.HEAVY_BALL:
        return heavy_ball_operator(hessian, lr, beta)
    if m is Method.NESTEROV:
        return nesterov_operator(hessian, lr, beta)
    if m is Method.EMA_MOMENTUM:
        return ema_momentum_operator(hessian, lr, beta)
    if preconditioner is None:
        raise ValueError("preconditioner: required for method 'adam'")
    return adam_operator(hessian, lr, preconditioner, beta1=None if beta == 0 else beta)


def dense_hessian(problem, params: Params) -> Array:
    """Dense Hessian of `problem.loss` at `params` in `ravel_pytree` order."""
    from ..landscape import hessian  # noqa: PLC0415

    check_problem(problem)
    flatten_params("params", params)
    return hessian(problem, params)


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


@dataclasses.dataclass(frozen=True)
class OperatorMeasures:
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
