"""Data sets for the package's small real networks. Nothing is downloaded."""

from ._data import (
    Split as Split,
    digits as digits,
    digits_split as digits_split,
    gaussian_mixture as gaussian_mixture,
    one_hot as one_hot,
    teacher_regression as teacher_regression,
    train_test_split as train_test_split,
)
