r"""Two-layer teacher–student networks on Gaussian inputs.

Both the teacher and the student are $f(x) = \sum_i a_i\, g(w_i\cdot x)$ without biases, in
the MLP params layout `({"w": (k, d)}, {"w": (1, k)})`. With $x\sim\mathcal N(0, I_d)$ the
population loss $\tfrac12\mathbb E[(f_s(x) - f_t(x))^2]$ is a quadratic form in the kernel
$K(u, v) = \mathbb E[g(u\cdot x)\,g(v\cdot x)]$, which is closed-form for

- `Activation.ERF` ($g(z) = \mathrm{erf}(z/\sqrt2)$, Saad & Solla):
  $K = \frac{2}{\pi}\arcsin\frac{C_{12}}{\sqrt{(1+C_{11})(1+C_{22})}}$;
- `Activation.RELU` (Cho & Saul's arc-cosine kernel of degree 1):
  $K = \frac{\sqrt{C_{11}C_{22}}}{2\pi}\,(\sin\theta + (\pi-\theta)\cos\theta)$,
  $\cos\theta = C_{12}/\sqrt{C_{11}C_{22}}$,

with $C_{11} = \lVert u\rVert^2$, $C_{22} = \lVert v\rVert^2$, $C_{12} = u\cdot v$.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, PRNGKeyArray

from .._custom_types import Params, Scalar
from .._validation import as_enum, check_finite, check_key, check_positive
from ._activations import Activation
from ._base import AbstractProblem
from ._mlp import MLPProblem, mlp_apply, mlp_init, mlp_regression


@jax.custom_jvp
def _arccos_j1(c):
    """J1(c) = sqrt(1 - c²) + (π - arccos c) c, with the stable derivative π - arccos c."""
    c = jnp.clip(c, -1.0, 1.0)
    return jnp.sqrt(jnp.maximum(1.0 - c**2, 0.0)) + (jnp.pi - jnp.arccos(c)) * c


@_arccos_j1.defjvp
def _arccos_j1_jvp(primals, tangents):
    (c,), (dc,) = primals, tangents
    cc = jnp.clip(c, -1.0, 1.0)
    return _arccos_j1(c), (jnp.pi - jnp.arccos(cc)) * dc


def _safe_sqrt(x):
    # sqrt with a finite (zero) derivative at 0.
    pos = x > 0
    return jnp.where(pos, jnp.sqrt(jnp.where(pos, x, 1.0)), 0.0)


def gaussian_kernel(activation: Activation | str, u: Array, v: Array) -> Array:
    r"""$K_{ij} = \mathbb E_{x\sim\mathcal N(0,I)}[g(u_i\cdot x)\,g(v_j\cdot x)]$ for rows of
    `u` `(k, d)` and `v` `(m, d)`; closed form for `ERF` and `RELU`."""
    act = as_enum("activation", activation, Activation)
    c11 = jnp.sum(u**2, axis=1)[:, None]
    c22 = jnp.sum(v**2, axis=1)[None, :]
    c12 = u @ v.T
    if act is Activation.ERF:
        return (2.0 / jnp.pi) * jnp.arcsin(c12 / jnp.sqrt((1.0 + c11) * (1.0 + c22)))
    if act is Activation.RELU:
        norm = _safe_sqrt(c11 * c22)
        cos = c12 / jnp.where(norm > 0, norm, 1.0)
        return jnp.where(norm > 0, norm * _arccos_j1(cos) / (2.0 * jnp.pi), 0.0)
    raise ValueError(
        f"activation: the Gaussian-input kernel is closed-form for 'erf' and 'relu' only, got {act.value!r}"
    )


def two_layer_init(
    *, key: PRNGKeyArray, dim: int, width: int, scale: float = 1.0, dtype=None
) -> Params:
    """A bias-free two-layer scalar-output network `({"w": (width, dim)}, {"w": (1, width)})`."""
    return mlp_init(key=key, sizes=(dim, width, 1), bias=False, scale=scale, dtype=dtype)


class TeacherStudentPopulation(AbstractProblem):
    r"""Population (infinite-data) loss $\tfrac12\mathbb E_x[(f_s(x)-f_t(x))^2]$ for Gaussian
    inputs, in closed form. A problem whose params are the student's two-layer params."""

    teacher: Params
    width: int = eqx.field(static=True)
    activation: Activation = eqx.field(static=True)
    init_scale: float = eqx.field(static=True)

    @property
    def dim(self) -> int:
        return self.teacher[0]["w"].shape[1]

    def loss(self, params: Params) -> Scalar:
        w, a = params[0]["w"], params[1]["w"][0]
        v, b = self.teacher[0]["w"], self.teacher[1]["w"][0]
        kss = gaussian_kernel(self.activation, w, w)
        kst = gaussian_kernel(self.activation, w, v)
        ktt = gaussian_kernel(self.activation, v, v)
        return 0.5 * (a @ kss @ a - 2.0 * a @ kst @ b + b @ ktt @ b)

    def init(self, key: PRNGKeyArray) -> Params:
        check_key("key", key)
        return two_layer_init(
            key=key,
            dim=self.dim,
            width=self.width,
            scale=self.init_scale,
            dtype=self.teacher[0]["w"].dtype,
        )

    def predict(self, params: Params, x: Array) -> Array:
        return mlp_apply(params, x, activation=self.activation, scalar_output=True)


def _check_teacher(teacher) -> None:
    try:
        w, a = teacher[0]["w"], teacher[1]["w"]
    except (TypeError, KeyError, IndexError):
        raise ValueError(
            'teacher: expected two-layer params ({"w": (k, d)}, {"w": (1, k)}), '
            "e.g. from two_layer_init"
        ) from None
    if len(teacher) != 2 or w.ndim != 2 or a.shape != (1, w.shape[0]):
        raise ValueError(f"teacher: expected shapes (k, d) and (1, k), got {w.shape} and {a.shape}")
    check_finite("teacher", teacher)


def teacher_student_population(
    teacher: Params, *, width: int, activation: Activation | str = "erf", init_scale: float = 1.0
) -> TeacherStudentPopulation:
    """Closed-form population loss of a width-`width` student against `teacher`."""
    _check_teacher(teacher)
    act = as_enum("activation", activation, Activation)
    if act not in (Activation.ERF, Activation.RELU):
        raise ValueError(
            f"activation: closed-form population loss needs 'erf' or 'relu', got {act.value!r}"
        )
    if int(width) <= 0:
        raise ValueError(f"width: must be positive, got {width}")
    check_positive("init_scale", init_scale)
    return TeacherStudentPopulation(
        teacher=teacher, width=int(width), activation=act, init_scale=float(init_scale)
    )


def teacher_student_finite(
    teacher: Params,
    *,
    key: PRNGKeyArray,
    width: int,
    num_samples: int,
    activation: Activation | str = "erf",
    init_scale: float = 1.0,
) -> MLPProblem:
    r"""Finite-sample teacher–student regression: `num_samples` Gaussian inputs labelled by
    the teacher, fitted by a bias-free width-`width` student under $\frac1{2N}\sum(f-y)^2$.
    Its params have the layout of `teacher_student_population`'s."""
    _check_teacher(teacher)
    check_key("key", key)
    act = as_enum("activation", activation, Activation)
    dim = teacher[0]["w"].shape[1]
    x = jr.normal(key, (int(num_samples), dim), teacher[0]["w"].dtype)
    y = mlp_apply(teacher, x, activation=act, scalar_output=True)
    return mlp_regression(
        x, y, hidden=(int(width),), activation=act, bias=False, half=True, init_scale=init_scale
    )
