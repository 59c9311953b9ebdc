"""Gradient flow vs GD and vs scipy's stiff integrators on a two-layer teacher–student problem.

Problem: closed-form population loss (erf), input 8, teacher width 4, student width 16
(144 parameters). Target: the flow's state at t = 1e4 within 1e-6 relative error.

- Reference state: diffrax Dopri8 at rtol 1e-12 (its own error estimated against rtol 1e-13).
- `gradient_flow` (Tsit5, rtol 1e-8 / atol 1e-10): gradient evaluations = 6 per step
  (FSAL, rejected steps included) + 3 (initial step-size selection and first stage).
- GD with step η: error vs the flow is O(η); measured at three η, extrapolated linearly to
  the η that meets 1e-6, which needs 1e4/η gradient evaluations.
- Wall time against `scipy.integrate.solve_ivp` (LSODA and BDF) calling the same jitted
  gradient, with the same tolerances (after one warm-up call of each), each capped at
  max(60 s, 50× the flow's wall time) — a capped run reports `*_finished: False` and the
  time it reached.
"""

import time

import diffrax
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jax.flatten_util import ravel_pytree
from scipy.integrate import solve_ivp

from toymodels.dynamics import GD, gradient_flow, run
from toymodels.problems import teacher_student_population, two_layer_init


T1 = 1e4
TARGET = 1e-6


def _setup():
    k1, k2 = jr.split(jr.key(1))
    teacher = two_layer_init(key=k1, dim=8, width=4)
    prob = teacher_student_population(teacher, width=16)
    return prob, prob.init(k2)


def _rel(a, b):
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def main() -> dict:
    jax.config.update("jax_enable_x64", True)
    prob, p0 = _setup()
    x0, unravel = ravel_pytree(p0)
    ends = diffrax.SaveAt(ts=[0.0, T1])

    def dopri8(rtol, atol):
        return dict(
            solver=diffrax.Dopri8(), stepsize_controller=diffrax.PIDController(rtol=rtol, atol=atol)
        )

    ref = gradient_flow(prob, p0, t1=T1, save=ends, **dopri8(1e-12, 1e-14))
    x_ref = np.asarray(ravel_pytree(ref.params)[0])

    grad = jax.jit(jax.grad(lambda x: prob.loss(unravel(x))))
    fun = lambda t, x: -np.asarray(grad(jnp.asarray(x)))  # noqa: E731
    jac = jax.jit(jax.hessian(lambda x: prob.loss(unravel(x))))
    ref2 = gradient_flow(prob, p0, t1=T1, save=ends, **dopri8(1e-13, 1e-15))
    ref_check = _rel(np.asarray(ravel_pytree(ref2.params)[0]), x_ref)
    print("reference self-check", ref_check, flush=True)

    # --- gradient_flow (compiled once, then timed)
    kw = dict(t1=T1, save=ends, stepsize_controller=diffrax.PIDController(rtol=1e-8, atol=1e-10))
    t0 = time.perf_counter()
    gradient_flow(prob, p0, **kw)
    first_call = time.perf_counter() - t0
    t0 = time.perf_counter()
    flow = gradient_flow(prob, p0, **kw)
    flow_wall = time.perf_counter() - t0
    flow_err = _rel(np.asarray(ravel_pytree(flow.params)[0]), x_ref)
    flow_evals = 6 * flow.num_steps + 3
    print("flow", flow_err, flow_evals, flow_wall, first_call, flush=True)

    # --- GD: error at three step sizes, extrapolated (first order) to the target
    etas = np.array([0.2, 0.1])
    errs = []
    for eta in etas:
        r = run(prob, p0, GD(learning_rate=eta), num_steps=int(round(T1 / eta)), key=jr.key(0))
        assert r.stop_reason == "completed"
        errs.append(_rel(np.asarray(ravel_pytree(r.params)[0]), x_ref))
        print("gd", eta, errs[-1], flush=True)
    errs = np.asarray(errs)
    slope = np.polyfit(np.log(etas), np.log(errs), 1)[0]
    c = float(np.median(errs / etas))
    eta_needed = TARGET / c
    gd_evals = T1 / eta_needed

    # --- scipy on the same jitted gradient (LSODA, BDF with the jitted Hessian as Jacobian)
    out = {}
    budget = max(60.0, 50 * flow_wall)  # wall-clock cap for scipy (reported if hit)

    class _OutOfTime(Exception):
        pass

    for method in ("LSODA", "BDF"):
        extra = {"jac": lambda t, x: np.asarray(jac(jnp.asarray(x)))} if method == "BDF" else {}
        solve_ivp(fun, (0.0, 1.0), np.asarray(x0), method=method, rtol=1e-8, atol=1e-10, **extra)
        t0 = time.perf_counter()
        reached = [0.0]
        nfev = [0]

        def capped(t, x, t0=t0, reached=reached, nfev=nfev):
            if time.perf_counter() - t0 > budget:
                raise _OutOfTime
            reached[0] = max(reached[0], float(t))
            nfev[0] += 1
            return fun(t, x)

        try:
            sol = solve_ivp(
                capped, (0.0, T1), np.asarray(x0), method=method, rtol=1e-8, atol=1e-10, **extra
            )
            finished, err = bool(sol.status == 0), _rel(sol.y[:, -1], x_ref)
        except _OutOfTime:
            finished, err = False, float("nan")
        out[method] = (time.perf_counter() - t0, err, nfev[0], finished, reached[0])
        print(method, out[method], flush=True)

    return {
        "params": int(x0.size),
        "reference_rtol1e-12_vs_1e-13_rel": ref_check,
        "flow_rel_error": flow_err,
        "flow_grad_evals": int(flow_evals),
        "flow_wall_s": flow_wall,
        "flow_first_call_s_incl_compile": first_call,
        "gd_etas": etas.tolist(),
        "gd_rel_errors": errs.tolist(),
        "gd_error_order_in_eta": float(slope),
        "gd_eta_for_1e-6": eta_needed,
        "gd_grad_evals_for_1e-6": gd_evals,
        "ratio_gd_evals_over_flow_evals": gd_evals / flow_evals,
        "lsoda_wall_s": out["LSODA"][0],
        "lsoda_rel_error": out["LSODA"][1],
        "lsoda_nfev": out["LSODA"][2],
        "lsoda_finished": out["LSODA"][3],
        "bdf_finished": out["BDF"][3],
        "bdf_reached_t": out["BDF"][4],
        "bdf_wall_s": out["BDF"][0],
        "bdf_rel_error": out["BDF"][1],
        "bdf_nfev": out["BDF"][2],
        "ratio_lsoda_wall_over_flow_wall": out["LSODA"][0] / flow_wall,
        "ratio_bdf_wall_over_flow_wall": out["BDF"][0] / flow_wall,
    }


if __name__ == "__main__":
    for k, v in main().items():
        print(f"{k}: {v}")
