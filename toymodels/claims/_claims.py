"""Claims: a prediction from theory beside a measurement from simulation, with a tolerance."""

import dataclasses
import enum
import json
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np


class Comparison(enum.Enum):
    """How a measurement is judged against a prediction.

    - `CLOSE`: every element satisfies |measured − predicted| ≤ atol + rtol·|predicted|.
    - `LESS`: measured < predicted (predicted is an upper bound).
    - `GREATER`: measured > predicted (predicted is a lower bound).
    - `EQUAL`: exact equality (counts, indices, booleans).
    """

    CLOSE = "close"
    LESS = "less"
    GREATER = "greater"
    EQUAL = "equal"


def _to_float_array(name: str, value: Any) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(
            f"{name}: expected a number or an array of numbers, got {value!r}"
        ) from None
    return arr


@dataclasses.dataclass(frozen=True)
class Claim:
    """One theory-vs-simulation claim.

    **Arguments:**
    - `name`: what is claimed, in a few words.
    - `paper`: the source (author year, section or figure).
    - `predicted`: the prediction (from a derivation or a closed form), a number or array.
    - `measured`: the measurement (from a simulation or a trained network).
    - `comparison` (keyword-only): a `Comparison`; default `CLOSE`.
    - `rtol`, `atol` (keyword-only): tolerances for `CLOSE`.
    - `figure` (keyword-only): the figure file that shows it, if any.
    - `note` (keyword-only): a short remark (parameters used, caveats).

    A non-finite measurement fails the claim (it is never silently dropped).
    """

    name: str
    paper: str
    predicted: Any
    measured: Any
    comparison: Comparison = Comparison.CLOSE
    rtol: float = 0.0
    atol: float = 0.0
    figure: str | None = None
    note: str = ""

    def __post_init__(self):
        if not isinstance(self.comparison, Comparison):
            object.__setattr__(self, "comparison", Comparison(self.comparison))
        p = _to_float_array("predicted", self.predicted)
        m = _to_float_array("measured", self.measured)
        if p.shape != m.shape and p.size != 1:
            raise ValueError(f"measured: shape {m.shape} does not match predicted shape {p.shape}")
        if (
            self.rtol < 0
            or self.atol < 0
            or not (math.isfinite(self.rtol) and math.isfinite(self.atol))
        ):
            raise ValueError(f"rtol/atol: must be finite and >= 0, got {self.rtol}, {self.atol}")
        if self.comparison is Comparison.CLOSE and self.rtol == 0 and self.atol == 0:
            raise ValueError("rtol/atol: a CLOSE claim needs a tolerance (use EQUAL for exact)")

    # ---------------------------------------------------------------- evaluation
    @property
    def error(self) -> float:
        """Largest absolute deviation |measured − predicted| (NaN if not finite)."""
        p = _to_float_array("predicted", self.predicted)
        m = _to_float_array("measured", self.measured)
        d = np.abs(m - p)
        return float(np.max(d)) if d.size else 0.0

    @property
    def passed(self) -> bool:
        p = _to_float_array("predicted", self.predicted)
        m = _to_float_array("measured", self.measured)
        if not np.all(np.isfinite(m)):
            return False
        c = self.comparison
        if c is Comparison.CLOSE:
            return bool(np.all(np.abs(m - p) <= self.atol + self.rtol * np.abs(p)))
        if c is Comparison.LESS:
            return bool(np.all(m < p))
        if c is Comparison.GREATER:
            return bool(np.all(m > p))
        return bool(np.all(m == p))

    def tolerance_text(self) -> str:
        c = self.comparison
        if c is Comparison.CLOSE:
            parts = []
            if self.rtol:
                parts.append(f"rtol {self.rtol:.3g}")
            if self.atol:
                parts.append(f"atol {self.atol:.3g}")
            return " + ".join(parts)
        return {
            Comparison.LESS: "measured < predicted",
            Comparison.GREATER: "measured > predicted",
        }.get(c, "exact")

    def to_json(self) -> dict:
        def enc(v):
            a = np.asarray(v, dtype=np.float64)
            return a.tolist() if a.ndim else float(a)

        return {
            "name": self.name,
            "paper": self.paper,
            "predicted": enc(self.predicted),
            "measured": enc(self.measured),
            "comparison": self.comparison.value,
            "rtol": self.rtol,
            "atol": self.atol,
            "figure": self.figure,
            "note": self.note,
            "passed": self.passed,
        }

    @classmethod
    def from_json(cls, d: dict) -> "Claim":
        d = {k: v for k, v in d.items() if k != "passed"}
        d["comparison"] = Comparison(d["comparison"])
        return cls(**d)


