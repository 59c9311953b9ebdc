"""Shared jaxtyping aliases."""

from typing import Any, TypeAlias

from jaxtyping import Array, ArrayLike, Float, Int, PRNGKeyArray, PyTree


Params: TypeAlias = PyTree[Float[Array, "..."]]
Scalar: TypeAlias = Float[Array, ""]
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
    "Params",
    "PRNGKeyArray",
    "PyTree",
    "Scalar",
    "Vector",
]
