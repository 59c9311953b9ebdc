"""The load–temperature sweep of Yang et al. (2021) at CPU scale: one-hidden-layer tanh MLPs
whose width is a traced 0/1 mask (`MaskedMLP`, so that widths vary under `jax.vmap`) and
minibatch SGD with momentum and weight decay whose batch size is traced too (micro-batches
of a fixed size drawn by `toymodels.dynamics.run`, their gradients accumulated by
`accumulate_gradients`)."""

from ._masked import MaskedMLP as MaskedMLP, masked_mlp as masked_mlp
from ._training import (
    AccumulationState as AccumulationState,
    GradientAccumulation as GradientAccumulation,
    MicroBatches as MicroBatches,
    accumulate_gradients as accumulate_gradients,
    train_sgd as train_sgd,
)
