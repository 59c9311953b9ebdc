"""Claims pair a prediction with a measurement; the report lists them all.

Three kinds (`Kind`): quantitative (`Claim.quantitative`: a prediction function evaluated at
three or more parameter values against an independent simulation), qualitative
(`Claim.qualitative`: a direction or bound that could fail) and discrepancy
(`Claim.discrepancy`: a paper's statement we do not reproduce, never a pass).
`audit_claims` is the guard over these rules."""

from ._claims import (
    MAX_TOLERANCE_RATIO as MAX_TOLERANCE_RATIO,
    MIN_PARAMETER_VALUES as MIN_PARAMETER_VALUES,
    Claim as Claim,
    Comparison as Comparison,
    FigureRecord as FigureRecord,
    Kind as Kind,
    assert_claims as assert_claims,
    audit_claim as audit_claim,
    audit_claims as audit_claims,
    citation_problem as citation_problem,
    format_params as format_params,
    format_value as format_value,
    paper_key as paper_key,
    read_records as read_records,
    summarize as summarize,
    write_report as write_report,
)
