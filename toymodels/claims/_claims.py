r"""Claims: what a figure script says it reproduced, of three kinds.

- **quantitative**: a prediction *computed* from theory (a derivation, a closed form, an
  independent numerical method) as a function of the claim's parameters, against an
  independent simulation, at three or more parameter values, with a tolerance justified by a
  stated error estimate (at most 10× it). Build one with `Claim.quantitative`.
- **qualitative**: a direction, an ordering or a bound that could fail (`LESS`, `GREATER`,
  `EQUAL` on a count or an index). Build one with `Claim.qualitative` (or plain `Claim`).
- **discrepancy**: a statement or number of a paper that the simulation does not reproduce,
  the paper's value beside ours and the conditions tried. It is a result, listed in its own
  section of the report, and never counted as a pass (nor as a failure). Build one with
  `Claim.discrepancy`.

Identities and theorems (Wolkowicz–Styan, Kreiss, Bauer–Fike, ‖Jᵏ‖ ≤ κρᵏ, generic ranks,
properties true by construction) are tests of the library, not claims.

`audit_claims` is the guard: it lists every claim that breaks these rules (a quantitative
prediction that is a literal or ignores its parameters, fewer than three parameter values, a
tolerance looser than 10× the error estimate, a closeness claim without a prediction
function, a source a reader cannot look up).
"""

import dataclasses
import dis
import enum
import functools
import inspect
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
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


class Kind(enum.Enum):
    """The kind of a claim; see the module docstring."""

    QUANTITATIVE = "quantitative"
    QUALITATIVE = "qualitative"
    DISCREPANCY = "discrepancy"


#: the largest ratio of a quantitative claim's tolerance to its stated error estimate
MAX_TOLERANCE_RATIO = 10.0
#: the fewest parameter values at which a quantitative claim is evaluated
MIN_PARAMETER_VALUES = 3


def _to_float_array(name: str, value: Any) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(
            f"{name}: expected a number or an array of numbers, got {value!r}"
        ) from None
    return arr


def _plain(v: Any) -> Any:
    """A JSON-friendly scalar (parameters are numbers, strings or booleans)."""
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return float(v)
    if isinstance(v, str):
        return v
    a = np.asarray(v)
    if a.ndim == 0 and a.dtype.kind in "biuf":
        return a.item()
    if a.ndim == 1 and a.size <= 8 and a.dtype.kind in "biuf":
        return a.tolist()
    raise TypeError(f"params: a parameter value must be a number or a string, got {v!r}")


def _check_params(params: Any) -> tuple[dict, ...]:
    if isinstance(params, Mapping):
        raise TypeError("params: expected a sequence of parameter dicts, got one dict")
    out = []
    for p in params:
        if not isinstance(p, Mapping):
            raise TypeError(f"params: every entry must be a dict of parameters, got {p!r}")
        out.append({str(k): _plain(v) for k, v in p.items()})
    return tuple(out)


def _function_name(fn: Callable) -> str:
    base = fn.func if isinstance(fn, functools.partial) else fn
    mod = getattr(base, "__module__", None) or ""
    qual = getattr(base, "__qualname__", None) or getattr(base, "__name__", None) or repr(base)
    return f"{mod}.{qual}" if mod else qual


def _code_of(fn: Callable):
    """The Python code object behind `fn` (through partials, wrappers and jit), or None."""
    seen = 0
    while seen < 10:
        seen += 1
        if isinstance(fn, functools.partial):
            fn = fn.func
            continue
        wrapped = getattr(fn, "__wrapped__", None)
        if wrapped is not None:
            fn = wrapped
            continue
        break
    # a callable object (its fields are its inputs) or a builtin: nothing to judge
    return getattr(fn, "__code__", None)


def _reads_an_argument(fn: Callable) -> bool:
    """Whether `fn`'s code reads at least one of its own arguments (a function that ignores
    them returns a literal). Functions without Python code (builtins, ufuncs, compiled
    callables) are given the benefit of the doubt."""
    code = _code_of(fn)
    if code is None:
        return True
    n = code.co_argcount + code.co_kwonlyargcount
    n += bool(code.co_flags & inspect.CO_VARARGS) + bool(code.co_flags & inspect.CO_VARKEYWORDS)
    names = set(code.co_varnames[:n])
    if isinstance(fn, functools.partial):
        return True  # arguments bound by the partial are the parameters' effect
    if not names:
        return False

    def reads(c) -> bool:
        for ins in dis.get_instructions(c):
            if ins.opname.startswith(("LOAD_FAST", "LOAD_DEREF", "LOAD_CLOSURE")):
                if ins.argval in names:
                    return True
        return False

    return reads(code)


