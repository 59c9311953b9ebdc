r"""Leaky vanilla recurrent networks, unrolled with `lax.scan`, and the delayed-activation task.

Dynamics (no input; the task is set by the initial state):

$$x_{t+1} = (1-\alpha)\,x_t + \alpha\,\tanh(W x_t + b),$$

with $W$ full-rank, or low-rank $W = m n^\top$ ($m, n\in\mathbb R^{N\times K}$). Entries of
$m, n$ (and of a full $W$) start as $\mathcal N(0, 1/N)$; this is Dinc et al.'s (2025)
parametrization, in which the rank-one network reduces to $\kappa = n^\top x$. As a set of
matrices it equals $W = \tilde m\tilde n^\top/N$ with unit-variance $\tilde m, \tilde n$,
but gradient descent on $(m, n)$ and on $(\tilde m, \tilde n)$ differ by a factor $N$ in the
learning rate: the learning rates quoted in the ghost paper refer to $(m, n)$.

Readouts (`Readout`):
- `KAPPA`: $\sigma(g(\kappa_1 - c))$ with $\kappa_1 = n_{:,1}^\top x$, gain $g$ and offset
  $c$ fixed (the paper's rank-one readout: $g = 10$, $c = 1$); low-rank only.
- `SIGMOID`: $\sigma(w_\text{out}^\top x + b_\text{out})$, trainable.
- `LINEAR`: $w_\text{out}^\top x + b_\text{out}$, trainable.

Delayed-activation task: $2T$ steps from $x_0$; target 0 for steps $1..T$ and 1 for
$T+1..2T$; loss $\sum_t(\hat y_t - y_t)^2 / T$.
"""

import enum

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, PRNGKeyArray

from .._custom_types import Params, Scalar
from .._validation import as_enum, as_float_array, check_key, check_positive
from ._base import AbstractProblem


class Readout(enum.Enum):
    KAPPA = "kappa"
    SIGMOID = "sigmoid"
    LINEAR = "linear"


class LeakyRNN(AbstractProblem):
    """A leaky vanilla RNN trained on the delayed-activation task (see module docs)."""

    x0: Array
    num_units: int = eqx.field(static=True)
    rank: int | None = eqx.field(static=True)
    alpha: float = eqx.field(static=True)
    delay: int = eqx.field(static=True)
    readout: Readout = eqx.field(static=True)
    readout_gain: float = eqx.field(static=True)
    readout_offset: float = eqx.field(static=True)

    # ------------------------------------------------------------------ network
    def recurrent_matrix(self, params: Params) -> Array:
        if self.rank is None:
            return params["W"]
        return params["m"] @ params["n"].T

    def step(self, params: Params, x: Array) -> Array:
        if self.rank is None:
            pre = params["W"] @ x + params["b"]
        else:
            pre = params["m"] @ (params["n"].T @ x) + params["b"]
        return (1.0 - self.alpha) * x + self.alpha * jnp.tanh(pre)

    def kappa(self, params: Params, states: Array) -> Array:
        """Low-rank coordinates $\\kappa = n^\\top x$ of states `(..., N)` → `(..., K)`."""
        if self.rank is None:
            raise ValueError("kappa: defined for low-rank networks only")
        return states @ params["n"]

    def read(self, params: Params, states: Array) -> Array:
        if self.readout is Readout.KAPPA:
            k1 = self.kappa(params, states)[..., 0]
            return jax.nn.sigmoid(self.readout_gain * (k1 - self.readout_offset))
        z = states @ params["w_out"] + params["b_out"]
        return jax.nn.sigmoid(z) if self.readout is Readout.SIGMOID else z

    def states(self, params: Params, num_steps: int | None = None) -> Array:
        """States $x_1..x_{S}$ (default $S = 2T$), shape `(S, N)`."""
        steps = 2 * self.delay if num_steps is None else int(num_steps)

        def body(x, _):
            x = self.step(params, x)
            return x, x

        _, xs = jax.lax.scan(body, self.x0, None, length=steps)
        return xs

    def outputs(self, params: Params) -> Array:
        return self.read(params, self.states(params))

    def targets(self) -> Array:
        t = jnp.arange(1, 2 * self.delay + 1)
        return (t > self.delay).astype(self.x0.dtype)

    def loss(self, params: Params) -> Scalar:
        r = self.outputs(params) - self.targets()
        return jnp.sum(r**2) / self.delay

    def init(self, key: PRNGKeyArray) -> Params:
        check_key("key", key)
        n, dtype = self.num_units, self.x0.dtype
        k1, k2, k3 = jr.split(key, 3)
        std = 1.0 / jnp.sqrt(jnp.asarray(n, dtype))
        params: dict[str, Array] = {"b": jnp.zeros((n,), dtype)}
        if self.rank is None:
            params["W"] = std * jr.normal(k1, (n, n), dtype)
        else:
            params["m"] = std * jr.normal(k1, (n, self.rank), dtype)
            params["n"] = std * jr.normal(k2, (n, self.rank), dtype)
        if self.readout is not Readout.KAPPA:
            params["w_out"] = std * jr.normal(k3, (n,), dtype)
            params["b_out"] = jnp.zeros((), dtype)
        return params


def leaky_rnn(
    *,
    num_units: int = 100,
    rank: int | None = 1,
    alpha: float = 0.5,
    delay: int = 20,
    x0: float | Array = -0.3,
    readout: Readout | str = Readout.KAPPA,
    readout_gain: float = 10.0,
    readout_offset: float = 1.0,
) -> LeakyRNN:
    """The delayed-activation RNN; defaults are the ghost paper's rank-one network
    (N = 100, α = 0.5, T = 20, x₀ = −0.3·𝟙, readout σ(10(κ − 1))). `rank=None` is full rank."""
    if int(num_units) <= 0:
        raise ValueError(f"num_units: must be positive, got {num_units}")
    if rank is not None and not 1 <= int(rank) <= int(num_units):
        raise ValueError(f"rank: must be in 1..num_units or None (full rank), got {rank}")
    if not 0.0 < float(alpha) <= 1.0:
        raise ValueError(f"alpha: must be in (0, 1], got {alpha}")
    if int(delay) <= 0:
        raise ValueError(f"delay: must be a positive number of steps, got {delay}")
    check_positive("readout_gain", readout_gain)
    ro = as_enum("readout", readout, Readout)
    if ro is Readout.KAPPA and rank is None:
        raise ValueError("readout: 'kappa' needs a low-rank network; use 'sigmoid' for full rank")
    x0 = as_float_array("x0", x0, ndim=(0, 1))
    x0 = jnp.broadcast_to(x0, (int(num_units),)) if x0.ndim == 0 else x0
    if x0.shape != (int(num_units),):
        raise ValueError(f"x0: expected shape ({num_units},), got {x0.shape}")
    return LeakyRNN(
        x0=x0,
        num_units=int(num_units),
        rank=None if rank is None else int(rank),
        alpha=float(alpha),
        delay=int(delay),
        readout=ro,
        readout_gain=float(readout_gain),
        readout_offset=float(readout_offset),
    )
