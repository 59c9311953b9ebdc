r"""The canonical ghost model as a differentiable simulation, and gradient descent on $r$
(through `toymodels.dynamics.run`).

$\dot x = x^2 + r$ from $x(0) = 0$; readout $\hat y = \sigma(a(x - X))$ with confidence $a$
and threshold $X$ (the paper: $X = 10$); delayed-activation target $y = 0$ for $t \le T$,
$1$ for $T < t \le T + T_R$ (the paper: $T_R = T$); loss $\int(\hat y - y)^2dt/T$
(`normalized=False` drops the $1/T$, as in the paper's Fig. 2 gradient code).

Three time models (`TimeModel`):

- `EULER`: the paper's simulation, $x \leftarrow \min(x + \Delta t(x^2 + r), x_\text{clip})$,
  $\Delta t = 0.1$, $x_\text{clip} = 10^6$, loss $\sum_i(\hat y_i - y_i)^2\Delta t/T$ over
  steps $i = 1..(T+T_R)/\Delta t$ with $y_i = [i > T/\Delta t]$; unrolled with `lax.scan`.
- `CONTINUOUS`: the same loss as an integral, solved with diffrax (Tsit5, adaptive) in the
  compactified coordinate $\varphi = \arctan x$, $\dot\varphi = \sin^2\varphi + r\cos^2\varphi$,
  which crosses $x = +\infty$ ($\varphi = \pi/2$) without blowing up; the readout uses
  $x = \tan\min(\varphi, \arctan x_\text{clip})$.
- `LIMIT`: the confidence limit $a\to\infty$, $X\to\infty$, $\Delta t\to0$:
  $L = |T - \pi/(2\sqrt r)|/T$, or $T_R/T$ in the no-learning zone (`limit_loss`).

The parameter is the scalar $r$; `init` draws $r_0 = r^*(10 + 0.1z)$, $z\sim\mathcal N(0,1)$,
the paper's Fig. 2 start.
"""

import enum
import functools
import math

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optimistix as optx
from jaxtyping import Array, ArrayLike, Float, Key, PRNGKeyArray

from ..._custom_types import Numbers, Real
from ..._validation import (
    as_enum,
    as_float_array,
    check_finite,
    check_key,
    check_learning_rate,
    check_positive,
    is_concrete,
)
from ...dynamics import GD, Save, Stop, run
from ...problems import AbstractProblem
from ._theory import limit_loss, limit_loss_grad, no_learning_r, optimal_r


class TimeModel(enum.Enum):
    EULER = "euler"
    CONTINUOUS = "continuous"
    LIMIT = "limit"


@functools.partial(jax.custom_jvp, nondiff_argnums=(3,))
def _limit_loss(r, delay, window, normalized):
    return limit_loss(r, delay=delay, window=window, normalized=normalized)


@_limit_loss.defjvp
def _limit_loss_jvp(normalized, primals, tangents):
    # d/dr is the closed form (the right-hand slope at the cusp r*, 0 in the zone);
    # derivatives in the delay and the window are autodiff of the closed-form loss.
    r, delay, window = primals
    dr, dd, dw = tangents
    val, t_rest = jax.jvp(
        lambda d, w: limit_loss(r, delay=d, window=w, normalized=normalized),
        (delay, window),
        (dd, dw),
    )
    g = limit_loss_grad(r, delay=delay, window=window, normalized=normalized)
    return val, g * dr + t_rest


