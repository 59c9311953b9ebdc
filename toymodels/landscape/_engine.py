"""How the landscape tools hand their problem transforms to the engine `toymodels.dynamics.run`.

`run` calls `tx.update(grads, state, params)` without optax's extra arguments, so an optax
transformation that needs the objective itself (`optax.lbfgs`'s zoom line search wants `value`,
`grad` and `value_fn`) gets them from `with_value_fn`, a wrapper that closes over the
transformed problem's loss. For transformations that ignore the extra arguments the value is
dead code, removed by XLA (no extra loss evaluation).
"""

from collections.abc import Callable

import optax

from ..dynamics import AbstractOptimizer, Adam


def default_optimizer() -> AbstractOptimizer:
    """Adam with learning rate 1e-2 (optax's default moments), the landscape tools' default."""
    return Adam(learning_rate=1e-2)


def with_value_fn(optimizer, loss_fn: Callable):
    """`optimizer` as `run` should see it: toymodels optimizers and plain optax transformations
    as they are; an `optax.GradientTransformationExtraArgs` wrapped so that every update gets
    `value=loss_fn(params)`, `grad=grads` and `value_fn=loss_fn`."""
    if isinstance(optimizer, AbstractOptimizer) or not isinstance(
        optimizer, optax.GradientTransformationExtraArgs
    ):
        return optimizer

    def update(updates, state, params=None, **extra_args):
        if "value_fn" in extra_args:
            return optimizer.update(updates, state, params, **extra_args)
        return optimizer.update(
            updates, state, params, value=loss_fn(params), grad=updates, value_fn=loss_fn
        )

    return optax.GradientTransformationExtraArgs(optimizer.init, update)
