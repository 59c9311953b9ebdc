"""Linear algebra on symmetric operators (dense arrays or matrix-free `matvec`s): Lanczos,
extremal eigenpairs, stochastic Lanczos quadrature, trace and diagonal estimators."""

from ._lanczos import (
    LanczosResult as LanczosResult,
    Which as Which,
    eigsh as eigsh,
    lanczos as lanczos,
)
from ._operator import (
    AbstractOperator as AbstractOperator,
    DenseOperator as DenseOperator,
    FunctionOperator as FunctionOperator,
    ObjectOperator as ObjectOperator,
    as_operator as as_operator,
    dense as dense,
)
