"""optax steps for the training loops of the geometry tools (curves, subspaces)."""

import jax
import optax


def opt_init(optimizer: optax.GradientTransformation, params):
    with jax.numpy_dtype_promotion("standard"):
        return optimizer.init(params)


def opt_step(
    optimizer: optax.GradientTransformation, grads, state, params, *, value=None, value_fn=None
):
    """One optimizer step; optax mixes int step counts with float hyperparameters, so the
    update is traced under standard dtype promotion (the caller's strict setting would reject
    it). With `value` and `value_fn` given, optimizers with extra arguments (`optax.lbfgs`'s
    line search) receive them. Returns `(new_params, new_state)`."""
    with jax.numpy_dtype_promotion("standard"):
        if value_fn is not None and isinstance(optimizer, optax.GradientTransformationExtraArgs):
            updates, state = optimizer.update(
                grads, state, params, value=value, grad=grads, value_fn=value_fn
            )
        else:
            updates, state = optimizer.update(grads, state, params)
        return optax.apply_updates(params, updates), state
