r"""Fixed points, folds and ghosts inside trained RNNs, and the canonical model read off them.

The state map of a `toymodels.problems.LeakyRNN` with params $\theta$ is
$F_\theta(x) = (1-\alpha)x + \alpha\tanh(Wx + b)$ (`LeakyRNN.step`). This module connects
it to the canonical model $\dot s = a s^2 + r$ (`_theory.py`):

- `training_checkpoints`: GD through `toymodels.dynamics.run`, saving params and loss every
  `every` steps (the raw material: the network at each checkpoint).
- `network_fixed_points`: `toymodels.dynamics.fixed_points` of $F_\theta$ from the states the
  network visits (fixed points $q = 0$ and ghosts, local minima of
  $q = \tfrac12\lVert F_\theta(x) - x\rVert^2$ with $q > 0$).
- `TrainingPath` / `training_branch`: $\theta(p)$, the piecewise-linear interpolation of the
  checkpoints in the training step $p$, and `toymodels.dynamics.continue_branch` of a fixed
  point along it: the saddle-node folds crossed by training, located between checkpoints.
- `normal_form`: at a slow point $x_g$ of any map (or flow), the slow direction is the right
  eigenvector $v$ of the Jacobian with the eigenvalue nearest 1 (0 for a flow), $w$ the left
  one with $w^\top v = 1$, and the speed along $x = x_g + s v$,
  $\varphi(s) = w^\top G(x_g + s v)$ with $G = F - \mathrm{id}$, is expanded to
  $\varphi \approx r_0 + \beta s + a s^2 + c s^3$ (autodiff derivatives along $v$;
  $v$ oriented so that $a > 0$). Completing the square gives the canonical
  $\dot{\tilde s} = a\tilde s^2 + r$, $r = r_0 - \beta^2/(4a)$, bottleneck $s^* = -\beta/(2a)$,
  and the predicted passage time $\pi/(2\sqrt{a r})$ (in steps for a map).
- `measure_passage`: the network's own trajectory from upstream of the ghost
  ($x_g + (s^* - 2Y)v$), the steps it takes to cross the window $|s - s^*| \le Y$ (crossings
  interpolated linearly between steps), halved: the measured counterpart of
  $\pi/(2\sqrt{a r})$. In the quadratic normal form the window takes
  $\tfrac{2}{\sqrt{ar}}\arctan(Y\sqrt{a/r})$, which falls short of $\pi/\sqrt{ar}$ by
  $\approx 2/(aY)$; the symmetric window cancels the cubic term to first order.

For the rank-one network the left centre eigenvector is $\propto n$ (since
$n^\top J = (1-\alpha)n^\top + \alpha(n^\top D m)\,n^\top$ with $D = \mathrm{diag}(\tanh')$),
so $s \propto \kappa - \kappa_g$ and the normal form is that of the exact 1-D reduction
$\kappa_{t+1} = \kappa_t + \alpha f(\kappa_t)$, $f(\kappa) = -\kappa + n^\top\tanh(m\kappa + b)$
(`kappa_flow`): $a r = \alpha^2 f''(\kappa^*) f(\kappa^*)/2$ at the minimum $\kappa^*$ of $f$,
to leading order; the tests use this as the independent reference. One map step is $\alpha$
units of the continuous time of $\dot x = -x + \tanh(Wx + b)$.

Nothing here assumes rank one: the search, the continuation and the normal form act on the
$N$-dimensional state (for rank $K$ the fixed points are $x^* = \tanh(m\kappa^* + b)$ with
$\kappa^*$ a zero of the $K$-dimensional $f(\kappa) = -\kappa + n^\top\tanh(m\kappa + b)$;
for full rank there is no reduction). Two helpers for any rank:

- `find_fold_crossing`: the first pair of consecutive checkpoints after `start` between
  which the number of fixed points found changes, and the saddle of the side with more
  fixed points continued across (`training_branch`) to the fold where it meets its node.
- `output_diagnostics`: along the checkpoints, $\lVert\nabla L\rVert_2$, the fraction of
  steps whose output is on the wrong side of 1/2 and the mean confidence $|2\hat y - 1|$ of
  those wrong outputs (the saturated wrong output of the plateau before an abrupt drop).
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, ArrayLike, Bool, Float, Int, PRNGKeyArray

from ..._custom_types import Params
from ..._validation import as_float_array, check_key, check_positive, is_concrete
from ...dynamics import (
    GD,
    Branch,
    FixedPoints,
    Save,
    StopCode,
    continue_branch,
    fixed_points,
    run,
)
from ...dynamics._fixed_points import host_eig
from ...problems import LeakyRNN
from ._rnn import _STOP, _check_schedule


def state_map(x: Float[Array, " n"], args: tuple[LeakyRNN, Params]) -> Float[Array, " n"]:
    """$F_\\theta(x)$ = `problem.step(params, x)` with `args = (problem, params)`: the
    `fn(h, args)` of `toymodels.dynamics.fixed_points` for a network."""
    problem, params = args
    return problem.step(params, x)


def _check_rnn(problem) -> None:
    if not isinstance(problem, LeakyRNN):
        raise TypeError(f"problem: expected a toymodels.problems.LeakyRNN, got {type(problem)}")


# ---------------------------------------------------------------- checkpoints
class Checkpoints(eqx.Module):
    """Params and loss along GD training (`training_checkpoints`): `steps` `(k,)`, `params`
    (the params pytree with a leading axis `k`: $\\theta$ before step `steps[i]`, the last
    one final), `loss` `(k,)`, and the run's `stop_reason`."""

    steps: Int[Array, " k"]
    params: Params
    loss: Float[Array, " k"]
    stop_reason: StopCode

    def at(self, i: int) -> Params:
        """The params at checkpoint `i`."""
        return jax.tree.map(lambda a: a[i], self.params)

    def take(self, indices) -> "Checkpoints":
        """The checkpoints at `indices` (e.g. the two that bracket a loss jump)."""
        idx = np.asarray(indices)
        return Checkpoints(
            steps=self.steps[idx],
            params=jax.tree.map(lambda a: a[idx], self.params),
            loss=self.loss[idx],
            stop_reason=self.stop_reason,
        )


