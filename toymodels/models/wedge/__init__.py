"""The wedge landscape of Fort & Jastrzebski (2019): hinge and smooth scale-invariant wedges
under a hard or soft minimum, with its predictions P1–P6 (width ∝ radius, curvature ∝ r⁻²,
weight-decay equilibrium, random-subspace success at d = n, common intersections iff
D > Σ nᵢ, ensembling)."""

from ._wedge import (
    Combine as Combine,
    EnsembleLosses as EnsembleLosses,
    NoiseState as NoiseState,
    ScaleInvariantNoise as ScaleInvariantNoise,
    Simplex as Simplex,
    WedgeKind as WedgeKind,
    WedgeLandscape as WedgeLandscape,
    WeightDecayTrajectory as WeightDecayTrajectory,
    common_point as common_point,
    connect_through_intersection as connect_through_intersection,
    curvature_scaling as curvature_scaling,
    ensemble_loss_ratio as ensemble_loss_ratio,
    ensemble_losses as ensemble_losses,
    equilibrium_norm as equilibrium_norm,
    escape_distance as escape_distance,
    has_common_intersection as has_common_intersection,
    intersection_residual as intersection_residual,
    log_slope as log_slope,
    measured_escape_distance as measured_escape_distance,
    scale_invariant_noise as scale_invariant_noise,
    subspace_losses as subspace_losses,
    subspace_threshold as subspace_threshold,
    success_rate as success_rate,
    wedge_landscape as wedge_landscape,
    weight_decay_sgd as weight_decay_sgd,
)
