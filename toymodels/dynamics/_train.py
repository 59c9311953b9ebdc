r"""Sharpness along training: a thin host wrapper over `run` that records the params at
chosen steps and takes the top Hessian eigenvalue there (warm-started Lanczos)."""

import equinox as eqx
import jax
import jax.random as jr
import numpy as np
import optax
from jaxtyping import PRNGKeyArray

from .._custom_types import Params
from .._validation import check_key
from ._common import check_problem, flatten_params
from ._optimizers import AbstractOptimizer
from ._run import Save, Stop, Trajectory, run


def sharpness(problem, params: Params, *, key: PRNGKeyArray, v0=None, tol=None):
    r"""Top Hessian eigenvalue $\lambda_{\max}$ of `problem.loss` at `params` and its unit
    eigenvector (flat, `ravel_pytree` order), by Lanczos (`toymodels.linalg.eigsh` on
    `toymodels.landscape.hessian_operator`) started from `key`; `v0` warm-starts it."""
    from ..landscape import hessian_operator  # noqa: PLC0415
    from ..linalg import eigsh  # noqa: PLC0415

    check_problem(problem)
    check_key("key", key)
    flatten_params("params", params)
    op = hessian_operator(problem, params)
    vals, vecs, _ = eigsh(op, 1, which="largest", v0=v0, key=key, tol=tol)
    return vals[0], vecs[:, 0]


class SharpnessTrajectory(eqx.Module):
    """Output of `train`: the run's `Trajectory` (`trajectory`; its `saved` holds the params
    at `trajectory.save_steps`), and the top Hessian eigenvalue of the full-data loss at the
    recorded steps the run reached: `sharpness_steps`, `sharpness`, `sharpness_vectors`
    (unit eigenvectors as rows, `ravel_pytree` order)."""

    trajectory: Trajectory
    sharpness_steps: np.ndarray
    sharpness: np.ndarray
    sharpness_vectors: np.ndarray


def train(
    problem,
    params0: Params,
    optimizer: AbstractOptimizer | optax.GradientTransformation,
    *,
    num_steps: int,
    key: PRNGKeyArray,
    sharpness_steps,
    batch_size: int | None = None,
    stop: Stop = Stop(),
) -> SharpnessTrajectory:
    r"""`run` with the sharpness $\lambda_{\max}(\nabla^2 L(\theta_k))$ (full data) at the steps
    `sharpness_steps`, each Lanczos run warm-started from the previous eigenvector. The
    params at those steps are recorded by one `run` (one compilation), the eigenvalues are
    taken on the host afterwards, up to the step where the run stopped."""
    check_key("key", key)
    run_key, lanczos_key = jr.split(key)
    traj = run(
        problem,
        params0,
        optimizer,
        num_steps=num_steps,
        key=run_key,
        batch_size=batch_size,
        save=Save(steps=sharpness_steps),
        stop=stop,
    )
    steps = np.asarray(traj.save_steps)
    reached = steps <= int(traj.stop_step)
    vals, vecs = [], []
    v0 = None
    for i in np.flatnonzero(reached):
        p = jax.tree.map(lambda a, i=i: a[i], traj.saved)
        lanczos_key, sub = jr.split(lanczos_key)
        val, vec = sharpness(problem, p, key=sub, v0=v0)
        v0 = vec
        vals.append(float(val))
        vecs.append(np.asarray(vec))
    size = int(sum(np.size(a) for a in jax.tree_util.tree_leaves(params0)))
    return SharpnessTrajectory(
        trajectory=traj,
        sharpness_steps=steps[reached],
        sharpness=np.asarray(vals),
        sharpness_vectors=np.asarray(vecs).reshape(len(vecs), size),
    )