def _record(step, params, opt_state, loss):
    del step, opt_state
    return params, loss


@eqx.filter_jit
def _train(problem, params0, lr, key, *, num_steps, every):
    traj = run(
        problem,
        params0,
        GD(learning_rate=lr),
        num_steps=num_steps,
        key=key,
        save=Save(every=every, fn=_record),
        stop=_STOP,
    )
    params, loss = traj.saved
    return params, loss, traj.stop_reason


def training_checkpoints(
    problem: LeakyRNN,
    params0: Params,
    *,
    learning_rate: Float[ArrayLike, ""],
    num_steps: int,
    key: PRNGKeyArray,
    every: int = 1,
) -> Checkpoints:
    r"""Full-batch GD (`toymodels.dynamics.run` with `GD`) for `num_steps` steps, saving the
    params and the loss every `every` steps (a divisor of `num_steps`). Jitted; the learning
    rate and `params0` are traced (new values, e.g. another seed's init, do not recompile)."""
    _check_rnn(problem)
    n, k = _check_schedule(num_steps, every)
    check_key("key", key)
    lr = as_float_array("learning_rate", learning_rate, ndim=0)
    if is_concrete(lr) and not float(lr) > 0:
        raise ValueError(f"learning_rate: must be > 0, got {learning_rate!r}")
    lr = lr.astype(problem.x0.dtype)
    params, loss, reason = _train(problem, params0, lr, key, num_steps=n, every=k)
    return Checkpoints(steps=jnp.arange(0, n + 1, k), params=params, loss=loss, stop_reason=reason)


# ---------------------------------------------------------------- fixed points
def network_fixed_points(
    problem: LeakyRNN,
    params: Params,
    *,
    initial_states: Float[ArrayLike, "num dim"] | None = None,
    **options,
) -> FixedPoints:
    """Fixed points and ghosts of the network's state map (`dynamics.fixed_points` with
    `fn = state_map`, `args = (problem, params)`; `options` go to it). Default initial
    states: `visited_states(problem, params)`. Calls with initial states of one shape
    share one compiled search."""
    _check_rnn(problem)
    if initial_states is None:
        initial_states = visited_states(problem, params)
    return fixed_points(state_map, initial_states, args=(problem, params), **options)


