r"""Stochastic trace, squared Frobenius norm and diagonal estimators with standard errors.

Hutchinson: for probes $z$ with $E[zz^\top] = I$, $E[z^\top A z] = \operatorname{tr} A$.
The variance of one sample is $2(\lVert A\rVert_F^2 - \sum_i A_{ii}^2)$ for Rademacher and
$2\lVert A\rVert_F^2$ for Gaussian probes; the reported standard error is the sample
standard deviation (ddof = 1) over $\sqrt{\text{num\_probes}}$.

Hutch++ (Meyer, Musco, Musco & Woodruff 2021): a third of the budget sketches the top range
$Q = \operatorname{orth}(A S)$, whose trace $\operatorname{tr}(Q^\top A Q)$ is exact, and
Hutchinson on the deflated $(I - QQ^\top) A (I - QQ^\top)$ covers the rest; the standard
error is that of the Hutchinson part.

XTrace and XNysTrace (Epperly, Tropp & Webber 2024, arXiv:2301.07825), from matfree: every
probe serves both as a sketch vector and, left out of the sketch, as a Hutchinson probe for
the residual; the standard error is that of the leave-one-out estimates. XTrace spends two
products per probe and works for any symmetric $A$; XNysTrace one product per probe through
a Nyström approximation and needs $A \succeq 0$.

**Which wins.** The low-rank part removes the top of the spectrum exactly, so the
sketching methods win on fast-decaying spectra ($\lambda_i = i^{-2}$, $n = 1000$, 60
products: XTrace's error 60–160× below Hutchinson's, XNysTrace's 130–230×, Hutch++'s 50–70×;
`tests/linalg/test_batching.py`, `bench/bench_linalg.py`); on flat or indefinite spectra
(a Hessian's bulk) XTrace and XNysTrace tie with Hutchinson and Hutch++ loses (its sketch
spends a third of the products on a range that holds no more of the trace than the rest).

**Cost.** Probe $i$ is drawn from `fold_in(key, i)`, so an estimate with more probes
reuses the first ones and the result does not depend on the batch size. Products run in
memory-sized batches inside one compiled loop whose trip count is traced (see
`_batching.py`): `M` probes cost about `M` separate products, memory does not grow with
`M`, and a new `num_probes` in the same power-of-two bucket does not recompile (the batch
is capped at the bucket's lower end, so across buckets only while the memory-sized batch
exceeds `num_probes`: never for a network's Hessian on a CPU, whose batch is 1; Hutch++
sizes its sketch by the bucket; XTrace and XNysTrace, whose matfree kernels have static
shapes, compile once per number of probes).
"""

import abc
import enum
from typing import Any, ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray
from matfree import stochtrace

from .._validation import as_enum, check_key, is_concrete
from ._batching import (
    batched_matvec,
    bucket,
    check_batch_size,
    dtype_of as _dtype_of,
    filter_jit,
    int_array,
    map_rows,
    stream_mean_sem,
)
from ._matfree import Probes, sample_probes
from ._operator import AbstractOperator, as_operator


class Estimate(eqx.Module):
    """A stochastic estimate and its standard error (same shape). Unpacks and
    indexes like the pair: `value, stderr = trace(...)`."""

    estimate: Array
    stderr: Array

    def __iter__(self):
        return iter((self.estimate, self.stderr))

    def __getitem__(self, i):
        return (self.estimate, self.stderr)[i]

    def __len__(self) -> int:
        return 2


def _check_probes(name, num, minimum=1):
    if isinstance(num, bool) or not isinstance(num, int | np.integer):
        raise TypeError(f"{name}: expected an int, got {num!r}")
    if num < minimum:
        raise ValueError(f"{name}: must be >= {minimum}, got {num}")
    return int(num)


def _mean_sem(s):
    k = s.shape[0]
    mean = jnp.mean(s, axis=0)
    sem = jnp.std(s, axis=0, ddof=1) / jnp.sqrt(k) if k > 1 else jnp.full_like(mean, jnp.inf)
    return mean, sem


