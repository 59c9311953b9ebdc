"""The landscape tools' default optimizer for their problem transforms (trained by
`toymodels.dynamics.run`, which hands optax's extra arguments — `value`, `grad`, `value_fn` —
to transformations that take them, such as `optax.lbfgs`)."""

from ..dynamics import AbstractOptimizer, Adam


def default_optimizer() -> AbstractOptimizer:
    """Adam with learning rate 1e-2 (optax's default moments), the landscape tools' default."""
    return Adam(learning_rate=1e-2)
