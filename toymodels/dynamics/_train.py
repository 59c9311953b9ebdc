r"""Discrete training in `lax.scan`: GD, heavy ball, Nesterov, EMA momentum, Adam (through optax),
full batch or SGD mini-batches from explicit keys, with params and sharpness recorded at
chosen steps.

Step $k$ maps $\theta_k \to \theta_{k+1}$; `loss[k]` is the (mini-batch) loss at $\theta_k$ that
step $k$ differentiates. Step size conventions are optax's (= torch's): heavy ball
$b \leftarrow \beta b + g$, $\theta \leftarrow \theta - \eta b$; Nesterov $\theta \leftarrow \theta -
\eta(g + \beta b)$; EMA momentum $m \leftarrow \beta m + (1-\beta) g$; Adam with bias correction.
"""

import dataclasses

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
from jax.flatten_util import ravel_pytree
from jaxtyping import PRNGKeyArray

from .._custom_types import Params
from .._validation import as_enum, check_positive
from ..problems import AbstractSupervisedProblem
from ._common import check_problem, flatten_params
from ._flow import StopReason
from ._operators import Method


class Optimizer(eqx.Module):
    """An optimizer whose step size is an array (changing it does not recompile; the other
    hyperparameters are static).

    Build with `gd`, `heavy_ball`, `nesterov`, `ema_momentum`, `adam`. `to_optax()` gives the
    optax transformation. `beta` is the momentum (Adam: β₁), `beta2` and `eps` Adam's.
    """

    method: Method = eqx.field(static=True)
    lr: jax.Array
    beta: float = eqx.field(static=True)
    beta2: float = eqx.field(static=True)
    eps: float = eqx.field(static=True)

    def to_optax(self) -> optax.GradientTransformation:
        m = self.method
        if m is Method.GD:
            return optax.sgd(self.lr)
        if m in (Method.HEAVY_BALL, Method.NESTEROV):
            return optax.sgd(self.lr, momentum=self.beta, nesterov=m is Method.NESTEROV)
        if m is Method.EMA_MOMENTUM:
            return optax.chain(optax.ema(self.beta, debias=False), optax.scale(-self.lr))
        return optax.adam(self.lr, b1=self.beta, b2=self.beta2, eps=self.eps)


def _make(method, lr, beta=0.0, beta2=0.999, eps=1e-8) -> Optimizer:
    check_positive("lr", lr)
    if not 0.0 <= float(beta) < 1.0:
        raise ValueError(f"beta: must be in [0, 1), got {beta!r}")
    if not 0.0 <= float(beta2) < 1.0:
        raise ValueError(f"beta2: must be in [0, 1), got {beta2!r}")
    check_positive("eps", eps)
    lr = jnp.asarray(lr, dtype=jnp.result_type(float))
    return Optimizer(as_enum("method", method, Method), lr, float(beta), float(beta2), float(eps))


def gd(lr: float) -> Optimizer:
    r"""Gradient descent $\theta \leftarrow \theta - \eta g$."""
    return _make(Method.GD, lr)


def heavy_ball(lr: float, beta: float) -> Optimizer:
    """Heavy ball, torch `SGD(lr, momentum=beta)`."""
    return _make(Method.HEAVY_BALL, lr, beta)


def nesterov(lr: float, beta: float) -> Optimizer:
    """Nesterov, torch `SGD(lr, momentum=beta, nesterov=True)`."""
    return _make(Method.NESTEROV, lr, beta)


def ema_momentum(lr: float, beta: float) -> Optimizer:
    r"""EMA momentum $m \leftarrow \beta m + (1-\beta)g$, $\theta \leftarrow \theta - \eta m$."""
    return _make(Method.EMA_MOMENTUM, lr, beta)


def adam(lr: float, *, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8) -> Optimizer:
    """Adam (optax.adam, bias-corrected)."""
    return _make(Method.ADAM, lr, beta1, beta2, eps)