def _stack(values: list, name: str) -> np.ndarray:
    arrays = [_to_float_array(name, v) for v in values]
    shapes = {a.shape for a in arrays}
    if len(shapes) != 1:
        raise ValueError(f"{name}: values at different parameters have different shapes {shapes}")
    return np.stack(arrays)


@dataclasses.dataclass(frozen=True)
class Claim:
    """One claim of a figure (see the module docstring for the three kinds).

    **Arguments:**
    - `name`: what is claimed, in a few words.
    - `paper`: the source as a reader would look it up: authors, year, arXiv id or venue,
      figure or section (e.g. "Ghosh 2026, arXiv:2605.23476, Fig. 3").
    - `predicted`: the prediction, a number or array (the bound of a qualitative claim; the
      stacked values of `predict` at `params` for a quantitative one; None for a
      discrepancy).
    - `measured`: the measurement (from a simulation or a trained network).
    - `comparison` (keyword-only): a `Comparison`; default `CLOSE`.
    - `rtol`, `atol` (keyword-only): tolerances for `CLOSE` (`atol` a number or one per
      element).
    - `figure` (keyword-only): the figure file that shows it, if any.
    - `note` (keyword-only): a short remark (conditions, caveats).
    - `kind` (keyword-only): a `Kind`; default qualitative.
    - `params` (keyword-only): the parameter dicts the claim is evaluated at.
    - `prediction` (keyword-only): the name of the function that computed `predicted`.
    - `error_estimate`, `error_source` (keyword-only): the absolute error expected of the
      comparison (a number or one per element) and how it was estimated.
    - `paper_value` (keyword-only): a discrepancy's statement or number from the paper.
    - `predict` (keyword-only): the prediction function itself (not stored in JSON).
    - `network` (keyword-only): the trained network a quantitative claim is measured on, in
      a few words (architecture, data, how it was trained), or "" when the measurement is a
      simulation of a toy model or closed-form system; the report counts, per paper, the
      quantitative claims measured on trained networks.

    A non-finite measurement fails the claim (it is never silently dropped).
    """

    name: str
    paper: str
    predicted: Any
    measured: Any
    comparison: Comparison | str = Comparison.CLOSE
    rtol: float | int = 0.0
    atol: Any = 0.0
    figure: str | None = None
    note: str = ""
    kind: Kind | str = Kind.QUALITATIVE
    params: Sequence[Mapping[str, Any]] = ()  # stored as a tuple
    prediction: str = ""
    error_estimate: Any = None
    error_source: str = ""
    paper_value: Any = None
    predict: Callable | None = dataclasses.field(default=None, compare=False, repr=False)
    network: str = ""

    def __post_init__(self):
        if not isinstance(self.comparison, Comparison):
            object.__setattr__(self, "comparison", Comparison(self.comparison))
        if not isinstance(self.kind, Kind):
            object.__setattr__(self, "kind", Kind(self.kind))
        object.__setattr__(self, "params", _check_params(self.params))
        if not isinstance(self.paper, str) or not self.paper.strip():
            raise ValueError("paper: every claim names its source")
        if not isinstance(self.network, str):
            raise ValueError(f"network: a short description or '', got {self.network!r}")
        if self.network and self.kind is not Kind.QUANTITATIVE:
            raise ValueError("network: only a quantitative claim names a trained network")
        atol = _to_float_array("atol", self.atol)
        if atol.ndim:  # one absolute tolerance per element (e.g. k × a per-point error)
            object.__setattr__(self, "atol", atol)
        if (
            self.rtol < 0
            or np.any(atol < 0)
            or not (math.isfinite(self.rtol) and np.all(np.isfinite(atol)))
        ):
            raise ValueError(f"rtol/atol: must be finite and >= 0, got {self.rtol}, {self.atol}")
        m = _to_float_array("measured", self.measured)
        if self.kind is Kind.DISCREPANCY:
            if self.paper_value is None or (
                isinstance(self.paper_value, str) and not self.paper_value.strip()
            ):
                raise ValueError("paper_value: a discrepancy states the paper's value")
            return
        p = _to_float_array("predicted", self.predicted)
        if p.shape != m.shape and p.size != 1:
            raise ValueError(f"measured: shape {m.shape} does not match predicted shape {p.shape}")
        if self.comparison is Comparison.CLOSE and self.rtol == 0 and not np.any(atol):
            raise ValueError("rtol/atol: a CLOSE claim needs a tolerance (use EQUAL for exact)")
        if self.kind is Kind.QUANTITATIVE:
            if self.predict is not None and not self.prediction:
                object.__setattr__(self, "prediction", _function_name(self.predict))
            if self.error_estimate is not None:
                e = _to_float_array("error_estimate", self.error_estimate)
                if np.any(~np.isfinite(e)) or np.any(e < 0):
                    raise ValueError("error_estimate: must be finite and >= 0")

    # ------------------------------------------------------------------ constructors
    @classmethod
    def quantitative(
        cls,
        name: str,
        paper: str,
        *,
        predict: Callable[..., Any],
        params: Sequence[Mapping[str, Any]],
        measured: Any,
        error_source: str,
        error_estimate: Any = None,
        relative_error: float | None = None,
        comparison: Comparison | str = Comparison.CLOSE,
        rtol: float | int = 0.0,
        atol: Any = 0.0,
        note: str = "",
        figure: str | None = None,
        network: str = "",
    ) -> "Claim":
        """A prediction computed by `predict(**p)` for each parameter dict `p` of `params`
        (three or more), against `measured`: an array whose leading axis runs over `params`,
        or a function called as `measured(**p)`.

        The error estimate is absolute (`error_estimate`, a number or one per element) or
        relative to the prediction (`relative_error`); `error_source` says where it comes from
        (Euler step, spread over seeds, quadrature, finite size). `network` names the trained
        network the measurement comes from ("" for a toy or closed-form system). For `CLOSE`
        the tolerance
        atol + rtol·|predicted| may be at most `MAX_TOLERANCE_RATIO` times the estimate.

        Raises `ValueError` (naming the argument) for fewer than three parameter values, a
        prediction function that ignores its parameters, a missing error estimate, or a
        tolerance that is too loose.
        """
        if not callable(predict):
            raise ValueError(
                "predict: a quantitative prediction is a function of the claim's parameters, "
                f"not a literal ({predict!r})"
            )
        params = _check_params(params)
        problem = _params_problem(params)
        if problem:
            raise ValueError(f"params: {problem}")
        if not _reads_an_argument(predict):
            raise ValueError(
                f"predict: {_function_name(predict)} ignores its parameters (a literal in disguise)"
            )
        predicted = _stack([predict(**p) for p in params], "predicted")
        if callable(measured):
            measured = _stack([measured(**p) for p in params], "measured")
        else:
            measured = _to_float_array("measured", measured)
            if measured.shape[:1] != (len(params),):
                raise ValueError(
                    f"measured: leading axis {measured.shape[:1]} does not run over the "
                    f"{len(params)} parameter values"
                )
        if (error_estimate is None) == (relative_error is None):
            raise ValueError("error_estimate/relative_error: give exactly one error estimate")
        if relative_error is not None:
            if not (relative_error >= 0 and math.isfinite(relative_error)):
                raise ValueError(f"relative_error: must be finite and >= 0, got {relative_error}")
            error_estimate = relative_error * np.abs(predicted)
        if not (isinstance(error_source, str) and error_source.strip()):
            raise ValueError("error_source: state how the error estimate was obtained")
        claim = cls(
            name,
            paper,
            predicted=predicted,
            measured=measured,
            comparison=comparison,
            rtol=rtol,
            atol=atol,
            figure=figure,
            note=note,
            kind=Kind.QUANTITATIVE,
            params=params,
            prediction=_function_name(predict),
            error_estimate=np.broadcast_to(
                _to_float_array("error_estimate", error_estimate), predicted.shape
            ).copy(),
            error_source=error_source,
            predict=predict,
            network=network,
        )
        problem = _tolerance_problem(claim)
        if problem:
            raise ValueError(problem)
        return claim

    @classmethod
    def qualitative(
        cls,
        name: str,
        paper: str,
        *,
        predicted: Any,
        measured: Any,
        comparison: Comparison | str,
        params: Sequence[Mapping[str, Any]] = (),
        note: str = "",
        figure: str | None = None,
    ) -> "Claim":
        """A direction, ordering or bound that could fail: `measured` against the bound
        `predicted` by `comparison` (`LESS`, `GREATER` or `EQUAL`)."""
        if Comparison(comparison) is Comparison.CLOSE:
            raise ValueError(
                "comparison: a closeness claim is quantitative (use Claim.quantitative)"
            )
        return cls(
            name,
            paper,
            predicted=predicted,
            measured=measured,
            comparison=comparison,
            params=params,
            note=note,
            figure=figure,
            kind=Kind.QUALITATIVE,
        )

    @classmethod
    def discrepancy(
        cls,
        name: str,
        paper: str,
        *,
        paper_value: Any,
        measured: Any,
        params: Sequence[Mapping[str, Any]] = (),
        note: str = "",
        figure: str | None = None,
    ) -> "Claim":
        """A paper's statement (`paper_value`: its number, or its words) that the simulation
        does not reproduce, with our number (`measured`) and the conditions tried (`params`,
        `note`). Listed in the report's discrepancy section; never a pass."""
        return cls(
            name,
            paper,
            predicted=None,
            measured=measured,
            comparison=Comparison.CLOSE,
            params=params,
            note=note,
            figure=figure,
            kind=Kind.DISCREPANCY,
            paper_value=paper_value,
        )

    # ---------------------------------------------------------------- evaluation
    @property
    def error(self) -> float:
        """Largest absolute deviation |measured − predicted| (NaN if not finite)."""
        if self.kind is Kind.DISCREPANCY:
            return float("nan")
        p = _to_float_array("predicted", self.predicted)
        m = _to_float_array("measured", self.measured)
        d = np.abs(m - p)
        return float(np.max(d)) if d.size else 0.0

    @property
    def passed(self) -> bool:
        """Whether the claim holds; a discrepancy never counts as a pass."""
        if self.kind is Kind.DISCREPANCY:
            return False
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

    @property
    def status(self) -> str:
        """ "pass", "fail" or "discrepancy"."""
        if self.kind is Kind.DISCREPANCY:
            return "discrepancy"
        return "pass" if self.passed else "fail"

    def tolerance_text(self) -> str:
        if self.kind is Kind.DISCREPANCY:
            return ""
        c = self.comparison
        if c is Comparison.CLOSE:
            parts = []
            atol = _to_float_array("atol", self.atol)
            if self.rtol:
                parts.append(f"rtol {self.rtol:.3g}")
            if atol.ndim and np.any(atol):
                parts.append(f"atol {np.min(atol):.3g} to {np.max(atol):.3g} per element")
            elif np.any(atol):
                parts.append(f"atol {float(atol):.3g}")
            text = " + ".join(parts)
        else:
            text = {
                Comparison.LESS: "measured < predicted",
                Comparison.GREATER: "measured > predicted",
            }.get(c, "exact")
        if self.error_estimate is not None:
            e = _to_float_array("error_estimate", self.error_estimate)
            p = np.abs(_to_float_array("predicted", self.predicted))
            if self.rtol and not np.any(self.atol) and np.all(p > 0):
                text += f"; error estimate {format_value(np.max(e / p))} relative"
            else:
                text += f"; error estimate {format_value(np.max(e))}"
            if self.error_source:
                text += f" ({self.error_source})"
        return text

    def params_text(self) -> str:
        """The parameter values, compactly: fixed ones once, varying ones as sets."""
        return format_params(self.params)

    def to_json(self) -> dict:
        def enc(v):
            if v is None or isinstance(v, str):
                return v
            a = np.asarray(v, dtype=np.float64)
            return a.tolist() if a.ndim else float(a)

        return {
            "name": self.name,
            "paper": self.paper,
            "kind": self.kind.value,
            "predicted": enc(self.predicted),
            "measured": enc(self.measured),
            "comparison": self.comparison.value,
            "rtol": self.rtol,
            "atol": enc(self.atol),
            "figure": self.figure,
            "note": self.note,
            "params": [dict(p) for p in self.params],
            "prediction": self.prediction,
            "error_estimate": enc(self.error_estimate),
            "error_source": self.error_source,
            "paper_value": enc(self.paper_value),
            "network": self.network,
            "passed": self.passed,
            "status": self.status,
        }

    @classmethod
    def from_json(cls, d: dict) -> "Claim":
        d = {k: v for k, v in d.items() if k not in ("passed", "status")}
        d["comparison"] = Comparison(d["comparison"])
        d["kind"] = Kind(d.get("kind", "qualitative"))
        d["params"] = tuple(d.get("params", ()))
        for k in ("predicted", "measured", "error_estimate", "paper_value", "atol"):
            if isinstance(d.get(k), list):
                d[k] = np.asarray(d[k], dtype=np.float64)
        return cls(**d)

    def __eq__(self, other):
        if not isinstance(other, Claim):
            return NotImplemented
        a, b = self.to_json(), other.to_json()
        return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)

    def __hash__(self):
        return hash((self.name, self.paper, self.kind))


