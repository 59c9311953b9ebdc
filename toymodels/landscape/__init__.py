"""Landscape observables as functions of (problem, params, ...): curvature, paths, planes,
trajectories, curves between minima, random subspaces."""

# --- curvature (issue 3; over data batches: issue 15) ---
from ._batched import (
    BatchedOperator as BatchedOperator,
    batched_hvp as batched_hvp,
    batched_operator as batched_operator,
)
from ._curvature import (
    GaussNewtonOperator as GaussNewtonOperator,
    ResidualOperator as ResidualOperator,
    gauss_newton_operator as gauss_newton_operator,
    gradient_fraction_in_top_subspace as gradient_fraction_in_top_subspace,
    keskar_sharpness as keskar_sharpness,
    residual_operator as residual_operator,
)

# --- geometry (issue 5) ---
from ._curves import (
    AbstractCurve as AbstractCurve,
    Bezier as Bezier,
    CurvatureAlong as CurvatureAlong,
    CurveFit as CurveFit,
    CurveProblem as CurveProblem,
    Line as Line,
    PolyChain as PolyChain,
    barrier_height as barrier_height,
    curvature_along as curvature_along,
    curve_mode_connectivity as curve_mode_connectivity,
    curve_values as curve_values,
    fit_curve as fit_curve,
    mode_connectivity as mode_connectivity,
)
from ._directions import (
    Biases as Biases,
    Normalization as Normalization,
    normalize_direction as normalize_direction,
    random_direction as random_direction,
)
from ._hessian import (
    HessianOperator as HessianOperator,
    curvature_gradient as curvature_gradient,
    hessian as hessian,
    hessian_operator as hessian_operator,
    hvp as hvp,
)
from ._paths import (
    Plane as Plane,
    along_direction as along_direction,
    auto_chunk_size as auto_chunk_size,
    evaluate_points as evaluate_points,
    interpolate as interpolate,
    plane_through as plane_through,
    plane_values as plane_values,
    random_plane as random_plane,
)
from ._similarity import linear_cka as linear_cka, model_cka as model_cka
from ._subspace import (
    GroupSumProblem as GroupSumProblem,
    IntrinsicDimension as IntrinsicDimension,
    SeedStatistic as SeedStatistic,
    SubspaceProblem as SubspaceProblem,
    SubspaceResult as SubspaceResult,
    group_sum_problem as group_sum_problem,
    intrinsic_dimension as intrinsic_dimension,
    random_subspace as random_subspace,
    subspace_train as subspace_train,
)
from ._trajectory import (
    Center as Center,
    ChordTest as ChordTest,
    DistanceLoss as DistanceLoss,
    TrajectoryPCA as TrajectoryPCA,
    checkpoint as checkpoint,
    chord_test as chord_test,
    distance_travelled as distance_travelled,
    trajectory_pca as trajectory_pca,
    trajectory_values as trajectory_values,
)
