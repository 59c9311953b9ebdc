"""Tests of toymodels.symmetry."""
