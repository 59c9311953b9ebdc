"""Flat channels to infinity (Martinelli, van Meegen, Şimşek, Gerstner & Brea, NeurIPS 2025):
the channel coordinates of a neuron pair, the GLU limit, the two-erf-neuron toy in closed
form, the channel flow and its rate, the jump procedure and channel detection."""

from ._flow import (
    channel_flow as channel_flow,
    flow_diffrax as flow_diffrax,
    gradient_descent as gradient_descent,
    loglog_slope as loglog_slope,
    loss_and_grad as loss_and_grad,
    sharpness as sharpness,
)
from ._reparam import (
    ChannelCoords as ChannelCoords,
    detect_channel as detect_channel,
    from_channel as from_channel,
    jump as jump,
    to_channel as to_channel,
    weightnorm as weightnorm,
)
from ._special import erf_pair as erf_pair, owens_t as owens_t
from ._toy import (
    ErfToy as ErfToy,
    channel_params as channel_params,
    channel_rate as channel_rate,
    erf_toy as erf_toy,
    glu_critical_points as glu_critical_points,
    glu_loss_curve as glu_loss_curve,
    stable_channel_interval as stable_channel_interval,
)