class CanonicalGhost(AbstractProblem):
    """$\\dot x = x^2 + r$ on the delayed-activation task; params: the scalar $r$."""

    delay: Array
    window: Array | None
    confidence: Array
    dt: float = eqx.field(static=True)
    threshold: float = eqx.field(static=True)
    clip: float = eqx.field(static=True)
    normalized: bool = eqx.field(static=True)
    time: TimeModel = eqx.field(static=True)
    init_scale: float = eqx.field(static=True)
    init_noise: float = eqx.field(static=True)
    num_delay_steps: int | None = eqx.field(static=True)
    num_steps: int | None = eqx.field(static=True)

    @property
    def response_window(self) -> Array:
        return self.delay if self.window is None else self.window

    def readout(self, x: Array) -> Array:
        return jax.nn.sigmoid(self.confidence * (x - self.threshold))

    # ---------------------------------------------------------------- Euler
    def euler_states(self, r: Float[ArrayLike, ""]) -> Float[Array, " steps"]:
        """Euler states $x_1..x_n$, $n = (T + T_R)/\\Delta t$."""
        if self.num_steps is None:
            raise ValueError("time: euler_states needs the EULER time model")
        r = jnp.asarray(r)

        def body(x, _):
            x = jnp.minimum(x + self.dt * (x * x + r), self.clip)
            return x, x

        _, xs = jax.lax.scan(body, jnp.zeros_like(r), None, length=self.num_steps)
        return xs

    def _euler_loss(self, r: Array) -> Array:
        xs = self.euler_states(r)
        i = jnp.arange(1, self.num_steps + 1)
        target = (i > self.num_delay_steps).astype(xs.dtype)
        err = jnp.sum((self.readout(xs) - target) ** 2) * self.dt
        return err / self.delay if self.normalized else err

    # ---------------------------------------------------------------- diffrax
    def _continuous_loss(self, r: Array, *, rtol: float = 1e-8, atol: float = 1e-10) -> Array:
        r = jnp.asarray(r)
        phi_c = math.atan(self.clip)
        delay = self.delay

        def f(t, y, args):
            phi, _ = y
            s, c = jnp.sin(phi), jnp.cos(phi)
            x = jnp.tan(jnp.minimum(phi, phi_c))
            target = (t > delay).astype(s.dtype)
            return (s * s + r * c * c, (self.readout(x) - target) ** 2)

        ctrl = diffrax.ClipStepSizeController(
            diffrax.PIDController(rtol=rtol, atol=atol), jump_ts=jnp.reshape(delay, (1,))
        )
        sol = diffrax.diffeqsolve(
            diffrax.ODETerm(f),
            diffrax.Tsit5(),
            t0=jnp.zeros_like(delay),
            t1=delay + self.response_window,
            dt0=None,
            y0=(jnp.zeros_like(r), jnp.zeros_like(r)),
            stepsize_controller=ctrl,
            max_steps=16384,
        )
        err = sol.ys[1][-1]
        return err / self.delay if self.normalized else err

    # ---------------------------------------------------------------- problem API
    def loss(self, params: Float[ArrayLike, "*batch"]) -> Float[Array, "*batch"]:
        r = jnp.asarray(params)
        if self.time is TimeModel.EULER:
            return self._euler_loss(r)
        if self.time is TimeModel.CONTINUOUS:
            return self._continuous_loss(r)
        return _limit_loss(r, self.delay, self.response_window, self.normalized)

    def grad(self, params: Float[ArrayLike, ""]) -> Float[Array, ""]:
        """$dL/dr$: autodiff through the simulation; for `LIMIT` the loss carries the closed
        form `limit_loss_grad` as its derivative (the right-hand slope at the cusp $r^*$), so
        `jax.grad(loss)` and `toymodels.dynamics.run` see it too."""
        return jax.grad(self.loss)(params)

    def init(self, key: PRNGKeyArray) -> Float[Array, ""]:
        check_key("key", key)
        z = jr.normal(key, (), self.delay.dtype)
        return optimal_r(self.delay) * (self.init_scale + self.init_noise * z)

    def in_no_learning_zone(self, r: Float[ArrayLike, "..."]) -> Array:
        """$r \\le r_{NL} = \\pi^2/(4(T+T_R)^2)$."""
        return jnp.asarray(r) <= no_learning_r(self.delay, window=self.window)


