"""Flat channels to infinity (Martinelli, van Meegen, Şimşek, Gerstner & Brea, NeurIPS 2025):
the channel coordinates of a neuron pair, the GLU limit, the two-erf-neuron toy in closed
form, the channel flow (the Rosenbrock solver `ROS2` through
`toymodels.dynamics.gradient_flow`) and its rate, the jump procedure and channel
detection."""

from ._flow import (
    ROS2 as ROS2,
    channel_flow as channel_flow,
    log_step_grid as log_step_grid,
    loglog_slope as loglog_slope,
)
from ._reparam import (
    ChannelCoords as ChannelCoords,
    ChannelDetection as ChannelDetection,
    detect_channel as detect_channel,
    from_channel as from_channel,
    jump as jump,
    to_channel as to_channel,
    weightnorm as weightnorm,
)
from ._special import erf_pair as erf_pair, owens_t as owens_t
from ._toy import (
    ChannelRate as ChannelRate,
    ErfToy as ErfToy,
    GLUCriticalPoints as GLUCriticalPoints,
    GLUCurve as GLUCurve,
    GLUFit as GLUFit,
    channel_params as channel_params,
    channel_rate as channel_rate,
    erf_toy as erf_toy,
    glu_critical_points as glu_critical_points,
    glu_loss_curve as glu_loss_curve,
    stable_channel_interval as stable_channel_interval,
)
