"""Linear algebra on symmetric operators (dense arrays or matrix-free `matvec`s): Lanczos,
extremal eigenpairs, stochastic Lanczos quadrature, trace and diagonal estimators."""

from ._batching import probe_batch_size as probe_batch_size
from ._bounds import (
    WolkowiczStyan as WolkowiczStyan,
    restricted_positive_fraction as restricted_positive_fraction,
    trace_frobenius_ratio as trace_frobenius_ratio,
    wolkowicz_styan as wolkowicz_styan,
)
from ._lanczos import (
    LanczosResult as LanczosResult,
    StopOn as StopOn,
    Which as Which,
    eigsh as eigsh,
    lanczos as lanczos,
)
from ._matfree import Probes as Probes
from ._operator import (
    AbstractOperator as AbstractOperator,
    DenseOperator as DenseOperator,
    FunctionOperator as FunctionOperator,
    ObjectOperator as ObjectOperator,
    as_operator as as_operator,
    dense as dense,
)
from ._slq import (
    Kernel as Kernel,
    SpectralDensity as SpectralDensity,
    spectral_density as spectral_density,
)
from ._trace import (
    AbstractTraceEstimator as AbstractTraceEstimator,
    Estimate as Estimate,
    Hutchinson as Hutchinson,
    HutchPlusPlus as HutchPlusPlus,
    TraceMethod as TraceMethod,
    XNysTrace as XNysTrace,
    XTrace as XTrace,
    diagonal as diagonal,
    frobenius_squared as frobenius_squared,
    trace as trace,
)
