"""optax steps for the training loops of the geometry tools (curves, subspaces)."""

import jax
import optax


def opt_init(optimizer: optax.GradientTransformation, params):
    with jax.numpy_dtype_promotion("standard"):
        return optimizer.init(params)


def opt_step(optimizer: optax.GradientTransformation, grads, state, params):
    """One optimizer step; optax mixes int step counts with float hyperparameters, so the
    update is traced under standard dtype promotion (the caller's strict setting would reject
    it). Returns `(new_params, new_state)`."""
    with jax.numpy_dtype_promotion("standard"):
        updates, state = optimizer.update(grads, state, params)
        return optax.apply_updates(params, updates), state
