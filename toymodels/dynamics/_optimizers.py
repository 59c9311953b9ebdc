r"""Optimizers as objects: each gives its optax transformation, its linearized update operator
on a quadratic, and its stability threshold.

Near a point where the loss is locally $\tfrac12\theta^\top H\theta$, one step of an optimizer
is the linear map $s_{k+1} = J s_k$ on its state $s$. Conventions (state, operator), which are
optax's (= torch's) step conventions:

- `GD`: $s = \theta$, $J = I - \eta H$ (symmetric, so normal: $\kappa(V) = 1$).
- `HeavyBall`, torch `SGD(momentum=β)` (buffer $b \leftarrow \beta b + g$,
  $\theta \leftarrow \theta - \eta b$), as the two-step recurrence on
  $s = (\theta_k, \theta_{k-1})$: $J = \begin{pmatrix}(1+\beta)I - \eta H & -\beta I\\ I & 0\end{pmatrix}$.
- `Nesterov`, torch `nesterov=True`, on $s = (\theta_k, \theta_{k-1})$:
  $J = \begin{pmatrix}(1+\beta)(I - \eta H) & -\beta(I - \eta H)\\ I & 0\end{pmatrix}$.
- `EMAMomentum` (Adam's first moment without preconditioning), $m \leftarrow \beta m +
  (1-\beta) g$, $\theta \leftarrow \theta - \eta m$, on $s = (\theta, m)$:
  $J = \begin{pmatrix}I - \eta(1-\beta) H & -\eta\beta I\\ (1-\beta)H & \beta I\end{pmatrix}$.
- `Adam` with a frozen diagonal preconditioner $M = \mathrm{diag}(1/(\sqrt{\hat v} + \epsilon))$:
  the EMA operator with $\eta M$ in place of $\eta$ (state $(\theta, m)$); with `b1 = 0`,
  $J = I - \eta M H$ on $s = \theta$.

Hyperparameters are array fields, so a new learning rate (or momentum) does not recompile and
an optimizer can be built inside `jax.vmap` over its hyperparameters. Any optax
`GradientTransformation` is also accepted by `toymodels.dynamics.run` (without an operator).
"""

import abc

import equinox as eqx
import jax
import jax.numpy as jnp
import optax
from jax.flatten_util import ravel_pytree
from jaxtyping import Array, ArrayLike, Float

from .._validation import as_float_array, is_concrete


def _hyper(x) -> Array:
    # A strongly typed float array (python numbers and ints become the default float
    # dtype), so that 0.1 and np.float64(0.2) give the same compiled program.
    a = jnp.asarray(x)
    if not jnp.issubdtype(a.dtype, jnp.inexact) or bool(getattr(a, "weak_type", False)):
        a = jnp.asarray(x, dtype=jnp.result_type(float))
    return a


def _like(opt, dtype):
    """`opt` with its float hyperparameters in `dtype` (that of the Hessian or params)."""
    return jax.tree_util.tree_map(lambda a: a.astype(dtype) if eqx.is_inexact_array(a) else a, opt)


def check_hyper(name: str, value, *, lo: float, hi: float | None = None, lo_open=True) -> None:
    """Value check of a hyperparameter (skipped for traced values): `lo < value` (or `<=`
    when `lo_open=False`) and `value < hi`."""
    if not is_concrete(value):
        return
    a = jnp.asarray(value)
    if a.ndim and a.size != 1:
        ok = bool(jnp.all(jnp.isfinite(a)))
    else:
        ok = bool(jnp.isfinite(a))
    bad_lo = bool(jnp.any(a <= lo)) if lo_open else bool(jnp.any(a < lo))
    bad_hi = hi is not None and bool(jnp.any(a >= hi))
    if not ok or bad_lo or bad_hi:
        lo_s = f"> {lo:g}" if lo_open else f">= {lo:g}"
        rng = lo_s if hi is None else f"in {'(' if lo_open else '['}{lo:g}, {hi:g})"
        raise ValueError(f"{name}: must be finite and {rng}, got {value!r}")


def _hessian_matrix(hessian) -> Array:
    h = as_float_array("hessian", hessian, ndim=(0, 1, 2))
    if h.ndim == 0:
        h = h.reshape(1, 1)
    elif h.ndim == 1:  # eigenvalues / diagonal Hessian
        h = jnp.diag(h)
    if h.shape[0] != h.shape[1]:
        raise ValueError(f"hessian: expected a square matrix, got shape {h.shape}")
    return h


def _two_step(a: Array, b: Array, c: Array, d: Array) -> Array:
    return jnp.concatenate(
        [jnp.concatenate([a, b], axis=1), jnp.concatenate([c, d], axis=1)], axis=0
    )


