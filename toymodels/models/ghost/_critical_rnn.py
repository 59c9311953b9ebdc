r"""The critical learning rate of a real RNN against the delay $T$, by grid bisection.

For a `toymodels.problems.LeakyRNN` on the delayed-activation task, full-batch GD
(`toymodels.dynamics.run` with `GD`) from `problem.init(jr.split(key, num_seeds)[j])` either
learns or is **trapped**: at the end of `num_steps` steps its loss is above `trapped_above`
and its gradient norm below `grad_tol` (the flat, high-confidence wrong plateau the paper
calls the no-learning zone; a run that is still descending, or still on the initial
plateau where $\lVert\nabla L\rVert \sim 10^{-3}$, is not trapped), or it **diverged**
(non-finite loss or params: `stop_reason == "diverged"`, counted as failed). The critical
learning rate $\eta_c(T)$ is where the failed fraction over the seeds first reaches
`fraction`.

`rnn_critical_lr` finds it for several delays at once by a grid bisection on
$\log\eta$: each round evaluates `num_lrs` log-spaced learning rates inside every delay's
bracket (the first round: the given bracket, end points included), all delays × learning
rates × seeds as ONE vmapped `run` (one compiled program for every round and every delay:
the delays enter as data, see `DelayedActivation`), and the new bracket is the pair of
neighbouring evaluated learning rates $[\eta_-, \eta_+]$ with $\eta_+$ the smallest one whose
failed fraction reaches `fraction` and $\eta_-$ the largest evaluated one below it. Each
round shrinks $\log(\eta_+/\eta_-)$ by a factor `num_lrs + 1`. $\eta_c$ is the geometric
midpoint of the last bracket.

The exponent $\beta$ of $\eta_c \propto T^{\beta}$ is the least-squares slope of
$\log\eta_c$ against $\log T$. Its error combines, in quadrature,

- the bracket: $\log\eta_c$ is known to $\pm w_i/2$ ($w_i$ the log-width of the last
  bracket), a uniform error of standard deviation $w_i/\sqrt{12}$, propagated through the
  least-squares slope, $\sigma_w^2 = \sum_i (x_i - \bar x)^2 w_i^2/12\,/\,S_{xx}^2$;
- the seeds: a bootstrap over seeds (resampled with replacement, the same resample for every
  delay), in which $\eta_c$ of each delay is re-read from every learning rate evaluated in
  any round (the first one whose resampled failed fraction reaches `fraction`, the midpoint
  with the evaluated one below it), and the slope refitted; its standard deviation.

The canonical model's prediction (`toymodels.models.ghost.critical_lr`,
$\eta_c = 3\pi^4/(32T^4)$ for the paper's loss) is for GD on its scalar $r$; in an RNN the
same step size moves $r$ by $\eta\lVert\nabla_\theta r\rVert^2$ per unit of $dL/dr$, so the
prediction for the network's exponent is the canonical one only when
$\lVert\nabla_\theta r\rVert$ does not change with $T$.
"""

from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Bool, Float, Int, PRNGKeyArray

from ..._custom_types import Params
from ..._validation import as_float_array, check_key, check_learning_rate, check_positive
from ...dynamics import GD, run
from ...problems import AbstractProblem, LeakyRNN
from ._canonical import _seed_keys
from ._rnn import _STOP


class DelayedActivation(AbstractProblem):
    r"""The delayed-activation loss of `rnn` with the delay as data: $T$ = `delay` (a traced
    scalar, an integer number of steps, at most `rnn.delay`), loss
    $\sum_{t=1}^{2T}(\hat y_t - [t > T])^2/T$ over the first $2T$ of the $2T_\max$ states
    `rnn.states(params)`; equal to `leaky_rnn(..., delay=T).loss`. Many delays share one
    compiled program (vmap over `delay`); `init` is `rnn.init`."""

    rnn: LeakyRNN
    delay: Float[Array, ""]

    def loss(self, params: Params) -> Float[Array, ""]:
        out = self.rnn.read(params, self.rnn.states(params))
        t = jnp.arange(1, 2 * self.rnn.delay + 1).astype(out.dtype)
        target = (t > self.delay).astype(out.dtype)
        mask = (t <= 2 * self.delay).astype(out.dtype)
        return jnp.sum(mask * (out - target) ** 2) / self.delay

    def init(self, key: PRNGKeyArray) -> Params:
        return self.rnn.init(key)


