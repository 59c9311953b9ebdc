"""Claims pair a prediction with a measurement; the report lists them all."""

from ._claims import (
    Claim as Claim,
    Comparison as Comparison,
    FigureRecord as FigureRecord,
    assert_claims as assert_claims,
    format_value as format_value,
    write_report as write_report,
)
