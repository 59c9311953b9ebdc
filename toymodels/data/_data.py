"""Data sets: Gaussian mixtures, teacher-generated regression, and scikit-learn's digits."""

import gzip
import importlib.util
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import Array, PRNGKeyArray

from .._custom_types import Params
from .._validation import as_enum, check_key, check_positive
from ..problems._activations import Activation
from ..problems._mlp import mlp_apply


class Split(eqx.Module):
    """A train/test split of `(x, labels)` arrays."""

    x_train: Array
    y_train: Array
    x_test: Array
    y_test: Array


def gaussian_mixture(
    *,
    key: PRNGKeyArray,
    num_samples: int,
    dim: int,
    num_classes: int,
    separation: float = 3.0,
    noise: float = 1.0,
    dtype=None,
) -> tuple[Array, Array]:
    r"""`num_samples` points of a `num_classes`-class Gaussian mixture in `dim` dimensions.

    Class means are `separation` times orthonormal directions (random orthonormal vectors when
    `classes <= dim`, random unit vectors otherwise), so every pair of means is
    `separation·√2` apart in the orthonormal case; each point is its mean plus
    $\mathcal N(0, \text{noise}^2 I)$. Classes are balanced (sizes differ by at most one) and
    shuffled. Returns `(x, labels)` with shapes `(n, dim)` and `(n,)`.
    """
    check_key("key", key)
    n, dim, classes = int(num_samples), int(dim), int(num_classes)
    if n <= 0:
        raise ValueError(f"num_samples: must be positive, got {n}")
    if dim <= 0:
        raise ValueError(f"dim: must be positive, got {dim}")
    if classes < 2:
        raise ValueError(f"num_classes: need at least 2 classes, got {classes}")
    check_positive("separation", separation, allow_zero=True)
    check_positive("noise", noise, allow_zero=True)
    dtype = jnp.result_type(float) if dtype is None else dtype
    k_means, k_noise, k_perm = jr.split(key, 3)
    g = jr.normal(k_means, (dim, classes), dtype)
    if classes <= dim:
        q, _ = jnp.linalg.qr(g)
        means = q.T
    else:
        means = (g / jnp.linalg.norm(g, axis=0)).T
    labels = jr.permutation(k_perm, jnp.arange(n) % classes)
    x = separation * means[labels] + noise * jr.normal(k_noise, (n, dim), dtype)
    return x, labels.astype(jnp.int32)


def teacher_regression(
    teacher: Params,
    *,
    key: PRNGKeyArray,
    num_samples: int,
    activation: Activation | str = "erf",
    noise: float = 0.0,
) -> tuple[Array, Array]:
    r"""Gaussian inputs $x\sim\mathcal N(0, I)$ labelled by an MLP `teacher` (params layout of
    `toymodels.problems.mlp_init`), plus optional label noise. Returns `(x, y)`; `y` is 1-D
    when the teacher has one output."""
    act = as_enum("activation", activation, Activation)
    check_positive("noise", noise, allow_zero=True)
    dim = teacher[0]["w"].shape[1]
    dtype = teacher[0]["w"].dtype
    check_key("key", key)
    kx, kn = jr.split(key)
    x = jr.normal(kx, (int(num_samples), dim), dtype)
    y = mlp_apply(teacher, x, activation=act)
    if y.shape[-1] == 1:
        y = y[:, 0]
    if noise:
        y = y + noise * jr.normal(kn, y.shape, dtype)
    return x, y


def _load_digits_numpy() -> tuple[np.ndarray, np.ndarray]:
    # scikit-learn's bundled file, read directly: importing scikit-learn (and with it
    # scipy.stats) costs seconds per process, the file a few milliseconds; the same array
    # as `sklearn.datasets.load_digits` (tests/data check it)
    spec = importlib.util.find_spec("sklearn")
    if spec is None or spec.origin is None:  # pragma: no cover
        raise ImportError(
            "digits: needs scikit-learn (bundled data, no download); "
            "install the `data` extra: pip install 'toymodels[data]'"
        )
    path = Path(spec.origin).parent / "datasets" / "data" / "digits.csv.gz"
    if not path.is_file():  # pragma: no cover - a scikit-learn that moved its data
        from sklearn.datasets import load_digits

        d = load_digits()
        return d.data.astype(np.float64), d.target.astype(np.int32)
    with gzip.open(path, "rt") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.float64)
    return table[:, :-1], table[:, -1].astype(np.int32)


def digits(*, standardize: bool = True, dtype=None) -> tuple[Array, Array]:
    """scikit-learn's bundled handwritten digits (1797 images of 8×8 pixels, 10 classes).

    Pixels (0–16) are divided by 16; with `standardize=True` (default) each pixel is then
    centred and scaled to unit variance over the whole set (constant pixels left at 0).
    Nothing is downloaded (needs scikit-learn: the `data` extra). Returns `(x, labels)` with
    shapes `(1797, 64)` and `(1797,)`.

    `standardize` decides whether the Hessian of a network trained on the pixels has
    outliers. Raw pixels lie in [0, 1] with mean ≈ 0.3: the mean input direction makes the
    first layer's curvature a large rank-(width) term, so the Hessian has about one isolated
    eigenvalue per first-layer hidden unit above the bulk (Ghorbani, Krishnan & Xiao 2019,
    §4: non-zero-mean features create outliers, normalisation removes them). Centring the
    pixels removes that term and the outliers with it (the top eigenvalues then shrink
    smoothly into the bulk, consecutive ratios ≈ 1.0–1.4). For spectra with outliers (bulk
    and outliers, `toymodels.rmt.outliers`) pass `standardize=False`; the default suits
    training (better conditioned). `tests/rmt/test_outliers.py` checks both: a 64-8-10 tanh
    MLP after 30 Adam steps has 8 outliers by the gap criterion on raw pixels, 0 when
    standardized.
    """
    x, y = _load_digits_numpy()
    x = x / 16.0
    if standardize:
        mu, sd = x.mean(0), x.std(0)
        x = (x - mu) / np.where(sd > 0, sd, 1.0)
    dtype = jnp.result_type(float) if dtype is None else dtype
    return jnp.asarray(x, dtype), jnp.asarray(y)


def train_test_split(
    x: Array, labels: Array, *, key: PRNGKeyArray, test_fraction: float = 0.25
) -> Split:
    """A random split of `(x, labels)`; `test_fraction` of the points go to the test set."""
    check_key("key", key)
    if not 0.0 < float(test_fraction) < 1.0:
        raise ValueError(f"test_fraction: must be in (0, 1), got {test_fraction}")
    n = x.shape[0]
    if labels.shape[0] != n:
        raise ValueError(f"labels: has {labels.shape[0]} samples but x has {n}")
    n_test = max(1, int(round(float(test_fraction) * n)))
    perm = jr.permutation(key, n)
    te, tr = perm[:n_test], perm[n_test:]
    return Split(x[tr], labels[tr], x[te], labels[te])


def digits_split(
    *, key: PRNGKeyArray, test_fraction: float = 0.25, standardize: bool = True, dtype=None
) -> Split:
    """`digits()` split into train and test sets with `key`. Standardization statistics are
    those of the whole set (a fixed, label-free preprocessing)."""
    x, y = digits(standardize=standardize, dtype=dtype)
    return train_test_split(x, y, key=key, test_fraction=test_fraction)


def one_hot(labels: Array, *, num_classes: int, dtype=None) -> Array:
    dtype = jnp.result_type(float) if dtype is None else dtype
    return jax.nn.one_hot(labels, num_classes, dtype=dtype)