# ----------------------------------------------------------------------- the guard
_YEAR = re.compile(r"\b(1[89]\d{2}|20\d{2})[a-z]?\b")
_IDENT = re.compile(
    r"arXiv:\d{4}\.\d{4,5}|ICLR|ICML|NeurIPS|NIPS|AAAI|COLT|SDM|PMLR|JMLR|Proc\.|"
    r"Linear Algebra Appl|Phys\.|Math\.|Ann\.|SIAM|IEEE|Nature|Science|Neural Comput|"
    r"Neural Netw|Comm\.|J\. |Mat\. Sb\.|Ann\. Probab|Springer|Cambridge|Princeton"
)
#: words that mark a note of this project rather than a paper a reader can look up
_INTERNAL = re.compile(
    r"\.md\b|\.py\b|\banchors\b|\bnotes?\b|\bspec\b|derivations/|toymodels\.|\brepo\b|"
    r"eos_check|ghost-nonnormal|symmetry-channels|hessian-goldilocks|taxonomy notes",
    re.IGNORECASE,
)


def citation_problem(paper: str) -> str | None:
    """Why `paper` is not a citation a reader can look up (None if it is): it must name
    authors and a year, an arXiv id or a venue, and no internal note or file."""
    if not _YEAR.search(paper):
        return f"paper {paper!r}: no year"
    if not _IDENT.search(paper):
        return f"paper {paper!r}: no arXiv id or venue"
    bad = _INTERNAL.search(paper)
    if bad:
        return f"paper {paper!r}: cites {bad.group(0)!r}, which is not a published source"
    return None


