"""Soudry & Carmon (2016): no bad differentiable local minima in mildly over-parametrised
one-hidden-layer leaky-ReLU networks with dropout-like noise."""

from ._model import (
    SoudryCarmon as SoudryCarmon,
    SoudryCarmonFit as SoudryCarmonFit,
    fit as fit,
    from_data as from_data,
    khatri_rao_rank as khatri_rao_rank,
    predicted_rank as predicted_rank,
    soudry_carmon as soudry_carmon,
)
