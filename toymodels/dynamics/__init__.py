"""Everything that moves params: the engine `run` (lax.scan; optimizers as objects, any optax
transformation; `Save` and `Stop`), `minimize` and `find_critical_point` (optimistix solvers),
`gradient_flow` (diffrax solvers); SGD noise; non-normal measures of update operators; fixed
and slow points of maps and flows (`fixed_points`) and their continuation in a parameter with
fold detection (`continue_branch`)."""

from ._continuation import (
    Branch as Branch,
    continue_branch as continue_branch,
)
from ._critical import (
    CriticalPoint as CriticalPoint,
    Minimum as Minimum,
    classify as classify,
    find_critical_point as find_critical_point,
    minimize as minimize,
    newton as newton,
)
from ._fixed_points import (
    FixedPoints as FixedPoints,
    fixed_points as fixed_points,
)
from ._flow import (
    FlowResult as FlowResult,
    NormBarrier as NormBarrier,
    gradient_flow as gradient_flow,
    log_times as log_times,
    stiff_solver as stiff_solver,
)
from ._noise import (
    fisher_information as fisher_information,
    gradient_noise_covariance as gradient_noise_covariance,
    gradient_second_moment as gradient_second_moment,
    per_sample_gradients as per_sample_gradients,
    sgd_decrease_threshold as sgd_decrease_threshold,
    sgd_expected_loss_change as sgd_expected_loss_change,
)
from ._operators import (
    OperatorMeasures as OperatorMeasures,
    eigenvector_condition as eigenvector_condition,
    kreiss_constant as kreiss_constant,
    operator_measures as operator_measures,
    pseudospectral_bound as pseudospectral_bound,
    pseudospectral_radius as pseudospectral_radius,
    spectral_radius as spectral_radius,
    transient_growth as transient_growth,
)
from ._optimizers import (
    GD as GD,
    AbstractOptimizer as AbstractOptimizer,
    Adam as Adam,
    EMAMomentum as EMAMomentum,
    HeavyBall as HeavyBall,
    Nesterov as Nesterov,
)
from ._run import (
    Save as Save,
    Stop as Stop,
    StopCode as StopCode,
    StopReason as StopReason,
    Trajectory as Trajectory,
    minibatch_indices as minibatch_indices,
    optax_init as optax_init,
    optax_update as optax_update,
    run as run,
)
from ._train import (
    SharpnessTrajectory as SharpnessTrajectory,
    sharpness as sharpness,
    train as train,
)
