"""Random-feature Hessians: Fort & Ganguli's logit-gradient model (outliers, BBP, gradient
confinement, probability freezing), random-feature regression spectra, and the same
measurements on small trained networks (outlier gaps, gradient share, Goldilocks; train
them with `toymodels.dynamics.run(..., save=Save(every=k))`)."""

from ._features import (
    GaussianMoments as GaussianMoments,
    RandomFeatureRegression as RandomFeatureRegression,
    density_cdf as density_cdf,
    feature_hessian as feature_hessian,
    gaussian_moments as gaussian_moments,
    kolmogorov_distance as kolmogorov_distance,
    random_feature_density as random_feature_density,
    random_feature_regression as random_feature_regression,
    silverstein_density as silverstein_density,
)
from ._logit_model import (
    LogitGradientModel as LogitGradientModel,
    LogitGradientSample as LogitGradientSample,
    MeanStructure as MeanStructure,
    bulk_edge as bulk_edge,
    confinement_fraction as confinement_fraction,
    gap_count as gap_count,
    gauss_newton as gauss_newton,
    gauss_newton_eigenvalues as gauss_newton_eigenvalues,
    gauss_newton_factor as gauss_newton_factor,
    gauss_newton_trace_prediction as gauss_newton_trace_prediction,
    gradient as gradient,
    logit_bbp_outlier as logit_bbp_outlier,
    logit_bbp_threshold as logit_bbp_threshold,
    logit_gradient_model as logit_gradient_model,
    logit_hessian as logit_hessian,
    measured_confinement as measured_confinement,
    outlier_count as outlier_count,
    residual_radius as residual_radius,
    residual_term as residual_term,
    sample_confinement_prediction as sample_confinement_prediction,
    softmax_spread as softmax_spread,
)
from ._networks import (
    CurvatureTrack as CurvatureTrack,
    GoldilocksScan as GoldilocksScan,
    goldilocks_scan as goldilocks_scan,
    scaled as scaled,
    track_curvature as track_curvature,
)
