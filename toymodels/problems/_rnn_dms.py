r"""An input-driven leaky RNN on a delayed match-to-sample task (Dinc et al. 2025's
working-memory setting, reduced to its logic).

Dynamics with a two-channel input $u_t$:

$$x_{t+1} = (1-\alpha)\,x_t + \alpha\,\tanh(W x_t + B u_t + b),\qquad x_0 \text{ fixed},$$

with $W$ full rank or low rank $W = m n^\top$ ($m, n \in \mathbb R^{N\times K}$). A trial
$(i, j) \in \{0, 1\}^2$ pulses channel $i$ at step 0 (the sample) and channel $j$ at step
$T$ = `delay` (the test), amplitude `amplitude`; the input is off otherwise, so the delay
is the autonomous map $F(x) = (1-\alpha)x + \alpha\tanh(Wx + b)$ (`step` with no input).
The states are $x_1..x_S$ with $S = T + 1 + R$; the output
$\hat y_t = \sigma(g\,(w_\text{out}^\top x_t + b_\text{out}))$ (gain $g$ = `readout_gain`,
the output's confidence) is read during the response window, the $R$ = `response` states
after the test ($x_{T+2}..x_{T+1+R}$). Target 1 for a match ($i = j$), 0 for a non-match.
Loss: the mean squared error over the 4 trials and the $R$ response steps,
$L = \frac{1}{4R}\sum_{\text{trials}}\sum_t(\hat y_t - y)^2$ (the paper's RNNs are trained
on a squared error).

Initialisation: $W$ entries $\mathcal N(0, g_0^2/N)$ with $g_0$ = `recurrent_scale` (below 1
the initial network forgets the sample within the delay: it has one attractor, and
remembering needs a new pair of attractors, created by training through a fold), or $m$
entries $\mathcal N(0, g_0^2/N)$ and $n$ entries $\mathcal N(0, 1/N)$, $B$ entries $\mathcal N(0, 1)$, $w_\text{out}$ $\mathcal N(0, 1/N)$,
$b = 0$, $b_\text{out} = 0$.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, Float, PRNGKeyArray

from .._custom_types import Params, Scalar
from .._validation import as_float_array, check_key, check_positive
from ._base import AbstractProblem


#: the four trials (sample channel, test channel), in this order
TRIALS = ((0, 0), (0, 1), (1, 0), (1, 1))


class DelayedMatchRNN(AbstractProblem):
    """A leaky RNN trained on the delayed match-to-sample task (see the module docs);
    build it with `delayed_match_rnn`."""

    x0: Array
    num_units: int = eqx.field(static=True)
    rank: int | None = eqx.field(static=True)
    alpha: float = eqx.field(static=True)
    delay: int = eqx.field(static=True)
    response: int = eqx.field(static=True)
    amplitude: float = eqx.field(static=True)
    readout_gain: float = eqx.field(static=True)
    recurrent_scale: float = eqx.field(static=True)

    @property
    def num_steps_trial(self) -> int:
        """$S = T + 1 + R$ states per trial."""
        return self.delay + 1 + self.response

    def recurrent_matrix(self, params: Params) -> Array:
        if self.rank is None:
            return params["W"]
        return params["m"] @ params["n"].T

    def step(self, params: Params, x: Array, u: Array | None = None) -> Array:
        """One step of the network; `u=None` is the input switched off (the delay map)."""
        if self.rank is None:
            pre = params["W"] @ x + params["b"]
        else:
            pre = params["m"] @ (params["n"].T @ x) + params["b"]
        if u is not None:
            pre = pre + params["B"] @ u
        return (1.0 - self.alpha) * x + self.alpha * jnp.tanh(pre)

    def inputs(self) -> Float[Array, "4 steps 2"]:
        """The input $u_t$, $t = 0..S-1$, of the four trials (`TRIALS` order)."""
        dtype = self.x0.dtype
        u = jnp.zeros((4, self.num_steps_trial, 2), dtype)
        for k, (i, j) in enumerate(TRIALS):
            u = u.at[k, 0, i].set(self.amplitude).at[k, self.delay, j].set(self.amplitude)
        return u

    def states(self, params: Params) -> Float[Array, "4 steps n"]:
        """States $x_1..x_S$ of the four trials."""

        def trial(us):
            def body(x, u):
                x = self.step(params, x, u)
                return x, x

            return jax.lax.scan(body, self.x0, us)[1]

        return jax.vmap(trial)(self.inputs())

    def read(self, params: Params, states: Array) -> Array:
        z = states @ params["w_out"] + params["b_out"]
        return jax.nn.sigmoid(self.readout_gain * z)

    def outputs(self, params: Params) -> Float[Array, "4 response"]:
        """$\\hat y$ over the response window, per trial."""
        return self.read(params, self.states(params)[:, self.delay + 1 :])

    def targets(self) -> Float[Array, "4 response"]:
        match = jnp.asarray([float(i == j) for i, j in TRIALS], self.x0.dtype)
        return jnp.broadcast_to(match[:, None], (4, self.response))

    def loss(self, params: Params) -> Scalar:
        return jnp.mean((self.outputs(params) - self.targets()) ** 2)

    def init(self, key: PRNGKeyArray) -> Params:
        check_key("key", key)
        n, dtype = self.num_units, self.x0.dtype
        k1, k2, k3, k4 = jr.split(key, 4)
        std = 1.0 / jnp.sqrt(jnp.asarray(n, dtype))
        params: dict[str, Array] = {
            "b": jnp.zeros((n,), dtype),
            "B": jr.normal(k3, (n, 2), dtype),
            "w_out": std * jr.normal(k4, (n,), dtype),
            "b_out": jnp.zeros((), dtype),
        }
        if self.rank is None:
            params["W"] = self.recurrent_scale * std * jr.normal(k1, (n, n), dtype)
        else:
            params["m"] = self.recurrent_scale * std * jr.normal(k1, (n, self.rank), dtype)
            params["n"] = std * jr.normal(k2, (n, self.rank), dtype)
        return params


def delayed_match_rnn(
    *,
    num_units: int = 32,
    rank: int | None = None,
    alpha: float = 0.5,
    delay: int = 10,
    response: int = 5,
    amplitude: float = 1.0,
    readout_gain: float = 1.0,
    recurrent_scale: float = 0.5,
    x0: float | Array = 0.0,
) -> DelayedMatchRNN:
    """The delayed match-to-sample RNN (module docs); `rank=None` (default) is full rank.
    The dtype follows `x0` (a python float gives the default float dtype)."""
    if isinstance(num_units, bool) or int(num_units) != num_units or int(num_units) <= 0:
        raise ValueError(f"num_units: must be a positive integer, got {num_units!r}")
    if rank is not None and not 1 <= int(rank) <= int(num_units):
        raise ValueError(f"rank: must be in 1..num_units or None (full rank), got {rank!r}")
    if not 0.0 < float(alpha) <= 1.0:
        raise ValueError(f"alpha: must be in (0, 1], got {alpha!r}")
    if isinstance(delay, bool) or int(delay) != delay or int(delay) < 1:
        raise ValueError(f"delay: must be a positive number of steps, got {delay!r}")
    if isinstance(response, bool) or int(response) != response or int(response) < 1:
        raise ValueError(f"response: must be a positive number of steps, got {response!r}")
    check_positive("amplitude", amplitude)
    check_positive("readout_gain", readout_gain)
    check_positive("recurrent_scale", recurrent_scale)
    x0 = as_float_array("x0", x0, ndim=(0, 1))
    x0 = jnp.broadcast_to(x0, (int(num_units),)) if x0.ndim == 0 else x0
    if x0.shape != (int(num_units),):
        raise ValueError(f"x0: expected shape ({num_units},), got {x0.shape}")
    return DelayedMatchRNN(
        x0=x0,
        num_units=int(num_units),
        rank=None if rank is None else int(rank),
        alpha=float(alpha),
        delay=int(delay),
        response=int(response),
        amplitude=float(amplitude),
        readout_gain=float(readout_gain),
        recurrent_scale=float(recurrent_scale),
    )