def _probe(key, i, n, dtype, kind):
    return sample_probes(jr.fold_in(key, i), n, 1, dtype, kind)[0]


def _scalar(dtype):
    return jax.ShapeDtypeStruct((), dtype)


def _hutchinson_stream(op, key, num, kind, batch, what):
    """Mean and standard error of z·Az (`"trace"`), ‖Az‖² (`"frobenius"`) or z ⊙ Az
    (`"diagonal"`) over probes i < num (traced), streamed in batches."""
    n = op.shape[0]
    dtype = _dtype_of(op)

    def sample(i):
        z = _probe(key, i, n, dtype, kind)
        az = op.matvec(z).astype(dtype)
        if what == "trace":
            return jnp.vdot(z, az)
        if what == "frobenius":
            return jnp.vdot(az, az)
        return z * az  # diagonal: E[z ⊙ Az] = diag(A) for both probe kinds

    like = jax.ShapeDtypeStruct((n,) if what == "diagonal" else (), dtype)
    return stream_mean_sem(sample, num, batch, like)


class AbstractTraceEstimator(eqx.Module):
    r"""A stochastic estimator of $\operatorname{tr} A$ from matrix-vector products; pass an
    instance as `trace(..., method=...)`. `num_probes` is the budget of products."""

    min_matvecs: eqx.AbstractClassVar[int]
    matvecs_per_probe: eqx.AbstractClassVar[int]
    default_probes: eqx.AbstractClassVar[Probes]
    traced_count: eqx.AbstractClassVar[bool]  # whether the count is traced (no recompile)

    @abc.abstractmethod
    def estimate(
        self, op: AbstractOperator, key: PRNGKeyArray, num: Any, cap: int, probes: Probes,
        batch: int,
    ) -> tuple[Array, Array]:  # fmt: skip
        """`(estimate, stderr)` under jit, in batches of `batch` products: from `num`
        products (a traced int, at most the static `cap`) when `traced_count`, else from
        `num` (static) probes of `matvecs_per_probe` products each."""


class Hutchinson(AbstractTraceEstimator):
    """Hutchinson's estimator: the mean of $z^\\top A z$ over `num_probes` probes."""

    min_matvecs: ClassVar[int] = 2
    matvecs_per_probe: ClassVar[int] = 1
    default_probes: ClassVar[Probes] = Probes.RADEMACHER
    traced_count: ClassVar[bool] = True

    def estimate(self, op, key, num, cap, probes, batch):
        return _hutchinson_stream(op, key, num, probes, batch, "trace")


class HutchPlusPlus(AbstractTraceEstimator):
    """Hutch++: `num_probes // 3` sketch vectors (applied twice: the sketch and its
    orthonormal basis) and the rest as deflated Hutchinson probes (at least 6 products)."""

    min_matvecs: ClassVar[int] = 6
    matvecs_per_probe: ClassVar[int] = 1
    default_probes: ClassVar[Probes] = Probes.RADEMACHER
    traced_count: ClassVar[bool] = True

    def estimate(self, op, key, num, cap, probes, batch):
        n = op.shape[0]
        dtype = _dtype_of(op)
        k1, k2 = jr.split(key)
        m = num // 3
        m_cap = cap // 3  # static: the sketch's columns beyond m stay zero
        vec = jax.ShapeDtypeStruct((n,), dtype)

        def sketch(i):
            return op.matvec(_probe(k1, i, n, dtype, probes))

        AS = map_rows(sketch, m, m_cap, batch, vec)
        Q, _ = jnp.linalg.qr(AS.T)  # (n, m_cap); Householder: columns < m span AS[:m]
        Q = jnp.where(jnp.arange(m_cap) < m, Q, 0.0)
        AQ = map_rows(lambda i: op.matvec(Q[:, i]), m, m_cap, batch, vec)
        t_top = jnp.sum(Q.T * AQ)

        def deflated(i):
            g = _probe(k2, i, n, dtype, probes)
            g = g - Q @ (Q.T @ g)
            ag = op.matvec(g).astype(dtype)
            return jnp.vdot(g, ag - Q @ (Q.T @ ag))

        mean, sem = stream_mean_sem(deflated, num - 2 * m, batch, _scalar(dtype))
        return t_top + mean, sem