def paper_key(paper: str) -> str:
    """The paper a citation belongs to, for the report's summary: its first source's authors
    and year ("Ghosh 2026, arXiv:2605.23476, Fig. 3" → "Ghosh 2026")."""
    first = paper.split(";")[0].strip()
    m = _YEAR.search(first)
    return first[: m.end()].strip(" ,(") if m else first


def _params_problem(params: tuple) -> str | None:
    if len(params) < MIN_PARAMETER_VALUES:
        return (
            f"a quantitative claim is evaluated at {MIN_PARAMETER_VALUES} or more parameter "
            f"values, got {len(params)}"
        )
    keys = [json.dumps(p, sort_keys=True) for p in params]
    if len(set(keys)) != len(keys):
        return "the parameter values repeat"
    if not all(p for p in params):
        return "every parameter value names its parameters (empty dict)"
    return None


def _tolerance_problem(c: Claim) -> str | None:
    if c.error_estimate is None:
        return "error_estimate: a quantitative claim states its error estimate"
    if not c.error_source:
        return "error_source: state how the error estimate was obtained"
    if c.comparison is not Comparison.CLOSE:
        return None
    p = _to_float_array("predicted", c.predicted)
    try:
        e = np.broadcast_to(_to_float_array("error_estimate", c.error_estimate), p.shape)
    except ValueError:
        return "error_estimate: one number, or one per element of the prediction"
    tol = c.atol + c.rtol * np.abs(p)
    ratio = np.max(tol / np.maximum(e, 1e-300)) if tol.size else 0.0
    if ratio > MAX_TOLERANCE_RATIO * (1 + 1e-9):
        return (
            f"rtol/atol: the tolerance is {ratio:.3g}× the error estimate "
            f"({c.error_source}); at most {MAX_TOLERANCE_RATIO:g}× is allowed"
        )
    return None


