r"""The logit-gradient model's observables measured on small real networks.

- `track_curvature`: along a training trajectory (params saved by
  `toymodels.dynamics.run(..., save=Save(every=k))`, GD or minibatch SGD with `batch_size`), the top Hessian eigenvalues, where the
  largest relative gap sits (`gap_count`; the model predicts $C-1$), the share of the
  full-batch gradient in the top-$k$ eigenspace, $\lambda_\max$ (transient rise, then
  decay as the softmax freezes) and $\operatorname{tr}H/\lVert H\rVert_F$; with
  `gauss_newton=True` also the same observables of the Gauss–Newton term $G = J^\top
  (\nabla_z^2L)J$ (from the per-sample output Jacobians) and the size of the residual term
  $H - G$ (Fort & Ganguli's weak-logit-curvature ingredient: the top of $H$ is $G$'s).
- `goldilocks_scan`: $\rho(s) = \operatorname{tr}H/\lVert H\rVert_F$ and the positive
  fraction of random $d$-dimensional restrictions at weights $s\,\theta_0$ (Fort &
  Scherlis 2019), beside the semicircle prediction `toymodels.rmt.goldilocks_positive_fraction`.

Dense Hessians (`toymodels.landscape.hessian`) with `eigh`: meant for networks of up to a
few thousand parameters.
"""

from collections.abc import Sequence
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jax.flatten_util import ravel_pytree
from jaxtyping import PRNGKeyArray

from ..._custom_types import Params
from ..._validation import check_key
from ...landscape import hessian as _hessian
from ...linalg import restricted_positive_fraction, trace_frobenius_ratio
from ...problems import AbstractSupervisedProblem
from ...rmt import goldilocks_positive_fraction
from ._logit_model import gap_count


class CurvatureTrack(eqx.Module):
    """Per checkpoint: `loss`, `top` eigenvalues (descending, `(T, top)`), `gap` (count
    above the largest relative gap), `fraction` (share of $\\lVert\\nabla L\\rVert^2$ in the
    top-`k` eigenspace), `lambda_max`, `trace_ratio` $\\operatorname{tr}H/\\lVert
    H\\rVert_F$, `spectrum` (every Hessian eigenvalue, descending). With
    `gauss_newton=True`: `gn_top` (the Gauss–Newton term's top
    eigenvalues), `gn_fraction` (the gradient's share in $G$'s top-`k` eigenspace),
    `gn_trace_ratio` ($\\operatorname{tr}G/\\lVert G\\rVert_F$), `residual_rms` (the RMS
    eigenvalue $\\lVert H - G\\rVert_F/\\sqrt D$ of the residual term) and `residual_ratio`
    ($\\lVert H - G\\rVert_F/\\lVert G\\rVert_F$); `None` otherwise."""

    loss: np.ndarray
    top: np.ndarray
    gap: np.ndarray
    fraction: np.ndarray
    lambda_max: np.ndarray
    trace_ratio: np.ndarray
    spectrum: np.ndarray | None = None
    gn_top: np.ndarray | None = None
    gn_fraction: np.ndarray | None = None
    gn_trace_ratio: np.ndarray | None = None
    residual_rms: np.ndarray | None = None
    residual_ratio: np.ndarray | None = None


def _gauss_newton_dense(problem, flat, unravel):
    # G = J^T (d^2 L/dz^2) J from the per-sample output Jacobians J (N, C, D), each by
    # reverse mode through one sample (vmapped); the output Hessian of a per-sample
    # objective is block diagonal (one C x C block per sample)
    params = unravel(flat)
    scalar = jax.eval_shape(problem.outputs, params).ndim == 1

    def out_one(v, xn):
        z = problem.apply(unravel(v), xn[None])[0]
        return z[None] if scalar else z

    z = jax.vmap(lambda xn: out_one(flat, xn))(problem.x)
    jac = jax.vmap(lambda xn: jax.jacrev(out_one)(flat, xn))(problem.x)

    def block(zn, tn):
        def ell(u):
            return problem.objective.per_sample((u[0] if scalar else u)[None], tn[None])[0]

        return jax.hessian(ell)(zn)

    a = jax.vmap(block)(z, problem.targets) / z.shape[0]
    return jnp.einsum("nkd,nke->de", jac, jnp.einsum("nkl,nle->nke", a, jac))


@eqx.filter_jit
def _curvature_rows(problem, trajectory, k, top, gauss_newton):
    # every checkpoint in one compiled program (lax.map: one dense Hessian in memory at a
    # time); k, top and gauss_newton are static
    def one(params):
        flat, unravel = ravel_pytree(params)

        def f(v):
            return problem.loss(unravel(v))

        h = jax.hessian(f)(flat)
        w, v = jnp.linalg.eigh(h)
        loss, g = jax.value_and_grad(f)(flat)
        proj = v[:, -k:].T @ g
        frac = jnp.sum(proj**2) / jnp.sum(g**2)
        row = (loss, w[::-1], frac, jnp.trace(h) / jnp.linalg.norm(h))
        if not gauss_newton:
            return row
        gn = _gauss_newton_dense(problem, flat, unravel)
        wg, vg = jnp.linalg.eigh(gn)
        gfrac = jnp.sum((vg[:, -k:].T @ g) ** 2) / jnp.sum(g**2)
        res = jnp.linalg.norm(h - gn)
        return row + (
            wg[::-1][:top],
            gfrac,
            jnp.trace(gn) / jnp.linalg.norm(gn),
            res / jnp.sqrt(jnp.asarray(flat.size, res.dtype)),
            res / jnp.linalg.norm(gn),
        )

    return jax.lax.map(one, trajectory)