def assert_claims(claims: Iterable[Claim]) -> None:
    """Raise `AssertionError` listing every failing claim (for tests)."""
    bad = [c for c in claims if not c.passed]
    if bad:
        lines = [
            f"- {c.name}: predicted {format_value(c.predicted)}, measured "
            f"{format_value(c.measured)} ({c.tolerance_text()})"
            for c in bad
        ]
        raise AssertionError("failing claims:\n" + "\n".join(lines))


def format_value(v: Any) -> str:
    a = np.asarray(v, dtype=np.float64)
    if a.ndim == 0:
        x = float(a)
        if x == 0 or (1e-3 <= abs(x) < 1e5):
            return f"{x:.6g}"
        return f"{x:.4e}"
    if a.size <= 4:
        return "[" + ", ".join(format_value(e) for e in a.ravel()) + "]"
    return f"array{a.shape}, max |·| {np.nanmax(np.abs(a)):.3g}"


# --------------------------------------------------------------------- the report
@dataclasses.dataclass(frozen=True)
class FigureRecord:
    """What a figure script produced: its files, claims, timing and any error."""

    name: str
    title: str
    files: Sequence[str]
    claims: Sequence[Claim]
    seconds: float
    fast: bool
    error: str | None = None


def write_report(
    records: Sequence[FigureRecord], path: Path, *, title: str = "Theory vs simulation"
) -> Path:
    """Write `REPORT.md` (one row per claim) and `claims.json` beside it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    all_claims = [c for r in records for c in r.claims]
    n_pass = sum(c.passed for c in all_claims)
    n_fail = len(all_claims) - n_pass
    n_err = sum(r.error is not None for r in records)
    mode = (
        "fast"
        if all(r.fast for r in records)
        else ("full" if not any(r.fast for r in records) else "mixed")
    )
    lines = [
        f"# {title}",
        "",
        f"Mode: {mode}. Claims: {len(all_claims)}, passed: {n_pass}, **failed: {n_fail}**"
        + (f", figure scripts with errors: **{n_err}**" if n_err else "")
        + ".",
        "",
        "| status | claim | paper | predicted | measured | tolerance | figure |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in records:
        for c in r.claims:
            fig = f"[{Path(c.figure).name}]({Path(c.figure).name})" if c.figure else ""
            status = "pass" if c.passed else "**FAIL**"
            name = c.name + (f" ({c.note})" if c.note else "")
            lines.append(
                f"| {status} | {name} | {c.paper} | {format_value(c.predicted)} | "
                f"{format_value(c.measured)} | {c.tolerance_text()} | {fig} |"
            )
        if r.error is not None:
            lines.append(
                f"| **ERROR** | figure script `{r.name}` failed: {r.error} |  |  |  |  |  |"
            )
    lines += ["", "## Figures", ""]
    for r in records:
        links = ", ".join(f"[{Path(f).name}]({Path(f).name})" for f in r.files)
        state = (
            "error" if r.error else f"{sum(c.passed for c in r.claims)}/{len(r.claims)} claims pass"
        )
        lines.append(f"- `{r.name}`: {r.title} ({state}; {r.seconds:.1f} s). {links}")
    lines.append("")
    path.write_text("\n".join(lines))
    (path.parent / "claims.json").write_text(
        json.dumps(
            [
                {
                    "figure": r.name,
                    "error": r.error,
                    "seconds": r.seconds,
                    "fast": r.fast,
                    "claims": [c.to_json() for c in r.claims],
                }
                for r in records
            ],
            indent=1,
        )
    )
    return path