def _ema_operator(h: Array, lr_m: Array, beta: Array) -> Array:
    # lr_m: eta * M as an (n, n) matrix (a diagonal preconditioner folded in).
    eye = jnp.eye(h.shape[0], dtype=h.dtype)
    return _two_step(eye - (1 - beta) * lr_m @ h, -beta * lr_m, (1 - beta) * h, beta * eye)


class AbstractOptimizer(eqx.Module):
    """An optimizer: `transform()` gives its optax transformation, `operator(hessian)` its
    linearized update operator $J$ on a quadratic with Hessian $H$, and
    `stability_threshold()` the largest curvature $\\lambda_c$ for which that operator is
    stable ($\\rho(J) < 1$ for every eigenvalue of $H$ in $(0, \\lambda_c)$; for `Adam`, of the
    preconditioned $MH$)."""

    learning_rate: eqx.AbstractVar[Array]

    @abc.abstractmethod
    def transform(self) -> optax.GradientTransformation:
        """The optax transformation that performs one step."""

    @abc.abstractmethod
    def operator(self, hessian: Float[ArrayLike, "n n"]) -> Array:
        """The linearized update operator (see the module docstring for the state)."""

    @abc.abstractmethod
    def threshold_product(self) -> Array:
        r"""The critical $\eta\lambda$ (dimensionless)."""

    def stability_threshold(self) -> Array:
        r"""The critical curvature $\lambda_c = (\eta\lambda)_c / \eta$ (e.g. $2/\eta$ for GD):
        above it the linearized dynamics diverges (edge of stability)."""
        return self.threshold_product() / self.learning_rate


class GD(AbstractOptimizer):
    r"""Gradient descent $\theta \leftarrow \theta - \eta g$. Threshold $\eta\lambda = 2$."""

    learning_rate: Array = eqx.field(converter=_hyper)

    def __check_init__(self):
        check_hyper("learning_rate", self.learning_rate, lo=0.0)

    def transform(self) -> optax.GradientTransformation:
        return optax.sgd(self.learning_rate)

    def operator(self, hessian) -> Array:
        h = _hessian_matrix(hessian)
        self = _like(self, h.dtype)
        return jnp.eye(h.shape[0], dtype=h.dtype) - self.learning_rate * h

    def threshold_product(self) -> Array:
        return jnp.full_like(self.learning_rate, 2.0)


class _AbstractMomentum(AbstractOptimizer):
    """An optimizer with a learning rate and a momentum β ∈ [0, 1)."""

    learning_rate: Array = eqx.field(converter=_hyper)
    momentum: Array = eqx.field(converter=_hyper)

    def __check_init__(self):
        check_hyper("learning_rate", self.learning_rate, lo=0.0)
        check_hyper("momentum", self.momentum, lo=0.0, hi=1.0, lo_open=False)


class HeavyBall(_AbstractMomentum):
    r"""Heavy ball, torch `SGD(lr, momentum)`: $b \leftarrow \beta b + g$,
    $\theta \leftarrow \theta - \eta b$. Threshold $\eta\lambda = 2(1+\beta)$."""

    def transform(self) -> optax.GradientTransformation:
        return optax.sgd(self.learning_rate, momentum=self.momentum)

    def operator(self, hessian) -> Array:
        h = _hessian_matrix(hessian)
        self = _like(self, h.dtype)
        b, eye = self.momentum, jnp.eye(h.shape[0], dtype=h.dtype)
        return _two_step((1 + b) * eye - self.learning_rate * h, -b * eye, eye, 0 * eye)

    def threshold_product(self) -> Array:
        return 2.0 * (1.0 + self.momentum) + 0 * self.learning_rate

    def exceptional_points(self) -> tuple[Array, Array]:
        r"""The values of $\eta h$ where the heavy-ball block
        $\begin{pmatrix}1+\beta-\eta h & -\beta\\ 1 & 0\end{pmatrix}$ is defective (a Jordan
        block, $\kappa(V) = \infty$): $(1\mp\sqrt\beta)^2$. Between them the eigenvalues are
        complex with modulus $\sqrt\beta$."""
        s = jnp.sqrt(self.momentum)
        return (1.0 - s) ** 2, (1.0 + s) ** 2


class Nesterov(_AbstractMomentum):
    r"""Nesterov momentum, torch `SGD(lr, momentum, nesterov=True)`.
    Threshold $\eta\lambda = (2+2\beta)/(1+2\beta)$."""

    def transform(self) -> optax.GradientTransformation:
        return optax.sgd(self.learning_rate, momentum=self.momentum, nesterov=True)

    def operator(self, hessian) -> Array:
        h = _hessian_matrix(hessian)
        self = _like(self, h.dtype)
        b, eye = self.momentum, jnp.eye(h.shape[0], dtype=h.dtype)
        a = eye - self.learning_rate * h
        return _two_step((1 + b) * a, -b * a, eye, 0 * eye)

    def threshold_product(self) -> Array:
        b = self.momentum
        return (2.0 + 2.0 * b) / (1.0 + 2.0 * b) + 0 * self.learning_rate


