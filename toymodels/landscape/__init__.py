"""Landscape observables as functions of (problem, params, ...): curvature, paths, planes,
trajectories, curves between minima, random subspaces."""

# --- curvature (issue 3) ---

# --- geometry (issue 5) ---
