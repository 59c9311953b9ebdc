"""Training dynamics: gradient flow, critical points, discrete optimizers, SGD noise, and
linearized update operators with their non-normal measures."""

from ._critical import (
    CriticalMethod as CriticalMethod,
    CriticalPoint as CriticalPoint,
    classify as classify,
    find_critical_point as find_critical_point,
)
from ._flow import (
    FlowMethod as FlowMethod,
    FlowResult as FlowResult,
    NormBarrier as NormBarrier,
    StopReason as StopReason,
    gradient_flow as gradient_flow,
    log_times as log_times,
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
    Method as Method,
    OperatorMeasures as OperatorMeasures,
    adam_operator as adam_operator,
    adam_preconditioner as adam_preconditioner,
    dense_hessian as dense_hessian,
    eigenvector_condition as eigenvector_condition,
    ema_momentum_operator as ema_momentum_operator,
    gd_operator as gd_operator,
    heavy_ball_exceptional_points as heavy_ball_exceptional_points,
    heavy_ball_operator as heavy_ball_operator,
    kreiss_constant as kreiss_constant,
    nesterov_operator as nesterov_operator,
    operator_measures as operator_measures,
    pseudospectral_bound as pseudospectral_bound,
    pseudospectral_radius as pseudospectral_radius,
    spectral_radius as spectral_radius,
    stability_threshold as stability_threshold,
    transient_growth as transient_growth,
    update_operator as update_operator,
)
from ._train import (
    Optimizer as Optimizer,
    TrainResult as TrainResult,
    adam as adam,
    ema_momentum as ema_momentum,
    gd as gd,
    heavy_ball as heavy_ball,
    nesterov as nesterov,
    sharpness as sharpness,
    train as train,
)