@eqx.filter_jit
def visited_states(problem: LeakyRNN, params: Params) -> Float[Array, "num n"]:
    """$x_0$ and every 4th state of the network's trajectory over $4T$ steps from it,
    `(T + 1, N)`: where its fixed and slow points are looked for by default (a slow
    passage leaves many states near the ghost; the trajectory's end lies near the
    attractor it reaches)."""
    xs = problem.states(params, 4 * problem.delay)
    return jnp.concatenate([problem.x0[None], xs[3::4]])


# ---------------------------------------------------------------- continuation
class TrainingPath(eqx.Module):
    r"""$\theta(p)$: the checkpoints interpolated linearly in the training step $p$ (constant
    beyond the ends), and the state map along it: `path(x, p)` $= F_{\theta(p)}(x)$, the
    `fn(h, p)` of `toymodels.dynamics.continue_branch`."""

    problem: LeakyRNN
    steps: Float[Array, " k"]
    params: Params

    def params_at(self, p: Float[ArrayLike, ""]) -> Params:
        """$\theta(p)$ (jitted: one program, also when called eagerly)."""
        return _interpolate(self.steps, self.params, jnp.asarray(p, self.steps.dtype))

    def __call__(self, x: Float[Array, " n"], p: Float[ArrayLike, ""]) -> Float[Array, " n"]:
        return self.problem.step(self.params_at(p), x)


@jax.jit
def _interpolate(steps, params, p):
    k = steps.shape[0]
    i = jnp.clip(jnp.searchsorted(steps, p, side="right") - 1, 0, k - 2)
    w = jnp.clip((p - steps[i]) / (steps[i + 1] - steps[i]), 0.0, 1.0)
    return jax.tree.map(lambda a: a[i] + w * (a[i + 1] - a[i]), params)


def training_path(problem: LeakyRNN, checkpoints: Checkpoints) -> TrainingPath:
    """The `TrainingPath` through `checkpoints` (at least two)."""
    _check_rnn(problem)
    steps = np.asarray(checkpoints.steps)
    if steps.ndim != 1 or steps.size < 2 or np.any(np.diff(steps) <= 0):
        raise ValueError("checkpoints: need at least two checkpoints at increasing steps")
    return TrainingPath(
        problem=problem,
        steps=jnp.asarray(steps, problem.x0.dtype),
        params=checkpoints.params,
    )


def training_branch(
    problem: LeakyRNN,
    checkpoints: Checkpoints,
    state: Float[ArrayLike, " n"],
    *,
    start: int,
    direction: int = 1,
    **options,
) -> Branch:
    r"""Continue the fixed point near `state` of the network at checkpoint `start` along the
    training path (`TrainingPath`, parameter = training step) with
    `toymodels.dynamics.continue_branch` (`options` go to it; `p_range` defaults to the
    checkpoints' span; `direction=-1` goes back in training). `folds` are the training
    steps (fractional: between checkpoints) at which the branch meets a saddle-node."""
    path = training_path(problem, checkpoints)
    steps = np.asarray(path.steps)
    options.setdefault("p_range", (float(steps[0]), float(steps[-1])))
    return continue_branch(path, state, float(steps[int(start)]), direction=direction, **options)