class RNNCriticalLR(eqx.Module):
    r"""The RNN's critical learning rate against the delay (`rnn_critical_lr`).

    - `delays` `(n,)`; `critical_lr` `(n,)`: $\eta_c$, the geometric midpoint of the last
      bracket `[lower, upper]` `(n,)` (`upper` fails for at least `fraction` of the seeds,
      `lower` for fewer).
    - `grid` `(rounds, n, num_lrs)`: every evaluated learning rate;
      `failed` `(rounds, n, num_lrs, num_seeds)`: trapped or diverged;
      `final_loss`, `grad_norm`: the runs' final loss and $\lVert\nabla L\rVert_2$.
    - `exponent`: the least-squares slope of $\log\eta_c$ against $\log T$;
      `exponent_error`: the bracket and bootstrap errors in quadrature
      (`bracket_error`, `bootstrap_error`; see the module docs), `bootstrap_exponents`.
    """

    delays: Float[Array, " n"]
    critical_lr: Float[Array, " n"]
    lower: Float[Array, " n"]
    upper: Float[Array, " n"]
    grid: Float[Array, "rounds n lrs"]
    failed: Bool[Array, "rounds n lrs seeds"]
    final_loss: Float[Array, "rounds n lrs seeds"]
    grad_norm: Float[Array, "rounds n lrs seeds"]
    exponent: Float[Array, ""]
    bracket_error: Float[Array, ""]
    bootstrap_error: Float[Array, ""]
    bootstrap_exponents: Float[Array, " boot"]
    fraction: float = eqx.field(static=True)

    @property
    def exponent_error(self) -> Float[Array, ""]:
        return jnp.sqrt(self.bracket_error**2 + self.bootstrap_error**2)

    @property
    def failed_fraction(self) -> Float[Array, "rounds n lrs"]:
        return jnp.mean(self.failed.astype(self.final_loss.dtype), axis=-1)


@eqx.filter_jit
def _evaluate(base, delays, lrs, init_keys, run_keys, *, num_steps, trapped_above, grad_tol):
    """ONE vmapped `run` over delays × learning rates × seeds: failed, final loss, |∇L|."""

    def one(delay, lr, k_init, k_run):
        problem = DelayedActivation(rnn=base, delay=delay)
        traj = run(
            problem,
            problem.init(k_init),
            GD(learning_rate=lr),
            num_steps=num_steps,
            key=k_run,
            stop=_STOP,
        )
        loss, g = jax.value_and_grad(problem.loss)(traj.params)
        gn = jnp.sqrt(sum(jnp.sum(x**2) for x in jax.tree_util.tree_leaves(g)))
        trapped = (loss > trapped_above) & (gn < grad_tol)
        diverged = (traj.stop_reason == "diverged") | ~jnp.isfinite(loss)
        return trapped | diverged, loss, gn

    seeds = jax.vmap(one, (None, None, 0, 0))
    per_lr = jax.vmap(seeds, (None, 0, None, None))
    return jax.vmap(per_lr, (0, 0, None, None))(delays, lrs, init_keys, run_keys)


def _crossing(lrs: np.ndarray, frac: np.ndarray, fraction: float):
    """(lower, upper) around the first of the sorted `lrs` whose `frac` reaches
    `fraction`; None when none does or the first does."""
    order = np.argsort(lrs)
    lrs, frac = lrs[order], frac[order]
    hit = np.nonzero(frac >= fraction - 1e-12)[0]
    if not hit.size or hit[0] == 0:
        return None
    return lrs[hit[0] - 1], lrs[hit[0]]


def _slope(x: np.ndarray, y: np.ndarray) -> float:
    xc = x - x.mean()
    return float(xc @ (y - y.mean()) / (xc @ xc))


