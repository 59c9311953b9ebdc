"""Tests of toymodels.landscape."""