class EMAMomentum(_AbstractMomentum):
    r"""EMA momentum $m \leftarrow \beta m + (1-\beta)g$, $\theta \leftarrow \theta - \eta m$.
    Threshold $\eta\lambda = 2(1+\beta)/(1-\beta)$."""

    def transform(self) -> optax.GradientTransformation:
        return optax.chain(optax.ema(self.momentum, debias=False), optax.scale(-self.learning_rate))

    def operator(self, hessian) -> Array:
        h = _hessian_matrix(hessian)
        self = _like(self, h.dtype)
        eye = jnp.eye(h.shape[0], dtype=h.dtype)
        return _ema_operator(h, self.learning_rate * eye, self.momentum)

    def threshold_product(self) -> Array:
        b = self.momentum
        return 2.0 * (1.0 + b) / (1.0 - b) + 0 * self.learning_rate


class Adam(AbstractOptimizer):
    r"""Adam (`optax.adam`, bias-corrected moments). Its operator freezes the preconditioner
    $M = 1/(\sqrt{\hat v} + \epsilon)$ (from `preconditioner(opt_state)`); the threshold is that
    of EMA momentum with $\beta = \beta_1$ (2 when $\beta_1 = 0$), for the preconditioned
    sharpness $\lambda_{\max}(MH)$."""

    learning_rate: Array = eqx.field(converter=_hyper)
    b1: Array = eqx.field(default=0.9, converter=_hyper)
    b2: Array = eqx.field(default=0.999, converter=_hyper)
    eps: Array = eqx.field(default=1e-8, converter=_hyper)

    def __check_init__(self):
        check_hyper("learning_rate", self.learning_rate, lo=0.0)
        check_hyper("b1", self.b1, lo=0.0, hi=1.0, lo_open=False)
        check_hyper("b2", self.b2, lo=0.0, hi=1.0, lo_open=False)
        check_hyper("eps", self.eps, lo=0.0)

    def transform(self) -> optax.GradientTransformation:
        return optax.adam(self.learning_rate, b1=self.b1, b2=self.b2, eps=self.eps)

    def preconditioner(self, opt_state) -> Array:
        r"""The diagonal $M = 1/(\sqrt{\hat v} + \epsilon)$ (flat, `ravel_pytree` order) from
        an optax Adam state (as `run` returns or saves it): $\hat v = \nu/(1-\beta_2^t)$."""
        states = [
            s
            for s in jax.tree_util.tree_leaves(
                opt_state, is_leaf=lambda s: isinstance(s, optax.ScaleByAdamState)
            )
            if isinstance(s, optax.ScaleByAdamState)
        ]
        if len(states) != 1:
            raise ValueError("opt_state: expected an optax Adam state (one ScaleByAdamState)")
        s = states[0]
        nu, _ = ravel_pytree(s.nu)
        with jax.numpy_dtype_promotion("standard"):
            nu_hat = nu / (1.0 - self.b2 ** s.count.astype(nu.dtype))
        return 1.0 / (jnp.sqrt(nu_hat) + self.eps)

    def operator(self, hessian, *, preconditioner: Float[ArrayLike, " n"] | None = None) -> Array:
        h = _hessian_matrix(hessian)
        self = _like(self, h.dtype)
        if preconditioner is None:
            raise ValueError(
                "preconditioner: Adam's operator needs the frozen diagonal M "
                "(Adam.preconditioner(opt_state))"
            )
        m = as_float_array("preconditioner", preconditioner, ndim=1)
        if m.shape[0] != h.shape[0]:
            raise ValueError(
                f"preconditioner: has {m.shape[0]} entries for a Hessian of size {h.shape[0]}"
            )
        if is_concrete(m) and bool(jnp.any(m <= 0)):
            raise ValueError("preconditioner: entries must be positive")
        lr_m = self.learning_rate * jnp.diag(m)
        if is_concrete(self.b1) and float(self.b1) == 0.0:
            return jnp.eye(h.shape[0], dtype=h.dtype) - lr_m @ h
        return _ema_operator(h, lr_m, self.b1)

    def threshold_product(self) -> Array:
        b = self.b1
        return 2.0 * (1.0 + b) / (1.0 - b) + 0 * self.learning_rate


def as_transform(optimizer) -> optax.GradientTransformation:
    """The optax transformation of an `AbstractOptimizer`, or an optax transformation as is."""
    if isinstance(optimizer, AbstractOptimizer):
        return optimizer.transform()
    if isinstance(optimizer, optax.GradientTransformation):
        return optimizer
    raise TypeError(
        "optimizer: expected a toymodels.dynamics optimizer (GD, HeavyBall, Nesterov, "
        f"EMAMomentum, Adam) or an optax.GradientTransformation, got {type(optimizer).__name__}"
    )
