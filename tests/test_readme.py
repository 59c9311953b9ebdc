"""The README's code blocks run as written."""

import re
from pathlib import Path

import pytest


BLOCKS = re.findall(
    r"```python\n(.*?)```", (Path(__file__).parents[1] / "README.md").read_text(), re.S
)


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_example_runs(index):
    namespace: dict = {}
    exec(compile(BLOCKS[index], f"README.md[block {index}]", "exec"), namespace)


def test_equinox_example_computes_a_gradient():
    namespace: dict = {}
    exec(compile(BLOCKS[1], "README.md", "exec"), namespace)
    import jax
    import numpy as np

    leaves = jax.tree_util.tree_leaves(namespace["grads"])
    assert leaves and all(np.all(np.isfinite(leaf)) for leaf in leaves)
    # the model rebuilt from params reproduces the loss
    model, (x, y) = namespace["model"], (namespace["x"], namespace["y"])
    np.testing.assert_allclose(
        namespace["loss_fn"](model, (x, y)), namespace["problem"].loss(namespace["params"])
    )
