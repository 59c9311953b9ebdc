"""toymodels: analytically tractable models of neural-network loss landscapes and training
dynamics, beside SymPy derivations and JAX simulations of real small networks.

Subpackages are namespaces: `toymodels.problems`, `toymodels.data`, `toymodels.claims`,
and (as they land) `linalg`, `landscape`, `dynamics`, `symmetry`, `models`, `sweep`, `rmt`.
Importing toymodels never enables float64 and never imports matplotlib or sympy.
"""

import importlib
import importlib.metadata

from . import claims as claims, data as data, problems as problems


try:
    __version__ = importlib.metadata.version("toymodels")
except importlib.metadata.PackageNotFoundError:  # pragma: no cover
    __version__ = "0+unknown"

_LAZY = ("linalg", "landscape", "dynamics", "symmetry", "models", "sweep", "rmt", "plot")


def __getattr__(name):
    if name in _LAZY:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'toymodels' has no attribute {name!r}")