def audit_claim(c: Claim) -> list[str]:
    """The rules `c` breaks (empty when none): see the module docstring."""
    bad = []
    cite = citation_problem(c.paper)
    if cite:
        bad.append(cite)
    if c.kind is Kind.QUANTITATIVE:
        if c.predict is None:
            bad.append("prediction: a quantitative claim carries the function that computed it")
        else:
            if not _reads_an_argument(c.predict):
                bad.append(f"predict: {c.prediction} ignores its parameters (a literal)")
            pp = _params_problem(c.params)
            if pp:
                bad.append(f"params: {pp}")
            else:
                try:
                    again = _stack([c.predict(**p) for p in c.params], "predicted")
                    same = np.allclose(
                        again, _to_float_array("predicted", c.predicted), rtol=1e-12, atol=0
                    ) or np.array_equal(again, c.predicted, equal_nan=True)
                except Exception as err:  # report, never hide
                    same = False
                    bad.append(f"predict: re-evaluation failed ({type(err).__name__}: {err})")
                if not same:
                    bad.append("predicted: not what the prediction function gives at params")
        tp = _tolerance_problem(c)
        if tp:
            bad.append(tp)
    elif c.kind is Kind.QUALITATIVE:
        if c.comparison is Comparison.CLOSE:
            bad.append(
                "comparison: a closeness claim is quantitative (a prediction function and "
                "three or more parameter values), not qualitative"
            )
    return [f"{c.name}: {b}" for b in bad]