class XTrace(AbstractTraceEstimator):
    """XTrace (matfree's `leave_one_out_xtrace`): `num_probes // 2` probes, each applied
    twice (at least 4 products). Any symmetric operator; Gaussian probes by default, as
    `resphering` (on by default) assumes a rotation-invariant distribution."""

    resphering: bool = True
    min_matvecs: ClassVar[int] = 4
    matvecs_per_probe: ClassVar[int] = 2
    default_probes: ClassVar[Probes] = Probes.GAUSSIAN
    traced_count: ClassVar[bool] = False

    def estimate(self, op, key, num, cap, probes, batch):
        n = op.shape[0]
        s = min(num, n)
        integrand = stochtrace.leave_one_out_xtrace(apply_resphering=self.resphering)
        # matfree materialises the operator itself when 2 s >= n (jacfwd of the product)
        mv = op.matvec if 2 * s >= n else batched_matvec(op, batch)
        Z = sample_probes(key, n, s, _dtype_of(op), probes)
        return _mean_sem(integrand(mv, Z))


class XNysTrace(AbstractTraceEstimator):
    """XNysTrace (matfree's `leave_one_out_xnystrace`, Nyström with `eigh`): `num_probes`
    probes, one product each (at least 2). Only for positive semi-definite operators
    (curvature at a minimum, Gauss–Newton, covariances)."""

    resphering: bool = True
    min_matvecs: ClassVar[int] = 2
    matvecs_per_probe: ClassVar[int] = 1
    default_probes: ClassVar[Probes] = Probes.GAUSSIAN
    traced_count: ClassVar[bool] = False

    def estimate(self, op, key, num, cap, probes, batch):
        n = op.shape[0]
        s = min(num, n)
        integrand = stochtrace.leave_one_out_xnystrace(apply_resphering=self.resphering)
        mv = op.matvec if s >= n else batched_matvec(op, batch)
        Z = sample_probes(key, n, s, _dtype_of(op), probes)
        return _mean_sem(integrand(mv, Z))


class TraceMethod(enum.Enum):
    """String aliases of the estimators (`trace(..., method="xtrace")`)."""

    HUTCHINSON = "hutchinson"
    HUTCHPP = "hutch++"
    XTRACE = "xtrace"
    XNYSTRACE = "xnystrace"


_ALIASES = {
    TraceMethod.HUTCHINSON: Hutchinson(),
    TraceMethod.HUTCHPP: HutchPlusPlus(),
    TraceMethod.XTRACE: XTrace(),
    TraceMethod.XNYSTRACE: XNysTrace(),
}


def _as_estimator(method) -> AbstractTraceEstimator:
    if isinstance(method, AbstractTraceEstimator):
        return method
    return _ALIASES[as_enum("method", method, TraceMethod)]


@filter_jit
def _estimate_jit(estimator, op, key, num, cap, probes, batch):
    est, sem = estimator.estimate(op, key, num, cap, probes, batch)
    return est, sem, jnp.all(jnp.isfinite(est)) & jnp.all(~jnp.isnan(sem))


@filter_jit
def _stream_jit(op, key, num, probes, batch, what):
    est, sem = _hutchinson_stream(op, key, num, probes, batch, what)
    return est, sem, jnp.all(jnp.isfinite(est)) & jnp.all(~jnp.isnan(sem))


def _finish(est, sem, ok, what) -> Estimate:
    if is_concrete(ok) and not bool(ok):
        raise ValueError(
            "op: the operator returned non-finite values (NaN or inf) in its matrix-vector "
            f"products, so the {what} estimate cannot be computed (check the params and "
            "data behind it)"
        )
    return Estimate(est, sem)