@dataclasses.dataclass(frozen=True)
class TrainResult:
    """Output of `train`.

    - `loss`: shape `(num_steps,)`, the loss differentiated at each step (the mini-batch
      loss for SGD); NaN after a divergence.
    - `record_steps`, `params` (stacked pytree), `full_loss`: params and full-batch loss at
      the recorded steps reached.
    - `sharpness_steps`, `sharpness`, `sharpness_vectors`: the top Hessian eigenvalue of the
      full-batch loss (warm-started Lanczos) at the requested steps reached; the
      eigenvectors as rows of a `(len, P)` array.
    - `final_params`, `steps_done`, `stop_reason` (`T1` = all steps run, or `DIVERGED`).
    - `opt_states`: the optax state at the recorded steps (stacked; e.g. Adam's second
      moment for a frozen-preconditioner operator), or `None` when nothing was recorded.
    """

    loss: np.ndarray
    record_steps: np.ndarray
    params: Params
    full_loss: np.ndarray
    sharpness_steps: np.ndarray
    sharpness: np.ndarray
    sharpness_vectors: np.ndarray
    final_params: Params
    steps_done: int
    stop_reason: StopReason
    opt_states: object = None


def _steps_arg(name, steps, num_steps) -> np.ndarray:
    if steps is None:
        return np.zeros((0,), dtype=np.int64)
    s = np.unique(np.asarray(steps, dtype=np.int64).reshape(-1))
    if s.size and (s[0] < 0 or s[-1] > num_steps):
        raise ValueError(f"{name}: steps must lie in [0, num_steps] = [0, {num_steps}]")
    return s


@eqx.filter_jit
def _run_chunk(problem, opt, params, opt_state, key, batch_size, *, length, replace):
    tx = opt.to_optax() if isinstance(opt, Optimizer) else opt

    def step(carry, _):
        params, opt_state, key = carry
        if batch_size is None:
            prob = problem
        else:
            key, sub = jr.split(key)
            idx = jr.choice(sub, problem.num_samples, (batch_size,), replace=replace)
            prob = problem.with_data(problem.x[idx], problem.targets[idx])
        loss, g = jax.value_and_grad(prob.loss)(params)
        with jax.numpy_dtype_promotion("standard"):  # optax mixes int counts and floats
            updates, opt_state = tx.update(g, opt_state, params)
        params = optax.apply_updates(params, updates)
        return (params, opt_state, key), loss

    (params, opt_state, key), losses = jax.lax.scan(
        step, (params, opt_state, key), None, length=length
    )
    return params, opt_state, key, losses


@eqx.filter_jit
def _init_state(opt, params):
    tx = opt.to_optax() if isinstance(opt, Optimizer) else opt
    return tx.init(params)


_loss_jit = eqx.filter_jit(lambda problem, params: problem.loss(params))


def sharpness(problem, params: Params, *, v0=None, key: PRNGKeyArray | None = None, tol=None):
    r"""Top Hessian eigenvalue $\lambda_{\max}$ of `problem.loss` at `params` and its unit
    eigenvector (flat, `ravel_pytree` order), by Lanczos (`toymodels.linalg.eigsh` on
    `toymodels.landscape.hessian_operator`); `v0` warm-starts it."""
    from ..landscape import hessian_operator  # noqa: PLC0415
    from ..linalg import eigsh  # noqa: PLC0415

    check_problem(problem)
    flatten_params("params", params)
    op = hessian_operator(problem, params)
    vals, vecs, _ = eigsh(op, 1, which="largest", v0=v0, key=key, tol=tol)
    return vals[0], vecs[:, 0]