def audit_claims(claims: Iterable[Claim]) -> list[str]:
    """Every rule broken by any of `claims` (the guard; empty when all is well)."""
    return [b for c in claims for b in audit_claim(c)]


def assert_claims(claims: Iterable[Claim]) -> None:
    """Raise `AssertionError` listing every failing claim (for tests). Discrepancies are
    results, not failures."""
    bad = [c for c in claims if c.status == "fail"]
    if bad:
        lines = [
            f"- {c.name}: predicted {format_value(c.predicted)}, measured "
            f"{format_value(c.measured)} ({c.tolerance_text()})"
            for c in bad
        ]
        raise AssertionError("failing claims:\n" + "\n".join(lines))


def format_value(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, str):
        return v
    a = np.asarray(v, dtype=np.float64)
    if a.ndim == 0:
        x = float(a)
        if x == 0 or not math.isfinite(x) or (1e-3 <= abs(x) < 1e5):
            return f"{x:.6g}"
        return f"{x:.4e}"
    if a.size <= 4:
        return "[" + ", ".join(format_value(e) for e in a.ravel()) + "]"
    return f"array{a.shape}, max |·| {np.nanmax(np.abs(a)):.3g}"


def _fmt_param(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, list):
        return "(" + ", ".join(_fmt_param(x) for x in v) + ")"
    return str(v)


def format_params(params: Sequence[Mapping[str, Any]]) -> str:
    """ "β = 0.9; T ∈ {10, 20, 40}": fixed parameters once, varying ones as sets (in order);
    or one tuple per parameter set when several vary together."""
    if not params:
        return ""
    keys = list(dict.fromkeys(k for p in params for k in p))
    fixed, varying = [], []
    for k in keys:
        vals = [_fmt_param(p.get(k, "—")) for p in params]
        (fixed if len(set(vals)) == 1 else varying).append((k, vals))
    parts = [f"{k} = {vals[0]}" for k, vals in fixed]
    if len(varying) == 1:
        k, vals = varying[0]
        parts.append(f"{k} ∈ {{{', '.join(dict.fromkeys(vals))}}}")
    elif varying:
        names = ", ".join(k for k, _ in varying)
        rows = ["(" + ", ".join(v[i] for _, v in varying) + ")" for i in range(len(params))]
        parts.append(f"({names}) ∈ {{{', '.join(rows)}}}")
    return "; ".join(parts)


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


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _link(path: str | None) -> str:
    if not path:
        return ""
    name = Path(path).name
    return f"[{name}]({name})"