# ---------------------------------------------------------------- normal form
class NormalForm(eqx.Module):
    r"""The canonical model at a slow point (`normal_form`): along $x = $ `point` $+ s v$ the
    speed is $\varphi(s) \approx$ `offset` $+$ `linear`$\,s +$ `a`$\,s^2 +$ `cubic`$\,s^3$
    (per step for a map), i.e. $\dot{\tilde s} = a\tilde s^2 + r$ about `bottleneck`
    $s^* = -\beta/(2a)$ with `r` $= r_0 - \beta^2/(4a)$. `direction` $v$ and `left` $w$
    ($w^\top v = 1$), `centre_eigenvalue` (nearest 1 for a map, 0 for a flow).
    `passage_time` $= \pi/(2\sqrt{a r})$ (NaN unless $a r > 0$)."""

    point: Float[Array, " n"]
    direction: Float[Array, " n"]
    left: Float[Array, " n"]
    centre_eigenvalue: Array
    offset: Float[Array, ""]
    linear: Float[Array, ""]
    a: Float[Array, ""]
    cubic: Float[Array, ""]
    r: Float[Array, ""]
    bottleneck: Float[Array, ""]

    @property
    def passage_time(self) -> Float[Array, ""]:
        ar = self.a * self.r
        return jnp.where(ar > 0, (jnp.pi / 2) / jnp.sqrt(jnp.where(ar > 0, ar, 1.0)), jnp.nan)

    def window_time(self, window: float) -> Float[Array, ""]:
        r"""The quadratic normal form's time through $|\tilde s| \le Y$:
        $\tfrac{2}{\sqrt{ar}}\arctan(Y\sqrt{a/r})$."""
        ar = self.a * self.r
        sq = jnp.sqrt(jnp.where(ar > 0, ar, 1.0))
        t = 2.0 * jnp.arctan(window * jnp.sqrt(jnp.abs(self.a / self.r))) / sq
        return jnp.where(ar > 0, t, jnp.nan)


@eqx.filter_jit
def _directional_derivatives(fn, point, v, args, discrete):
    def phi_vec(s):
        x = point + s * v
        out = fn(x, args)
        return out - x if discrete else out

    def d1(s):
        return jax.jvp(phi_vec, (s,), (jnp.ones_like(s),))[1]

    def d2(s):
        return jax.jvp(d1, (s,), (jnp.ones_like(s),))[1]

    def d3(s):
        return jax.jvp(d2, (s,), (jnp.ones_like(s),))[1]

    s0 = jnp.zeros((), point.dtype)
    return phi_vec(s0), d1(s0), d2(s0), d3(s0), jax.jacfwd(lambda x: fn(x, args))(point)


def normal_form(
    fn, point: Float[ArrayLike, " n"], *, args=None, discrete: bool = True
) -> NormalForm:
    r"""The local normal form $\dot{\tilde s} = a\tilde s^2 + r$ at a slow point `point` of
    the map (`discrete=True`) or flow `fn(h, args)` (see the module docs). The eigenvectors
    come from the dense Jacobian (numpy `eig`, both sides); the derivatives of the speed
    along the slow direction are nested forward-mode JVPs."""
    point = as_float_array("point", point, ndim=1)
    v0 = jnp.zeros_like(point)
    _, _, _, _, jac = _directional_derivatives(fn, point, v0, args, bool(discrete))
    jac = np.asarray(jac)
    lam, right = host_eig(jac, vectors=True)
    lam_l, left = host_eig(jac.T, vectors=True)
    target = 1.0 if discrete else 0.0
    i = int(np.argmin(np.abs(lam - target)))
    j = int(np.argmin(np.abs(lam_l - lam[i])))
    if abs(lam[i].imag) > 1e-8 * max(1.0, abs(lam[i])):
        raise ValueError(
            f"point: the eigenvalue nearest {target} is complex ({lam[i]}): not a saddle-node ghost"
        )
    v = np.real(right[:, i])
    v = v / np.linalg.norm(v)
    w = np.real(left[:, j])
    w = w / (w @ v)
    g0, g1, g2, g3, _ = _directional_derivatives(
        fn, point, jnp.asarray(v, point.dtype), args, bool(discrete)
    )
    r0, beta, a, c = (float(w @ np.asarray(d)) / f for d, f in ((g0, 1), (g1, 1), (g2, 2), (g3, 6)))
    if a < 0:  # orient v so that a > 0 (s -> -s: r0, a, c change sign, beta does not)
        v, w = -v, -w
        r0, a, c = -r0, -a, -c
    if a == 0:
        raise ValueError("point: the speed has no curvature along the slow direction (a = 0)")
    r = r0 - beta**2 / (4 * a)
    dt = point.dtype
    return NormalForm(
        point=point,
        direction=jnp.asarray(v, dt),
        left=jnp.asarray(w, dt),
        centre_eigenvalue=jnp.asarray(lam[i].real, dt),
        offset=jnp.asarray(r0, dt),
        linear=jnp.asarray(beta, dt),
        a=jnp.asarray(a, dt),
        cubic=jnp.asarray(c, dt),
        r=jnp.asarray(r, dt),
        bottleneck=jnp.asarray(-beta / (2 * a), dt),
    )


