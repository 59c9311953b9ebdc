"""Tests of toymodels.models."""
