"""Test helpers."""

import contextlib

import jax
import jaxtyping
import numpy as np


def tree_allclose(a, b, *, rtol=1e-12, atol=1e-12) -> bool:
    la, lb = jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)
    if jax.tree_util.tree_structure(a) != jax.tree_util.tree_structure(b):
        return False
    return all(
        np.allclose(np.asarray(x), np.asarray(y), rtol=rtol, atol=atol) for x, y in zip(la, lb)
    )


@contextlib.contextmanager
def own_checks():
    """Inside: the package's own argument checks only, without the annotation checks that
    the test run adds (`--jaxtyping-packages`, pyproject.toml). Users call the package
    unchecked, so a bad-input test must see the package's own message, not jaxtyping's
    TypeCheckError for a value of the wrong type (which would come first)."""
    before = jaxtyping.config.jaxtyping_disable
    jaxtyping.config.update("jaxtyping_disable", True)
    try:
        yield
    finally:
        jaxtyping.config.update("jaxtyping_disable", before)