# ---------------------------------------------------------------- passage
class Passage(eqx.Module):
    r"""The network's passage through a ghost (`measure_passage`), in map steps:
    `measured` (half the steps through the window $|s - s^*| \le$ `window`), `predicted`
    ($\pi/(2\sqrt{a r})$), `predicted_window` (half the quadratic normal form's window
    time, $\arctan(Y\sqrt{a/r})/\sqrt{a r}$), `window_correction` ($1/(aY)$, the leading
    difference of the two predictions), `entry`/`exit` (interpolated steps of the two
    crossings) and `s` (the slow coordinate $w^\top(x_t - x_g)$ along the trajectory)."""

    measured: Float[Array, ""]
    predicted: Float[Array, ""]
    predicted_window: Float[Array, ""]
    window_correction: Float[Array, ""]
    window: float = eqx.field(static=True)
    entry: Float[Array, ""]
    exit: Float[Array, ""]
    s: Float[Array, " steps"]


@eqx.filter_jit
def _slow_coordinate(problem, params, s_start, form, *, num_steps):
    x_start = form.point + s_start * form.direction
    net = eqx.tree_at(lambda p: p.x0, problem, x_start)
    xs = net.states(params, num_steps)
    return jnp.concatenate([(x_start - form.point)[None], xs - form.point]) @ form.left


def _crossing(s, level):
    above = np.nonzero(s >= level)[0]
    if not above.size or above[0] == 0:
        return np.nan
    k = above[0]
    return (k - 1) + (level - s[k - 1]) / (s[k] - s[k - 1])


def measure_passage(
    problem: LeakyRNN,
    params: Params,
    form: NormalForm,
    *,
    window: float,
    num_steps: int,
) -> Passage:
    r"""Run the network (`LeakyRNN.states`, started at $x_g + (s^* - 2Y)v$ instead of
    $x_0$) for `num_steps` steps and time its passage through the window
    $|s - s^*| \le Y$ = `window` around the bottleneck of `form` (see `Passage`). NaN times
    when the trajectory does not cross both ends within `num_steps`."""
    _check_rnn(problem)
    check_positive("window", window)
    s_star, y = float(form.bottleneck), float(window)
    s = np.asarray(
        _slow_coordinate(
            problem, params, jnp.asarray(s_star - 2.0 * y), form, num_steps=int(num_steps)
        )
    )
    entry, exit_ = _crossing(s, s_star - y), _crossing(s, s_star + y)
    a, r = float(form.a), float(form.r)
    ok = a * r > 0
    sq = np.sqrt(a * r) if ok else np.nan
    return Passage(
        measured=jnp.asarray(0.5 * (exit_ - entry)),
        predicted=jnp.asarray((np.pi / 2) / sq),
        predicted_window=jnp.asarray(np.arctan(y * np.sqrt(a / r)) / sq if ok else np.nan),
        window_correction=jnp.asarray(1.0 / (a * y)),
        window=y,
        entry=jnp.asarray(entry),
        exit=jnp.asarray(exit_),
        s=jnp.asarray(s),
    )


class GhostPassage(eqx.Module):
    r"""`ghost_passage`: the ghost found near a fold state, its normal form and the
    network's passage through it: `a_r` ($a\,r$), `passage` (a `Passage`), `window_error`
    (the relative error expected of the window time: $3(cY/a)^2$ from the cubic term plus
    0.5 % for the fit), `is_ghost` (whether the slow point used is a ghost, $q > 0$) and `q`."""

    a_r: Float[Array, ""]
    passage: Passage
    window_error: float
    is_ghost: Bool[Array, ""]
    q: Float[Array, ""]

    def summary(self) -> list[float]:
        """The numbers as one row (for storing a table of passages): `a_r`, the passage's
        `measured`, `predicted`, `predicted_window`, `window_correction`, then
        `window_error`, `is_ghost` (1.0 or 0.0) and `q`."""
        ps = self.passage
        return [
            float(self.a_r),
            float(ps.measured),
            float(ps.predicted),
            float(ps.predicted_window),
            float(ps.window_correction),
            float(self.window_error),
            float(self.is_ghost),
            float(self.q),
        ]