def canonical_ghost(
    delay: Real = 100.0,
    *,
    window: float | None = None,
    confidence: float = 1.0,
    dt: float = 0.1,
    threshold: float = 10.0,
    clip: float = 1e6,
    normalized: bool = True,
    time: TimeModel | str = TimeModel.EULER,
    init_scale: float = 10.0,
    init_noise: float = 0.1,
) -> CanonicalGhost:
    """The canonical model; defaults are the paper's Fig. 2 (T = 100, Δt = 0.1, a = 1,
    X = 10, T_R = T, GD from r₀ ≈ 10 r*). `time`: "euler" | "continuous" | "limit"."""
    tm = as_enum("time", time, TimeModel)
    check_positive("delay", delay)
    if window is not None:
        check_positive("window", window)
    check_positive("confidence", confidence)
    check_positive("dt", dt)
    check_positive("clip", clip)
    check_positive("init_scale", init_scale)
    check_positive("init_noise", init_noise, allow_zero=True)
    if not math.isfinite(float(threshold)):
        raise ValueError(f"threshold: must be finite, got {threshold}")
    d = as_float_array("delay", delay, ndim=0)
    w = None if window is None else as_float_array("window", window, ndim=0)
    n_delay = n_total = None
    if tm is TimeModel.EULER:
        n_delay = round(float(delay) / float(dt))
        n_total = round((float(delay) + float(delay if window is None else window)) / float(dt))
        if abs(n_delay * dt - float(delay)) > 1e-9 * float(delay):
            raise ValueError(f"dt: the delay {delay} must be a whole number of steps of {dt}")
    return CanonicalGhost(
        delay=d,
        window=w,
        confidence=as_float_array("confidence", confidence, ndim=0).astype(d.dtype),
        dt=float(dt),
        threshold=float(threshold),
        clip=float(clip),
        normalized=bool(normalized),
        time=tm,
        init_scale=float(init_scale),
        init_noise=float(init_noise),
        num_delay_steps=n_delay,
        num_steps=n_total,
    )


# -------------------------------------------------------------------- continuous time
def continuous_trajectory(
    r: Float[ArrayLike, ""], ts: Float[ArrayLike, " n"], *, rtol: float = 1e-10, atol: float = 1e-12
) -> Float[Array, " n"]:
    """$x(t_k)$ of $\\dot x = x^2 + r$, $x(0) = 0$, by diffrax in $\\varphi = \\arctan x$
    (valid past the blow-up: $x$ re-enters from $-\\infty$)."""
    check_finite("r", r)
    r = jnp.asarray(r)
    ts = as_float_array("ts", ts, ndim=1)
    if ts.shape[0] == 0:
        raise ValueError("ts: no save times given")
    if is_concrete(ts) and not (np.all(np.asarray(ts) >= 0) and np.all(np.diff(ts) > 0)):
        raise ValueError("ts: save times must be >= 0 and strictly increasing")
    term = diffrax.ODETerm(lambda t, phi, args: jnp.sin(phi) ** 2 + r * jnp.cos(phi) ** 2)
    sol = diffrax.diffeqsolve(
        term,
        diffrax.Tsit5(),
        t0=0.0,
        t1=ts[-1],
        dt0=None,
        y0=jnp.zeros_like(r),
        saveat=diffrax.SaveAt(ts=ts),
        stepsize_controller=diffrax.PIDController(rtol=rtol, atol=atol),
        max_steps=16384,
    )
    return jnp.tan(sol.ys)