def train(
    problem,
    params0: Params,
    optimizer: Optimizer | optax.GradientTransformation,
    *,
    num_steps: int,
    record_steps=None,
    sharpness_steps=None,
    batch_size: int | None = None,
    replace: bool = False,
    key: PRNGKeyArray | None = None,
    max_norm: float = 1e10,
) -> TrainResult:
    r"""Run `num_steps` steps of `optimizer` from `params0` in `lax.scan`.

    **Arguments:**
    - `optimizer`: an `Optimizer` (`gd`, `heavy_ball`, `nesterov`, `ema_momentum`, `adam`;
      changing its hyperparameters does not recompile) or any optax transformation.
    - `record_steps`: steps $k \in [0, \text{num\_steps}]$ at which to keep $\theta_k$ and
      the full-batch loss.
    - `sharpness_steps`: steps at which to compute $\lambda_{\max}(\nabla^2 L(\theta_k))$
      (full batch), each Lanczos run warm-started from the previous eigenvector.
    - `batch_size`: SGD on mini-batches of this size (a supervised problem is required),
      drawn each step from `key` (without replacement within a batch unless `replace`);
      `None` = full batch.
    - `max_norm`: training stops (`StopReason.DIVERGED`) at the first record/sharpness
      boundary where the loss is non-finite or $\lVert\theta\rVert_\infty >$ `max_norm`.

    The run is a sequence of jitted scans between the requested steps (each distinct chunk
    length compiles once).
    """
    check_problem(problem)
    num_steps = int(num_steps)
    if num_steps < 1:
        raise ValueError(f"num_steps: must be >= 1, got {num_steps}")
    flat0, unravel = flatten_params("params0", params0)
    if not isinstance(optimizer, Optimizer | optax.GradientTransformation):
        raise TypeError(
            "optimizer: expected a toymodels.dynamics.Optimizer or an optax.GradientTransformation"
        )
    rec = _steps_arg("record_steps", record_steps, num_steps)
    shp = _steps_arg("sharpness_steps", sharpness_steps, num_steps)
    if batch_size is not None:
        if not isinstance(problem, AbstractSupervisedProblem):
            raise TypeError("batch_size: mini-batches need a supervised problem (x, targets)")
        batch_size = int(batch_size)
        if not 1 <= batch_size <= problem.num_samples or (
            batch_size > problem.num_samples and not replace
        ):
            raise ValueError(f"batch_size: must be in [1, {problem.num_samples}], got {batch_size}")
        if key is None:
            raise ValueError("key: SGD (batch_size given) needs an explicit PRNG key")
    key = jr.key(0) if key is None else key
    key, lanczos_key = jr.split(key)
    check_positive("max_norm", max_norm)

    bounds = np.unique(np.concatenate([[0, num_steps], rec, shp]))
    params, opt_state = params0, _init_state(optimizer, params0)
    losses = np.full((num_steps,), np.nan)
    kept_params, kept_loss, kept_steps, kept_states = [], [], [], []
    sh_steps, sh_vals, sh_vecs = [], [], []
    v0 = None
    reason = StopReason.T1
    done = 0
    for b in bounds:
        if b > done:
            params, opt_state, key, chunk = _run_chunk(
                problem,
                optimizer,
                params,
                opt_state,
                key,
                batch_size,
                length=int(b - done),
                replace=bool(replace),
            )
            losses[done:b] = np.asarray(chunk)
            done = int(b)
            flat, _ = ravel_pytree(params)
            if (
                not (
                    np.all(np.isfinite(np.asarray(chunk))) and np.all(np.isfinite(np.asarray(flat)))
                )
                or float(jnp.max(jnp.abs(flat))) > max_norm
            ):
                reason = StopReason.DIVERGED
                break
        if done in rec:
            kept_steps.append(done)
            kept_params.append(ravel_pytree(params)[0])
            kept_loss.append(float(_loss_jit(problem, params)))
            kept_states.append(opt_state)
        if done in shp:
            lanczos_key, sub = jr.split(lanczos_key)
            val, vec = sharpness(problem, params, v0=v0, key=sub)
            v0 = vec
            sh_steps.append(done)
            sh_vals.append(float(val))
            sh_vecs.append(np.asarray(vec))
    p = flat0.size
    stacked = (
        jax.vmap(unravel)(jnp.stack(kept_params))
        if kept_params
        else jax.vmap(unravel)(jnp.zeros((0, p), flat0.dtype))
    )
    return TrainResult(
        loss=losses,
        record_steps=np.asarray(kept_steps, dtype=np.int64),
        params=stacked,
        full_loss=np.asarray(kept_loss),
        sharpness_steps=np.asarray(sh_steps, dtype=np.int64),
        sharpness=np.asarray(sh_vals),
        sharpness_vectors=np.asarray(sh_vecs).reshape(len(sh_vecs), p),
        final_params=params,
        steps_done=done,
        stop_reason=reason,
        opt_states=jax.tree.map(lambda *a: jnp.stack(a), *kept_states) if kept_states else None,
    )