def ghost_passage(
    problem: LeakyRNN,
    params: Params,
    fold_state: Float[ArrayLike, " n"],
    *,
    window_factor: float,
    num_steps: int,
) -> GhostPassage:
    r"""Just past a fold (at `params`): the network's slow points (`network_fixed_points`),
    the ghost nearest `fold_state` (the state at the fold, e.g. `Branch.fold_states[0]`),
    its `normal_form`, and `measure_passage` through the window
    $Y$ = `window_factor`$\cdot\sqrt{r/a}$ in `num_steps` steps."""
    check_positive("window_factor", window_factor)
    fp = network_fixed_points(problem, params)
    dist = np.max(np.abs(np.asarray(fp.points) - np.asarray(fold_state)), axis=1)
    g = int(np.argmin(np.where(np.asarray(fp.is_ghost), dist, np.inf)))
    form = normal_form(state_map, fp.points[g], args=(problem, params))
    y = float(window_factor) * float(np.sqrt(form.r / form.a))
    ps = measure_passage(problem, params, form, window=y, num_steps=num_steps)
    a, c = float(form.a), float(form.cubic)
    return GhostPassage(
        a_r=jnp.asarray(form.a * form.r),
        passage=ps,
        window_error=3.0 * (c * y / a) ** 2 + 0.005,
        is_ghost=jnp.asarray(fp.is_ghost[g]),
        q=jnp.asarray(fp.q[g]),
    )


# ---------------------------------------------------------------- any rank
class FoldCrossing(eqx.Module):
    r"""A change of the fixed-point structure between two consecutive checkpoints
    (`find_fold_crossing`): `bracket` `(2,)` their indices $j, j+1$, `counts` `(2,)` the
    fixed points ($q \le$ tol) found at each, `branch` the saddle of the side with more
    fixed points continued toward the other (`training_branch`), `ghost_side` $+1$ when the
    ghost lies past the fold (the later checkpoint has fewer fixed points), $-1$ before it.
    `fold` is the first fold of the branch (the fractional training step)."""

    bracket: Int[Array, " 2"]
    counts: Int[Array, " 2"]
    branch: Branch
    ghost_side: int = eqx.field(static=True)

    @property
    def fold(self) -> Float[Array, ""]:
        return self.branch.folds[0]


def _num_fixed(problem, params, initial_states, options) -> tuple[FixedPoints, int]:
    fp = network_fixed_points(problem, params, initial_states=initial_states, **options)
    return fp, int(np.sum(np.asarray(fp.is_fixed)))


