"""Tests of toymodels.linalg."""
