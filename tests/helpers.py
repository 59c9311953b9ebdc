"""Test helpers."""

import contextlib

import jax
import jax.monitoring
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


@contextlib.contextmanager
def count_compilations():
    """Counts traced functions and XLA compilations (jax.monitoring events)."""
    counts = {"traced": 0, "compiled": 0}

    def listener(name, duration, **kwargs):
        if name.endswith("jaxpr_trace_duration"):
            counts["traced"] += 1
        elif name.endswith("backend_compile_duration"):
            counts["compiled"] += 1

    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        yield counts
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)