def continuous_escape_time(
    r: Float[ArrayLike, ""],
    *,
    threshold: float = 10.0,
    t_max: float = 1e7,
    rtol: float = 1e-10,
    atol: float = 1e-12,
) -> Float[Array, ""]:
    """First time $x$ reaches `threshold` (diffrax with an event and a Newton root find);
    `threshold=inf` gives the blow-up time. $+\\infty$ if not reached by `t_max`."""
    check_finite("r", r)
    if math.isnan(float(threshold)) or float(threshold) <= 0:
        raise ValueError(f"threshold: must be > 0 (inf allowed), got {threshold!r}")
    check_positive("t_max", t_max)
    r = jnp.asarray(r)
    phi_x = math.pi / 2 if math.isinf(threshold) else math.atan(threshold)
    term = diffrax.ODETerm(lambda t, phi, args: jnp.sin(phi) ** 2 + r * jnp.cos(phi) ** 2)
    event = diffrax.Event(
        lambda t, y, args, **kw: y - phi_x, root_finder=optx.Newton(rtol=1e-12, atol=1e-12)
    )
    sol = diffrax.diffeqsolve(
        term,
        diffrax.Tsit5(),
        t0=0.0,
        t1=t_max,
        dt0=None,
        y0=jnp.zeros_like(r),
        event=event,
        stepsize_controller=diffrax.PIDController(rtol=rtol, atol=atol),
        max_steps=16384,
    )
    hit = sol.event_mask
    return jnp.where(hit, sol.ts[-1], jnp.inf)


# -------------------------------------------------------------------- GD on r
# The losses are bounded (sigmoid readouts; T_R/T in the zone), so "divergence" means only
# non-finite values, which `run` always stops on; a huge loss ratio from a start near r* is
# learning, not divergence.
_STOP = Stop(max_norm=None, loss_ratio=None)


def _seed_keys(key: PRNGKeyArray, num_seeds: int) -> tuple[Key[Array, " n"], Key[Array, " n"]]:
    """Seed $j$ starts from `init(jr.split(key, num_seeds)[j])`; the runs' own keys (drawn
    from only by stochastic problems or minibatches, never by full-batch GD) come from the
    child `fold_in(key, num_seeds)` that no seed uses."""
    init_keys = jr.split(key, num_seeds)
    run_keys = jr.split(jr.fold_in(key, num_seeds), num_seeds)
    return init_keys, run_keys


def _check_sweep(key, num_seeds, num_steps) -> tuple[int, int]:
    check_key("key", key)
    if isinstance(num_seeds, bool) or int(num_seeds) != num_seeds or int(num_seeds) < 1:
        raise ValueError(f"num_seeds: must be an integer >= 1, got {num_seeds!r}")
    if isinstance(num_steps, bool) or int(num_steps) != num_steps or int(num_steps) < 1:
        raise ValueError(f"num_steps: must be an integer >= 1, got {num_steps!r}")
    return int(num_seeds), int(num_steps)


def _check_learning_rates(problem, learning_rates) -> Array:
    lrs = as_float_array("learning_rates", learning_rates, ndim=1).astype(problem.delay.dtype)
    check_learning_rate("learning_rates", lrs)
    return lrs


class CanonicalSweep(eqx.Module):
    """Learning rate × seed sweep of GD on $r$: arrays of shape `(num_lrs, num_seeds)`
    (`trajectory`: $r_0..r_K$, `(num_lrs, num_seeds, num_steps+1)`, when kept)."""

    learning_rates: Array
    final_r: Array
    final_loss: Array
    trapped: Array
    trajectory: Array | None

    @property
    def trapped_fraction(self) -> Array:
        return jnp.mean(self.trapped.astype(self.final_r.dtype), axis=-1)


def lr_seed_sweep(
    problem: CanonicalGhost,
    learning_rates: Float[ArrayLike, " num_lrs"] | Numbers,
    *,
    key: PRNGKeyArray,
    num_seeds: int,
    num_steps: int,
    keep_trajectory: bool = False,
) -> CanonicalSweep:
    """Full-batch GD $r \\leftarrow r - \\eta\\,dL/dr$ (`toymodels.dynamics.run` with
    `GD`) for every (learning rate, seed) pair as ONE vmapped computation; seed $j$ starts
    from `problem.init(jr.split(key, num_seeds)[j])`. A run is trapped when it ends in the
    no-learning zone $r \\le r_{NL}$ (gradient 0 there in the confidence limit, so it stays
    forever). Learning rates are traced: new values do not recompile."""
    if not isinstance(problem, CanonicalGhost):
        raise TypeError(f"problem: expected a CanonicalGhost, got {type(problem).__name__}")
    num_seeds, num_steps = _check_sweep(key, num_seeds, num_steps)
    lrs = _check_learning_rates(problem, learning_rates)
    init_keys, run_keys = _seed_keys(key, num_seeds)
    return _lr_seed_sweep(
        problem,
        lrs,
        init_keys,
        run_keys,
        num_steps=num_steps,
        keep_trajectory=bool(keep_trajectory),
    )


