"""Tests of toymodels.sweep."""