def track_curvature(
    problem: Any,
    trajectory: Params,
    *,
    k: int,
    top: int = 15,
    indices: Sequence[int] | None = None,
    gauss_newton: bool = False,
) -> CurvatureTrack:
    """Curvature observables at the checkpoints of `trajectory` (params stacked on a
    leading axis, e.g. `toymodels.dynamics.run(..., save=Save(every=k)).saved`), optionally
    only at `indices`. `k`: dimension of the top eigenspace for the gradient share; `top`:
    how many eigenvalues to keep; `gauss_newton`: also the Gauss–Newton term's observables
    and the residual's size (needs an `AbstractSupervisedProblem`: `outputs`, `objective`
    with `per_sample`, `targets`). One compiled program maps over the checkpoints
    (evaluation, not training: one dense Hessian each)."""
    if int(k) < 1:
        raise ValueError(f"k: must be >= 1, got {k}")
    if not isinstance(gauss_newton, bool):
        raise TypeError(f"gauss_newton: expected a bool, got {gauss_newton!r}")
    if gauss_newton and not isinstance(problem, AbstractSupervisedProblem):
        raise TypeError(
            "problem: gauss_newton=True needs an AbstractSupervisedProblem (outputs and "
            f"objective), got {type(problem).__name__}"
        )
    n = jax.tree_util.tree_leaves(trajectory)[0].shape[0]
    idx = range(n) if indices is None else [int(i) for i in indices]
    picked = jax.tree_util.tree_map(lambda a: a[np.asarray(list(idx), dtype=int)], trajectory)
    rows = [np.asarray(c) for c in _curvature_rows(problem, picked, int(k), int(top), gauss_newton)]
    loss, spectrum, frac, ratio = rows[:4]
    tops = spectrum[:, : int(top)]
    extra = {}
    if gauss_newton:
        names = ("gn_top", "gn_fraction", "gn_trace_ratio", "residual_rms", "residual_ratio")
        extra = dict(zip(names, rows[4:]))
    return CurvatureTrack(
        loss=loss,
        top=tops,
        gap=np.asarray([gap_count(t[t > 0], max_k=top) if np.sum(t > 0) > 1 else 0 for t in tops]),
        fraction=frac,
        lambda_max=tops[:, 0],
        trace_ratio=ratio,
        spectrum=spectrum,
        **extra,
    )


class GoldilocksScan(eqx.Module):
    """`scales`, `trace_ratio` $\\rho(s)$, `positive_fraction` (mean over random
    restrictions), its `stderr`, and `predicted` (semicircle formula at the measured
    $\\rho$)."""

    scales: np.ndarray
    trace_ratio: np.ndarray
    positive_fraction: np.ndarray
    stderr: np.ndarray
    predicted: np.ndarray


def goldilocks_scan(
    problem: Any,
    params: Params,
    scales: Sequence[float],
    *,
    dim: int,
    key: PRNGKeyArray,
    num_subspaces: int = 10,
) -> GoldilocksScan:
    r"""Scan the weight scale $s$: at $s\,\theta_0$ the dense Hessian's
    $\rho = \operatorname{tr}H/\lVert H\rVert_F$ and the fraction of positive eigenvalues
    of $P^\top HP$ for `num_subspaces` random orthonormal $P$ ($D\times d$, $d$ = `dim`). For a bias-free
    ReLU net of depth $L$, $G\propto s^{2L-2}M(s)$ and $H_\text{res}\propto s^{L-2}$: $\rho$
    is small at small $s$ (indefinite residual term), large where $G$ dominates, and falls
    again as the softmax freezes."""
    check_key("key", key)
    scales = np.asarray(scales, dtype=np.float64)
    if scales.ndim != 1 or np.any(~np.isfinite(scales)) or np.any(scales <= 0):
        raise ValueError("scales: expected a 1-D array of positive numbers")
    dtype = jnp.result_type(*jax.tree_util.tree_leaves(params))
    stack = jax.vmap(lambda s: jax.tree_util.tree_map(lambda a: (s * a).astype(a.dtype), params))(
        jnp.asarray(scales, dtype=dtype)
    )
    ratio, frac, err = _goldilocks_rows(
        problem, stack, jr.split(key, scales.size), dim, _num(num_subspaces)
    )
    return GoldilocksScan(
        scales=scales,
        trace_ratio=ratio,
        positive_fraction=frac,
        stderr=err,
        predicted=goldilocks_positive_fraction(ratio, int(dim)),
    )


def _num(num_subspaces):
    if isinstance(num_subspaces, bool) or int(num_subspaces) != num_subspaces or num_subspaces < 2:
        raise ValueError(f"num_subspaces: expected an int >= 2, got {num_subspaces!r}")
    return int(num_subspaces)


def _goldilocks_rows(problem, stack, keys, dim, num):
    # every point in one compiled program (lax.map: one dense Hessian in memory at a time)
    n = ravel_pytree(jax.tree_util.tree_map(lambda a: a[0], stack))[0].size
    if isinstance(dim, bool) or not isinstance(dim, int | np.integer) or not 1 <= dim <= n:
        raise ValueError(f"dim: expected an int between 1 and the dimension {n}, got {dim!r}")
    out = _goldilocks_program(problem, stack, keys, int(dim), num)
    return tuple(np.asarray(o) for o in out)


@eqx.filter_jit
def _goldilocks_program(problem, stack, keys, dim, num):
    def one(args):
        p, k = args
        h = _hessian(problem, p)
        est = restricted_positive_fraction(h, dim, key=k, num_subspaces=num)
        return trace_frobenius_ratio(h), est[0], est[1]

    return jax.lax.map(one, (stack, keys))


def scaled(params: Params, scale: float) -> Params:
    """`params` multiplied by `scale` (all leaves)."""
    return jax.tree_util.tree_map(lambda a: scale * a, params)
