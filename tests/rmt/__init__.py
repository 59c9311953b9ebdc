"""Tests of toymodels.rmt."""
