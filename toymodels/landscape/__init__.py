"""Landscape observables as functions of (problem, params, ...): curvature, paths, planes,
trajectories, curves between minima, random subspaces."""

# --- curvature (issue 3) ---
from ._hessian import (
    HessianOperator as HessianOperator,
    hessian as hessian,
    hessian_operator as hessian_operator,
    hvp as hvp,
)

# --- geometry (issue 5) ---
