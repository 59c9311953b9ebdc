"""Random-matrix laws (NumPy, float64) for overlays and tests: Marchenko–Pastur, the Wigner
semicircle, BBP and additive-spike outliers, the Goldilocks positivity prediction; counting
the outliers of a spectrum above a bulk edge."""

from ._laws import (
    additive_spike_outlier as additive_spike_outlier,
    additive_spike_threshold as additive_spike_threshold,
    bbp_outlier as bbp_outlier,
    bbp_threshold as bbp_threshold,
    goldilocks_positive_fraction as goldilocks_positive_fraction,
    marchenko_pastur_density as marchenko_pastur_density,
    marchenko_pastur_edges as marchenko_pastur_edges,
    marchenko_pastur_quantile as marchenko_pastur_quantile,
    semicircle_cdf as semicircle_cdf,
    semicircle_density as semicircle_density,
    wigner_spike_outlier as wigner_spike_outlier,
)
from ._outliers import Outliers as Outliers, outliers as outliers