@eqx.filter_jit
def _lr_seed_sweep(problem, lrs, init_keys, run_keys, *, num_steps, keep_trajectory):
    save = Save(every=1) if keep_trajectory else Save()

    def one(lr, k_init, k_run):
        return run(
            problem,
            problem.init(k_init),
            GD(learning_rate=lr),
            num_steps=num_steps,
            key=k_run,
            save=save,
            stop=_STOP,
        )

    traj = jax.vmap(jax.vmap(one, (None, 0, 0)), (0, None, None))(lrs, init_keys, run_keys)
    return CanonicalSweep(
        learning_rates=lrs,
        final_r=traj.params,
        final_loss=traj.final_loss,
        trapped=problem.in_no_learning_zone(traj.params),
        trajectory=traj.saved if keep_trajectory else None,
    )


def bisect_critical_lr(
    problem: CanonicalGhost,
    *,
    key: PRNGKeyArray,
    num_seeds: int,
    lo: Float[ArrayLike, ""],
    hi: Float[ArrayLike, ""],
    num_steps: int,
    num_iters: int = 30,
    fraction: float = 0.5,
) -> Float[Array, ""]:
    """Bisection (on $\\log\\eta$, inside jit) for the learning rate at which the trapped
    fraction of `num_seeds` GD runs (`toymodels.dynamics.run`, from
    `init(jr.split(key, num_seeds)[j])`) first reaches `fraction`; `[lo, hi]` must bracket
    it. The bisection is a `fori_loop` on the scalar $\\log\\eta$; each of its `num_iters`
    evaluations trains the runs through `run`. See `critical_lr_vs_delay` for many delays."""
    if not isinstance(problem, CanonicalGhost):
        raise TypeError(f"problem: expected a CanonicalGhost, got {type(problem).__name__}")
    num_seeds, num_steps = _check_sweep(key, num_seeds, num_steps)
    check_learning_rate("lo", lo)
    check_learning_rate("hi", hi)
    if not float(lo) < float(hi):
        raise ValueError(f"hi: must be above lo to bracket the critical learning rate, got {hi!r}")
    _check_bisection(num_iters, fraction)
    init_keys, run_keys = _seed_keys(key, num_seeds)
    dtype = problem.delay.dtype
    return _bisect(
        problem,
        init_keys,
        run_keys,
        jnp.asarray(lo, dtype),
        jnp.asarray(hi, dtype),
        num_steps=num_steps,
        num_iters=int(num_iters),
        fraction=float(fraction),
    )


def _check_bisection(num_iters, fraction) -> None:
    if isinstance(num_iters, bool) or int(num_iters) != num_iters or int(num_iters) < 1:
        raise ValueError(f"num_iters: must be an integer >= 1, got {num_iters!r}")
    if not 0.0 < float(fraction) <= 1.0:
        raise ValueError(f"fraction: must be in (0, 1], got {fraction!r}")


def _trapped_fraction(problem, r0, run_keys, lr, num_steps):
    def one(r, k):
        traj = run(problem, r, GD(learning_rate=lr), num_steps=num_steps, key=k, stop=_STOP)
        return traj.params

    final = jax.vmap(one)(r0, run_keys)
    return jnp.mean(problem.in_no_learning_zone(final).astype(r0.dtype))


