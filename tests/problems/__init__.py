"""Tests of toymodels.problems."""