def find_fold_crossing(
    problem: LeakyRNN,
    checkpoints: Checkpoints,
    *,
    start: int,
    num_checkpoints: int,
    stride: int = 1,
    initial_states: Float[ArrayLike, "num dim"] | None = None,
    **options,
) -> FoldCrossing:
    r"""Scan the checkpoints `start`, `start + stride`, ... (within `num_checkpoints` of
    `start`) for the first whose number of fixed points differs from that at `start`
    (`network_fixed_points`, default initial states `visited_states` of each; `options` go
    to `dynamics.fixed_points`), bisect down to two consecutive checkpoints $j, j+1$ whose
    counts differ (with `stride=1`, the default, the first such pair; a larger stride
    searches fewer checkpoints but can step over a change that is undone within it), and
    continue the saddle (one unstable direction) of the side with more fixed points across
    to the other (`training_branch`). Any rank: the search and the continuation act on the
    $N$-dimensional state. A ValueError names `checkpoints` when the count does not change
    in the scanned range, the richer side has no saddle, or the continuation meets no
    fold."""
    _check_rnn(problem)
    last = int(checkpoints.steps.shape[0]) - 1
    first = int(start)
    if not 0 <= first < last:
        raise ValueError(f"start: must be a checkpoint index in [0, {last}), got {start!r}")
    if isinstance(num_checkpoints, bool) or int(num_checkpoints) < 2:
        raise ValueError(f"num_checkpoints: must be an integer >= 2, got {num_checkpoints!r}")
    if isinstance(stride, bool) or int(stride) != stride or int(stride) < 1:
        raise ValueError(f"stride: must be an integer >= 1, got {stride!r}")
    end = min(first + int(num_checkpoints) - 1, last)
    cache: dict[int, tuple[FixedPoints, int]] = {}

    def count(i: int) -> int:
        if i not in cache:
            cache[i] = _num_fixed(problem, checkpoints.at(i), initial_states, options)
        return cache[i][1]

    c0, lo, hi = count(first), first, None
    for i in [*range(first + int(stride), end, int(stride)), end]:
        if count(i) != c0:
            hi = i
            break
        lo = i
    if hi is None:
        raise ValueError(
            f"checkpoints: the number of fixed points ({c0}) does not change between "
            f"checkpoints {first} and {end}"
        )
    while hi - lo > 1:  # counts at lo and hi differ: so do those of some adjacent pair
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if count(mid) == count(lo) else (lo, mid)
    j = lo
    (fp_a, c_a), (fp_b, c_b) = cache[lo], cache[hi]
    richer, side, direction = (fp_b, 1, -1) if c_b > c_a else (fp_a, 0, 1)
    saddles = np.nonzero((np.asarray(richer.unstable_dims) == 1) & np.asarray(richer.is_fixed))[0]
    if not saddles.size:
        raise ValueError(
            f"checkpoints: no saddle with one unstable direction at checkpoint {j + side} "
            f"(fixed points {c_a} -> {c_b} between {j} and {j + 1})"
        )
    pair = checkpoints.take([j, j + 1])
    branch = training_branch(
        problem, pair, richer.points[int(saddles[0])], start=side, direction=direction
    )
    if branch.folds.shape[0] == 0:
        raise ValueError(
            f"checkpoints: the saddle continued from checkpoint {j + side} meets no fold "
            f"between {j} and {j + 1} (stop reason {branch.stop_reason})"
        )
    return FoldCrossing(
        bracket=jnp.asarray([j, j + 1]),
        counts=jnp.asarray([c_a, c_b]),
        branch=branch,
        ghost_side=1 if c_b < c_a else -1,
    )


class OutputDiagnostics(eqx.Module):
    r"""Along checkpoints (`output_diagnostics`), each `(k,)`: `grad_norm`
    $\lVert\nabla L\rVert_2$, `wrong_fraction` (steps whose output $\hat y_t$ is on the
    other side of 1/2 from the target) and `wrong_confidence` (the mean of $|2\hat y_t - 1|$
    over those steps; 0 where none is wrong)."""

    grad_norm: Float[Array, " k"]
    wrong_fraction: Float[Array, " k"]
    wrong_confidence: Float[Array, " k"]


@eqx.filter_jit
def _diagnostics(problem, params):
    def one(p):
        g = optax.tree.norm(jax.grad(problem.loss)(p))
        y, t = problem.outputs(p), problem.targets()
        wrong = (y > 0.5) != (t > 0.5)
        w = wrong.astype(y.dtype)
        conf = jnp.sum(w * jnp.abs(2.0 * y - 1.0)) / jnp.maximum(jnp.sum(w), 1.0)
        return g, jnp.mean(w), conf

    return jax.lax.map(one, params)


def output_diagnostics(problem: LeakyRNN, checkpoints: Checkpoints) -> OutputDiagnostics:
    """The gradient norm and the wrong outputs' confidence at every checkpoint (see
    `OutputDiagnostics`); one jitted `lax.map` over the checkpoints."""
    _check_rnn(problem)
    g, frac, conf = _diagnostics(problem, checkpoints.params)
    return OutputDiagnostics(grad_norm=g, wrong_fraction=frac, wrong_confidence=conf)
