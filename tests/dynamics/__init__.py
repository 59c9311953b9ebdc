"""Tests of toymodels.dynamics."""
