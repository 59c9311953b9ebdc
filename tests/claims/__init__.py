"""Tests of toymodels.claims."""
