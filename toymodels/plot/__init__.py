"""Plot helpers for the library's results: a metric along a path (`plot_path`), on a plane
with a projected trajectory (`plot_plane`), a trajectory in its PCA plane
(`plot_trajectory`), along a line against a fitted curve between two minima
(`plot_curve`), a sweep as a heat map or phase diagram (`plot_sweep`), and a spectral
density with a theory overlay (`plot_density`).

Each takes the result objects (or the arrays the evaluators return), draws on `ax=` (default
a new one-column figure, 3.4 in wide), gives every mark a legend entry, keeps every text at
8 pt or more, takes the setup as `title=`, and returns the Axes. matplotlib is imported
inside the functions, never when toymodels is imported.
"""

from ._common import COLUMN_WIDTH as COLUMN_WIDTH, MIN_FONT_SIZE as MIN_FONT_SIZE
from ._density import plot_density as plot_density
from ._path import plot_curve as plot_curve, plot_path as plot_path
from ._plane import plot_plane as plot_plane, plot_trajectory as plot_trajectory
from ._sweep import plot_sweep as plot_sweep
