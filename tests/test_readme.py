"""The README's code blocks run as written."""

import re
from pathlib import Path

import pytest


BLOCKS = re.findall(
    r"```python\n(.*?)```", (Path(__file__).parents[1] / "README.md").read_text(), re.S
)


# Blocks 1 and 2 are executed (and checked) by the tests below.
@pytest.mark.parametrize("index", [i for i in range(len(BLOCKS)) if i not in (1, 2)])
def test_readme_example_runs(index):
    namespace: dict = {}
    exec(compile(BLOCKS[index], f"README.md[block {index}]", "exec"), namespace)


@pytest.fixture(scope="module")
def equinox_block() -> dict:
    namespace: dict = {}
    exec(compile(BLOCKS[1], "README.md", "exec"), namespace)
    return namespace


def test_equinox_example_computes_a_gradient(equinox_block):
    namespace = equinox_block
    import jax
    import numpy as np

    leaves = jax.tree_util.tree_leaves(namespace["grads"])
    assert leaves and all(np.all(np.isfinite(leaf)) for leaf in leaves)
    # the model rebuilt from params reproduces the loss
    model, (x, y) = namespace["model"], (namespace["x"], namespace["y"])
    np.testing.assert_allclose(
        namespace["loss_fn"](model, (x, y)), namespace["problem"].loss(namespace["params"])
    )


def test_equinox_example_trains_with_minibatches(equinox_block):
    """The README's minibatch run through the engine: completes and lowers the loss."""
    namespace = equinox_block
    traj, problem = namespace["traj"], namespace["problem"]
    assert traj.stop_reason == "completed"
    assert float(traj.final_loss) < 0.1 * float(problem.loss(namespace["params"]))
    assert traj.loss.shape == (300,)


def test_engine_example_sweeps_and_flags_divergence():
    namespace: dict = {}
    exec(compile(BLOCKS[2], "README.md", "exec"), namespace)
    import numpy as np

    diverged = np.asarray(namespace["reasons"] == "diverged")
    assert diverged.shape == (4, 2)
    assert diverged[-1].all() and not diverged[:-1].any()
    losses = np.asarray(namespace["losses"])
    assert np.all(np.diff(losses[:-1, 0]) < 0)  # larger stable steps go further in 100 steps
