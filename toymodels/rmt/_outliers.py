r"""Outlier eigenvalues above a bulk: by the edge of a random-matrix law where one applies,
otherwise by a gap criterion.

Sort the eigenvalues in decreasing order, $\lambda_1 \ge \lambda_2 \ge \dots$, and measure
them from the bulk's centre $c$ (0 for Hessian spectra, whose bulk sits at zero, Sagun et al.
2017; the median or the law's mean for a covariance spectrum).

- **Edge** (`edge` given): the outliers are the eigenvalues above `edge + margin`, e.g. the
  Marchenko–Pastur edge $\sigma^2(1+\sqrt\gamma)^2$ (`marchenko_pastur_edges`) for a sample
  covariance, or $2\sigma$ for a Wigner matrix. At finite size the top bulk eigenvalue
  fluctuates above the edge on the Tracy–Widom scale, $O(\sigma^2 n^{-2/3})$ for MP: a
  `margin` of a few such units keeps it in the bulk.
- **Gap** (no `edge`): $\lambda_1..\lambda_k$ are outliers when the gap below them is large
  against the distance of the bulk's top from the centre,

  $$r_k = \frac{\lambda_k - \lambda_{k+1}}{\lambda_{k+1} - c} \ge \texttt{min\_gap},$$

  and $k$ is the largest such index (outliers spread over a decade, 100, 50, 20, 5 above a
  bulk in $[0, 2]$, are all found). Inside a bulk the spacings are small against the
  bulk's width ($r_k \approx$ spacing/width), at an isolated outlier $r_k = O(1)$. Only
  $k$ with $\lambda_{k+1} - c \ge$ `min_edge` $\cdot(\lambda_1 - c)$ are candidates, since
  the ratio means nothing for eigenvalues at the centre (a Hessian's near-zero atom). The
  criterion is a scale-free heuristic with two knobs; where a law applies, use its edge.
"""

import equinox as eqx
import numpy as np
from jaxtyping import ArrayLike, Float


class Outliers(eqx.Module):
    """Outlier eigenvalues above a bulk edge.

    Fields: `values` (the outliers, decreasing), `count`, `edge` (the bulk edge used: the
    given law edge (plus margin), or the top bulk eigenvalue for the gap criterion),
    `bulk_top` (the largest eigenvalue not counted as an outlier; `nan` if none),
    `relative_gap` ($r$ at the split, see the module docstring; `nan` without outliers or
    bulk)."""

    values: Float[np.ndarray, " k"]
    count: int
    edge: float
    bulk_top: float
    relative_gap: float


def _eigenvalues(eigenvalues) -> np.ndarray:
    e = np.asarray(eigenvalues, dtype=np.float64)
    if e.ndim != 1 or e.size < 2:
        raise ValueError(
            f"eigenvalues: expected a 1-D array of at least 2 values, got shape {e.shape}"
        )
    if not np.all(np.isfinite(e)):
        bad = int(e.size - np.count_nonzero(np.isfinite(e)))
        raise ValueError(f"eigenvalues: contains {bad} non-finite value(s) (NaN or inf)")
    return np.sort(e)[::-1]


def _finite(name, v, *, positive=False, allow_zero=True):
    v = float(v)
    if not np.isfinite(v) or (positive and (v < 0 if allow_zero else v <= 0)):
        rel = "" if not positive else (" and >= 0" if allow_zero else " and > 0")
        raise ValueError(f"{name}: must be finite{rel}, got {v!r}")
    return v


def outliers(
    eigenvalues: Float[ArrayLike, " n"],
    *,
    edge: float | None = None,
    margin: float = 0.0,
    center: float = 0.0,
    min_gap: float = 1.0,
    min_edge: float = 1e-2,
    max_outliers: int | None = None,
) -> Outliers:
    r"""The eigenvalues above a bulk edge (see the module docstring for the two criteria).

    Args:
        eigenvalues: a full spectrum (`numpy.linalg.eigvalsh`) or its top part
            (`toymodels.linalg.eigsh`), any order.
        edge: keyword-only. The bulk edge of a random-matrix law (e.g.
            `marchenko_pastur_edges(gamma, sigma2=s)[1]`); `None` (default): the gap
            criterion.
        margin: keyword-only. Added to `edge` (finite-size fluctuations of the top bulk
            eigenvalue); default 0.
        center: keyword-only. The bulk's centre $c$ for the gap criterion (default 0, a
            Hessian's bulk; pass the median or the law's mean for a covariance spectrum).
        min_gap: keyword-only. The smallest relative gap $r_k$ that separates outliers
            (default 1: the gap at least the bulk top's distance from the centre).
        min_edge: keyword-only. Candidate bulk tops must lie at least this fraction of
            $\lambda_1 - c$ above the centre (default 0.01).
        max_outliers: keyword-only. At most this many outliers for the gap criterion
            (default: all candidates).

    Returns:
        An `Outliers` with `values`, `count`, `edge`, `bulk_top`, `relative_gap`.
    """
    e = _eigenvalues(eigenvalues)
    margin = _finite("margin", margin, positive=True)
    center = _finite("center", center)
    if edge is not None:
        cut = _finite("edge", edge) + margin
        k = int(np.count_nonzero(e > cut))
    else:
        min_gap = _finite("min_gap", min_gap, positive=True, allow_zero=False)
        min_edge = _finite("min_edge", min_edge, positive=True)
        kmax = e.size - 1
        if max_outliers is not None:
            if isinstance(max_outliers, bool) or int(max_outliers) < 1:
                raise ValueError(f"max_outliers: must be an int >= 1, got {max_outliers!r}")
            kmax = min(kmax, int(max_outliers))
        top = e[0] - center
        below = e[1 : kmax + 1] - center  # lambda_{k+1} - c for k = 1..kmax
        gaps = e[:kmax] - e[1 : kmax + 1]
        ok = (below > 0) & (below >= min_edge * top)
        r = np.where(ok, gaps / np.where(ok, below, 1.0), 0.0)
        hits = np.flatnonzero(r >= min_gap)
        k = int(hits[-1]) + 1 if hits.size else 0
        cut = float(e[k])
    bulk_top = float(e[k]) if k < e.size else float("nan")  # k == n: all above the edge
    rel = float("nan")
    if 0 < k < e.size and e[k] - center > 0:
        rel = float((e[k - 1] - e[k]) / (e[k] - center))
    return Outliers(e[:k].copy(), k, float(cut), bulk_top, rel)
