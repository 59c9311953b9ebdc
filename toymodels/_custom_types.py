"""Shared jaxtyping aliases."""

from collections.abc import Sequence
from typing import Any, TypeAlias

import numpy as np
from jaxtyping import Array, ArrayLike, Float, Int, PRNGKeyArray, PyTree


# Any pytree: floating-point leaves are the parameters; a user's own equinox model also has
# non-array leaves (activations, sizes), which every function leaves alone.
Params: TypeAlias = PyTree
Scalar: TypeAlias = Float[Array, ""]
# A real number given as a Python number or a 0-d array (a traced value included).
Real: TypeAlias = float | Float[Array, ""] | Float[np.ndarray, ""]
# Numbers a user writes as a list or tuple as often as an array.
Numbers: TypeAlias = ArrayLike | Sequence[Any]
Key: TypeAlias = PRNGKeyArray
Vector: TypeAlias = Float[Array, " n"]
Matrix: TypeAlias = Float[Array, "n m"]
Labels: TypeAlias = Int[Array, " samples"]
Inputs: TypeAlias = Float[ArrayLike, "samples features"]
Anything: TypeAlias = Any

__all__ = [
    "Anything",
    "Array",
    "ArrayLike",
    "Float",
    "Int",
    "Inputs",
    "Key",
    "Labels",
    "Matrix",
    "Numbers",
    "Params",
    "PRNGKeyArray",
    "PyTree",
    "Real",
    "Scalar",
    "Vector",
]