def rnn_critical_lr(
    problem: LeakyRNN,
    delays: Sequence[int] | Int[ArrayLike, " n"],
    *,
    learning_rates: Sequence[float] | Sequence[Sequence[float]] | Float[ArrayLike, "..."],
    key: PRNGKeyArray,
    num_seeds: int,
    num_steps: int,
    num_lrs: int = 6,
    num_rounds: int = 3,
    fraction: float = 0.5,
    trapped_above: float = 0.5,
    grad_tol: float = 1e-6,
    num_bootstrap: int = 1000,
) -> RNNCriticalLR:
    r"""Bisect the critical learning rate of GD on the RNN `problem` for every delay in
    `delays` (integers, $\le$ `problem.delay`, whose network, $x_0$ and readout are used;
    see the module docs for the failure criterion, the grid bisection and the exponent's
    error).

    Args (keyword-only after `delays`):
        learning_rates: the starting bracket $[\eta_\text{lo}, \eta_\text{hi}]$, one for all
            delays `(2,)` or one per delay `(n, 2)`; the failed fraction must reach
            `fraction` at $\eta_\text{hi}$ and stay below it at $\eta_\text{lo}$ (else a
            ValueError naming `learning_rates`, with the fractions).
        key: seed $j$ starts from `problem.init(jr.split(key, num_seeds)[j])`, the same
            starts for every delay and learning rate.
        num_seeds, num_steps: runs per learning rate, GD steps per run.
        num_lrs: learning rates per delay and round (the first round: log-spaced from
            $\eta_\text{lo}$ to $\eta_\text{hi}$; later rounds: interior points of the
            bracket).
        num_rounds: rounds (the first included).
        fraction, trapped_above, grad_tol: the failure criterion.
        num_bootstrap: bootstrap resamples of the seeds (fixed resamples, drawn from
            `fold_in(key, num_seeds + 1)`).
    """
    if not isinstance(problem, LeakyRNN):
        raise TypeError(f"problem: expected a toymodels.problems.LeakyRNN, got {type(problem)}")
    check_key("key", key)
    d = np.asarray(delays)
    if d.ndim != 1 or d.size < 2:
        raise ValueError(f"delays: expected a 1-D array of at least two delays, got {delays!r}")
    if not np.all(np.isfinite(d)) or np.any(d != np.round(d)) or np.any(d < 1):
        raise ValueError(f"delays: must be whole numbers of steps >= 1, got {delays!r}")
    if np.any(d > problem.delay):
        raise ValueError(
            f"delays: must be at most problem.delay = {problem.delay} (the unrolled horizon "
            f"is 2·problem.delay), got {delays!r}"
        )
    if np.unique(d).size != d.size:
        raise ValueError(f"delays: must be distinct, got {delays!r}")
    for name, v in (("num_seeds", num_seeds), ("num_steps", num_steps), ("num_rounds", num_rounds)):
        if isinstance(v, bool) or int(v) != v or int(v) < 1:
            raise ValueError(f"{name}: must be an integer >= 1, got {v!r}")
    if isinstance(num_lrs, bool) or int(num_lrs) != num_lrs or int(num_lrs) < 2:
        raise ValueError(f"num_lrs: must be an integer >= 2, got {num_lrs!r}")
    if not 0.0 < float(fraction) <= 1.0:
        raise ValueError(f"fraction: must be in (0, 1], got {fraction!r}")
    check_positive("trapped_above", trapped_above)
    check_positive("grad_tol", grad_tol)
    if isinstance(num_bootstrap, bool) or int(num_bootstrap) < 0:
        raise ValueError(f"num_bootstrap: must be an integer >= 0, got {num_bootstrap!r}")
    dtype = problem.x0.dtype
    bracket = as_float_array("learning_rates", learning_rates, ndim=(1, 2))
    check_learning_rate("learning_rates", bracket)
    if bracket.shape not in ((2,), (d.size, 2)):
        raise ValueError(
            f"learning_rates: expected (lo, hi) or one such pair per delay, shape (2,) or "
            f"({d.size}, 2), got shape {bracket.shape}"
        )
    bracket = np.broadcast_to(np.asarray(bracket, float), (d.size, 2)).copy()
    if not np.all(bracket[:, 0] < bracket[:, 1]):
        raise ValueError(
            "learning_rates: expected (lo, hi) with lo < hi, or one such pair per delay, "
            f"got {learning_rates!r}"
        )
    n, k, s = d.size, int(num_lrs), int(num_seeds)
    init_keys, run_keys = _seed_keys(key, s)
    delays_arr = jnp.asarray(d, dtype)
    options = dict(
        num_steps=int(num_steps), trapped_above=float(trapped_above), grad_tol=float(grad_tol)
    )
    f = float(fraction)
    lo, hi = np.log(bracket[:, 0]), np.log(bracket[:, 1])
    grids, fails, losses, norms = [], [], [], []
    for i in range(int(num_rounds)):
        u = np.linspace(0.0, 1.0, k) if i == 0 else np.arange(1, k + 1) / (k + 1)
        grid = np.exp(lo[:, None] + (hi - lo)[:, None] * u[None, :])
        fail, loss, gn = (
            np.asarray(a)
            for a in _evaluate(
                problem, delays_arr, jnp.asarray(grid, dtype), init_keys, run_keys, **options
            )
        )
        grids.append(grid)
        fails.append(fail)
        losses.append(loss)
        norms.append(gn)
        for j in range(n):
            known = np.concatenate([np.exp([lo[j], hi[j]]), grid[j]]) if i else grid[j]
            frac = np.concatenate([[0.0, 1.0], fail[j].mean(-1)]) if i else fail[j].mean(-1)
            if i == 0:
                got = _crossing(known, frac, f)
                if got is None:
                    raise ValueError(
                        f"learning_rates: [{bracket[j, 0]:g}, {bracket[j, 1]:g}] does not "
                        f"bracket the critical learning rate of delay {d[j]:g} (failed "
                        f"fractions {np.round(frac, 3).tolist()} at {grid[j].tolist()})"
                    )
            else:
                # the bracket's ends are known (below / at the level); the interior decides
                got = _crossing(known, frac, f)
            lo[j], hi[j] = np.log(got[0]), np.log(got[1])
    critical = np.exp(0.5 * (lo + hi))
    x = np.log(d.astype(float))
    exponent = _slope(x, np.log(critical))
    xc = x - x.mean()
    bracket_err = float(np.sqrt(np.sum(xc**2 * (hi - lo) ** 2 / 12.0)) / (xc @ xc))
    # bootstrap over seeds, from every evaluated learning rate
    all_lrs = np.concatenate(grids, axis=1)  # (n, rounds * k)
    all_fail = np.concatenate(fails, axis=1)  # (n, rounds * k, s)
    rng = np.random.default_rng(np.asarray(jax.random.key_data(jax.random.fold_in(key, s + 1))))
    boots = []
    for _ in range(int(num_bootstrap)):
        pick = rng.integers(0, s, s)
        frac_b = all_fail[:, :, pick].mean(-1)
        eta = []
        for j in range(n):
            got = _crossing(all_lrs[j], frac_b[j], f)
            if got is None:  # the resample fails at the smallest / never: the grid's end
                order = np.sort(all_lrs[j])
                got = (order[0], order[0]) if frac_b[j].max() >= f else (order[-1], order[-1])
            eta.append(np.sqrt(got[0] * got[1]))
        boots.append(_slope(x, np.log(eta)))
    boots = np.asarray(boots)
    boot_err = float(np.std(boots)) if boots.size > 1 else 0.0
    return RNNCriticalLR(
        delays=jnp.asarray(d, dtype),
        critical_lr=jnp.asarray(critical, dtype),
        lower=jnp.asarray(np.exp(lo), dtype),
        upper=jnp.asarray(np.exp(hi), dtype),
        grid=jnp.asarray(np.stack(grids), dtype),
        failed=jnp.asarray(np.stack(fails)),
        final_loss=jnp.asarray(np.stack(losses), dtype),
        grad_norm=jnp.asarray(np.stack(norms), dtype),
        exponent=jnp.asarray(exponent, dtype),
        bracket_error=jnp.asarray(bracket_err, dtype),
        bootstrap_error=jnp.asarray(boot_err, dtype),
        bootstrap_exponents=jnp.asarray(boots, dtype),
        fraction=f,
    )