@eqx.filter_jit
def _bisect(problem, init_keys, run_keys, lo, hi, *, num_steps, num_iters, fraction):
    r0 = jax.vmap(problem.init)(init_keys)

    def body(_, bracket):
        a, b = bracket
        mid = 0.5 * (a + b)
        frac = _trapped_fraction(problem, r0, run_keys, jnp.exp(mid), num_steps)
        too_big = frac >= fraction
        return jnp.where(too_big, a, mid), jnp.where(too_big, mid, b)

    a, b = jax.lax.fori_loop(0, num_iters, body, (jnp.log(lo), jnp.log(hi)))
    return jnp.exp(0.5 * (a + b))


@functools.partial(jax.jit, static_argnames=("num_steps", "num_iters", "normalized", "fraction"))
def _bisect_many(
    delays, windows, init_keys, run_keys, bracket, *, num_steps, num_iters, normalized, fraction
):
    from ._theory import critical_lr

    base = canonical_ghost(1.0, window=1.0, normalized=normalized, time=TimeModel.LIMIT)

    def one(d, w):
        p = eqx.tree_at(lambda q: (q.delay, q.window), base, (d, w))
        guess = critical_lr(d, window=w, normalized=normalized)
        return _bisect(
            p,
            init_keys,
            run_keys,
            guess / bracket,
            guess * bracket,
            num_steps=num_steps,
            num_iters=num_iters,
            fraction=fraction,
        )

    return jax.vmap(one)(delays, windows)


def critical_lr_vs_delay(
    delays: Float[ArrayLike, " n"] | Numbers,
    *,
    key: PRNGKeyArray,
    num_seeds: int = 20,
    num_steps: int = 4000,
    num_iters: int = 30,
    normalized: bool = True,
    window: float | None = None,
    window_ratio: float | None = None,
    bracket: float = 8.0,
    fraction: float = 0.5,
) -> Float[Array, " n"]:
    r"""Bisected $\eta_c$ for each delay $T$ of the reduced (`LIMIT`) model, vmapped over $T$
    as one computation; the bracket is $[\eta_c^\text{theory}/b, b\,\eta_c^\text{theory}]$;
    the runs start from `init(jr.split(key, num_seeds)[j])` (the same starts, in units of
    $r^*$, for every $T$). Response window: `window` (a fixed $T_R$) or `window_ratio`
    ($T_R/T$); default $T_R = T$ (the paper).

    The closed form is a strict lower bound (from $r > r^*$ the landing point
    $r - \eta L'(r)$ is above $r_{NL}$ unless $\eta \ge (r - r_{NL})/L'(r) \ge \eta_c$); the
    bisection reaches it when GD comes close to $r^*$ compared with the gap $r^* - r_{NL}$."""
    delays = as_float_array("delays", delays, ndim=1)
    num_seeds, num_steps = _check_sweep(key, num_seeds, num_steps)
    if is_concrete(delays) and not np.all(np.asarray(delays) > 0):
        raise ValueError(f"delays: must be > 0, got {delays}")
    _check_bisection(num_iters, fraction)
    check_positive("bracket", bracket)
    if bracket <= 1:
        raise ValueError(f"bracket: must be > 1, got {bracket}")
    if window is not None and window_ratio is not None:
        raise ValueError("window: give either window or window_ratio, not both")
    if window is not None:
        check_positive("window", window)
        windows = jnp.full_like(delays, window)
    elif window_ratio is not None:
        check_positive("window_ratio", window_ratio)
        windows = delays * window_ratio
    else:
        windows = delays
    init_keys, run_keys = _seed_keys(key, num_seeds)
    return _bisect_many(
        delays,
        windows,
        init_keys,
        run_keys,
        jnp.asarray(bracket, delays.dtype),
        num_steps=num_steps,
        num_iters=int(num_iters),
        normalized=bool(normalized),
        fraction=float(fraction),
    )