def summarize(records: Sequence[FigureRecord]) -> list[dict]:
    """Per paper (by `paper_key`, in order of first appearance): quantitative and
    qualitative claims passing and in all, the quantitative ones passing on trained networks
    (`network_pass`), discrepancies, and the figures involved."""
    rows: dict[str, dict] = {}
    for r in records:
        for c in r.claims:
            key = paper_key(c.paper)
            row = rows.setdefault(
                key,
                {
                    "paper": key,
                    "quantitative_pass": 0,
                    "quantitative": 0,
                    "network_pass": 0,
                    "qualitative_pass": 0,
                    "qualitative": 0,
                    "discrepancies": 0,
                    "failed": 0,
                    "figures": [],
                },
            )
            if c.kind is Kind.DISCREPANCY:
                row["discrepancies"] += 1
            else:
                k = c.kind.value
                row[k] += 1
                row[f"{k}_pass"] += int(c.passed)
                row["failed"] += int(not c.passed)
                row["network_pass"] += int(c.passed and bool(c.network))
            if r.name not in row["figures"]:
                row["figures"].append(r.name)
    return list(rows.values())


def write_report(
    records: Sequence[FigureRecord], path: Path, *, title: str = "Theory vs simulation"
) -> Path:
    """Write `REPORT.md` and `claims.json` beside it.

    The report opens with a summary per paper (quantitative and qualitative claims passing,
    discrepancies), then lists every claim by paper (kind, parameter values, prediction,
    measurement, tolerance and error estimate, figure), then the discrepancies in their own
    section (the paper's statement beside our number and the conditions), then each
    figure's files and time."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    all_claims = [c for r in records for c in r.claims]
    counted = [c for c in all_claims if c.kind is not Kind.DISCREPANCY]
    n_pass = sum(c.passed for c in counted)
    n_fail = len(counted) - n_pass
    n_disc = len(all_claims) - len(counted)
    n_network = sum(c.passed and bool(c.network) for c in counted)
    n_err = sum(r.error is not None for r in records)
    by_kind = {
        k: (sum(c.passed for c in counted if c.kind is k), sum(c.kind is k for c in counted))
        for k in (Kind.QUANTITATIVE, Kind.QUALITATIVE)
    }
    mode = (
        "fast"
        if all(r.fast for r in records)
        else ("full" if not any(r.fast for r in records) else "mixed")
    )
    total_s = sum(r.seconds for r in records)
    lines = [
        f"# {title}",
        "",
        f"Mode: {mode} ({total_s:.0f} s in all). "
        f"Quantitative claims passing: {by_kind[Kind.QUANTITATIVE][0]} of "
        f"{by_kind[Kind.QUANTITATIVE][1]} ({n_network} of them measured on trained networks); "
        f"qualitative: {by_kind[Kind.QUALITATIVE][0]} of "
        f"{by_kind[Kind.QUALITATIVE][1]}; **failed: {n_fail}**; discrepancies (results the "
        f"simulation does not reproduce, never counted as passes): {n_disc}"
        + (f"; figure scripts with errors: **{n_err}**" if n_err else "")
        + ".",
        "",
        "A quantitative claim compares a prediction computed from theory, at three or more "
        "parameter values, with an independent simulation, within a tolerance of at most "
        f"{MAX_TOLERANCE_RATIO:g}× a stated error estimate; a qualitative claim is a "
        "direction, ordering or bound that could fail.",
        "",
        "## Summary by paper",
        "",
        "| paper | quantitative passing | of them on trained networks | qualitative passing | "
        "discrepancies | failed | figures |",
        "|---|---|---|---|---|---|---|",
    ]
    summary = summarize(records)
    for row in summary:
        figs = ", ".join(f"[{f}](#{f})" for f in row["figures"])
        lines.append(
            f"| {_cell(row['paper'])} | {row['quantitative_pass']} / {row['quantitative']} | "
            f"{row['network_pass']} | {row['qualitative_pass']} / {row['qualitative']} | {row['discrepancies']} | "
            f"{row['failed'] if row['failed'] == 0 else '**' + str(row['failed']) + '**'} | "
            f"{figs} |"
        )
    lines += ["", "## Claims", ""]
    for row in summary:
        key = row["paper"]
        lines += [
            f"### {key}",
            "",
            "| status | kind | claim | source | parameters | predicted | measured | "
            "tolerance | figure |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for r in records:
            for c in r.claims:
                if paper_key(c.paper) != key or c.kind is Kind.DISCREPANCY:
                    continue
                status = "pass" if c.passed else "**FAIL**"
                name = c.name + (f" ({c.note})" if c.note else "")
                if c.network:
                    name += f"; trained network: {c.network}"
                pred = format_value(c.predicted)
                if c.prediction and "<lambda>" not in c.prediction:
                    pred += f" from `{c.prediction}`"
                tol = c.tolerance_text()
                if c.comparison is Comparison.CLOSE and np.size(c.predicted) > 1:
                    tol = f"largest deviation {format_value(c.error)}; " + tol
                lines.append(
                    f"| {status} | {c.kind.value} | {_cell(name)} | {_cell(c.paper)} | "
                    f"{_cell(c.params_text())} | {_cell(pred)} | "
                    f"{_cell(format_value(c.measured))} | {_cell(tol)} | "
                    f"{_link(c.figure)} |"
                )
        lines.append("")
    errors = [r for r in records if r.error is not None]
    if errors:
        lines += ["## Figure scripts that failed", ""]
        for r in errors:
            lines.append(f"- **ERROR** `{r.name}`: {_cell(r.error)}")
        lines.append("")
    lines += [
        "## Discrepancies",
        "",
        "Statements of the papers that these simulations do not reproduce: the paper's value "
        "beside ours, under the conditions listed.",
        "",
    ]
    disc = [(r, c) for r in records for c in r.claims if c.kind is Kind.DISCREPANCY]
    if disc:
        lines += [
            "| claim | source | paper says | we measure | conditions | figure |",
            "|---|---|---|---|---|---|",
        ]
        for _, c in disc:
            cond = "; ".join(t for t in (c.params_text(), c.note) if t)
            lines.append(
                f"| {_cell(c.name)} | {_cell(c.paper)} | {_cell(format_value(c.paper_value))} | "
                f"{_cell(format_value(c.measured))} | {_cell(cond)} | {_link(c.figure)} |"
            )
    else:
        lines.append("None.")
    lines += ["", "## Figures", ""]
    for r in records:
        links = ", ".join(_link(f) for f in r.files)
        counted_r = [c for c in r.claims if c.kind is not Kind.DISCREPANCY]
        nd = len(r.claims) - len(counted_r)
        state = (
            "error"
            if r.error
            else f"{sum(c.passed for c in counted_r)}/{len(counted_r)} claims pass"
            + (f", {nd} discrepancies" if nd else "")
        )
        lines.append(
            f'- <a id="{r.name}"></a>`{r.name}`: {r.title} ({state}; {r.seconds:.1f} s, '
            f"{'fast' if r.fast else 'full'} mode). {links}"
        )
    lines.append("")
    path.write_text("\n".join(lines))
    (path.parent / "claims.json").write_text(
        json.dumps(
            [
                {
                    "figure": r.name,
                    "title": r.title,
                    "error": r.error,
                    "seconds": r.seconds,
                    "fast": r.fast,
                    "files": [str(f) for f in r.files],
                    "claims": [c.to_json() for c in r.claims],
                }
                for r in records
            ],
            indent=1,
        )
    )
    return path


def read_records(path: Path) -> list[FigureRecord]:
    """The records stored by `write_report` in `claims.json` (prediction functions are not
    stored: the claims read back carry their values and the functions' names)."""
    stored = json.loads(Path(path).read_text())
    return [
        FigureRecord(
            name=s["figure"],
            title=s.get("title", s["figure"]),
            files=s.get("files", []),
            claims=[Claim.from_json(c) for c in s["claims"]],
            seconds=s["seconds"],
            fast=s["fast"],
            error=s["error"],
        )
        for s in stored
    ]
