"""Plot helpers (matplotlib is imported inside the functions, never at package import)."""

from ._density import plot_density as plot_density