def _prepare(op, key, probes, default):
    op = as_operator(op)
    check_key("key", key)
    probes = default if probes is None else as_enum("probes", probes, Probes)
    return op, probes


def trace(
    op: Any,
    *,
    num_probes: int,
    key: PRNGKeyArray,
    probes: Probes | str | None = None,
    method: AbstractTraceEstimator | TraceMethod | str = "hutchinson",
    batch_size: int | None = None,
) -> Estimate:
    r"""Estimate $\operatorname{tr} A$ with its standard error: `(estimate, stderr)`.

    `num_probes` is the budget of matrix-vector products. `method`: an estimator object
    (`Hutchinson()` (default), `HutchPlusPlus()`, `XTrace()`, `XNysTrace()`) or its
    alias `"hutchinson"`, `"hutch++"`, `"xtrace"`, `"xnystrace"`; see the module docstring
    for which wins where. `probes`: `"rademacher"` or `"gaussian"` (default: Rademacher for
    Hutchinson and Hutch++, Gaussian for XTrace and XNysTrace). `batch_size` bounds how
    many products run at once (default: memory-sized, `probe_batch_size`).

    Raises a ValueError naming `op` if the products are not finite.
    """
    estimator = _as_estimator(method)
    op, probes = _prepare(op, key, probes, estimator.default_probes)
    num = _check_probes("num_probes", num_probes, estimator.min_matvecs)
    cap = bucket(num)
    batch = check_batch_size(batch_size, op, _dtype_of(op), num)
    if estimator.traced_count:
        count = int_array(num)
    else:  # the number of probes sets matfree's shapes
        count = cap = num // estimator.matvecs_per_probe
    return _finish(*_estimate_jit(estimator, op, key, count, cap, probes, batch), "trace")


def frobenius_squared(
    op: Any,
    *,
    num_probes: int,
    key: PRNGKeyArray,
    probes: Probes | str = "rademacher",
    batch_size: int | None = None,
) -> Estimate:
    r"""Estimate $\lVert A\rVert_F^2 = \operatorname{tr}(A^2) = E\lVert Az\rVert^2$ with its
    standard error (streamed like `trace`; raises a ValueError naming `op` on non-finite
    products)."""
    op, probes = _prepare(op, key, probes, Probes.RADEMACHER)
    num = _check_probes("num_probes", num_probes, 2)
    batch = check_batch_size(batch_size, op, _dtype_of(op), num)
    out = _stream_jit(op, key, int_array(num), probes, batch, "frobenius")
    return _finish(*out, "Frobenius")


def diagonal(
    op: Any,
    *,
    num_probes: int,
    key: PRNGKeyArray,
    probes: Probes | str = "rademacher",
    batch_size: int | None = None,
) -> Estimate:
    r"""Estimate $\operatorname{diag} A = E[z \odot Az]$ (Bekas et al. 2007) with
    elementwise standard errors. With Rademacher probes the error of entry $i$ comes only
    from the off-diagonal row $\sum_{j\ne i} A_{ij}^2$. Streamed like `trace` (memory
    $O(n)$ for any `num_probes`); raises a ValueError naming `op` on non-finite products."""
    op, probes = _prepare(op, key, probes, Probes.RADEMACHER)
    num = _check_probes("num_probes", num_probes, 2)
    batch = check_batch_size(batch_size, op, _dtype_of(op), num)
    out = _stream_jit(op, key, int_array(num), probes, batch, "diagonal")
    return _finish(*out, "diagonal")


def matmat_rows(op: AbstractOperator, V: Float[Array, "k n"], batch: int) -> jax.Array:
    """Rows of `V` through `op` in batches of `batch` (one matmul for a dense operator)."""
    from ._operator import DenseOperator  # noqa: PLC0415

    if isinstance(op, DenseOperator):
        return V @ op.matrix.T
    return jax.lax.map(op.matvec, V, batch_size=min(batch, V.shape[0]))
