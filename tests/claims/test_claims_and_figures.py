"""Claims (the three kinds and the guard), the report, and every figure script in fast
mode (full mode in the slow run)."""

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

from figures._common import PAPERS, cite, figure_modules, load, run_figure
from toymodels.claims import (
    Claim,
    Comparison,
    FigureRecord,
    Kind,
    assert_claims,
    audit_claims,
    citation_problem,
    format_params,
    paper_key,
    read_records,
    write_report,
)


SRC = "Dinc et al. 2025 (arXiv:2501.02378), Fig. 2"
DELAYS = [{"T": t} for t in (10.0, 20.0, 40.0)]


def eta_c(T):
    return 3 * np.pi**4 / (32 * T**4)


def _quantitative(**kw):
    args = dict(
        predict=eta_c,
        params=DELAYS,
        measured=lambda T: eta_c(T) * (1 + 1e-3),
        rtol=5e-3,
        relative_error=1e-3,
        error_source="bisection to 1e-3",
    )
    args.update(kw)
    return Claim.quantitative("η_c = 3π⁴/(32T⁴)", SRC, **args)


def test_claim_logic():
    ok = Claim("x", "p", predicted=1.0, measured=1.05, rtol=0.1)
    bad = Claim("x", "p", predicted=1.0, measured=1.2, rtol=0.1)
    nan = Claim("x", "p", predicted=1.0, measured=float("nan"), rtol=0.1)
    assert ok.passed and not bad.passed and not nan.passed
    assert Claim("c", "p", predicted=3, measured=3, comparison=Comparison.EQUAL).passed
    assert Claim("u", "p", predicted=2.0, measured=1.0, comparison=Comparison.LESS).passed
    assert not Claim("u", "p", predicted=2.0, measured=3.0, comparison=Comparison.LESS).passed
    with pytest.raises(ValueError, match="tolerance"):
        Claim("x", "p", predicted=1.0, measured=1.0)
    with pytest.raises(AssertionError, match="failing claims"):
        assert_claims([ok, bad])
    assert Claim.from_json(json.loads(json.dumps(bad.to_json()))) == bad


def test_quantitative_claim_evaluates_its_prediction_function_at_every_parameter():
    c = _quantitative()
    assert c.kind is Kind.QUANTITATIVE and c.passed and c.status == "pass"
    np.testing.assert_allclose(c.predicted, [eta_c(10.0), eta_c(20.0), eta_c(40.0)])
    assert c.prediction.endswith("eta_c") and c.params_text() == "T ∈ {10, 20, 40}"
    assert audit_claims([c]) == []
    # measured as an array over the parameters; a wrong one fails
    wrong = _quantitative(measured=np.array([eta_c(10.0), eta_c(20.0), 2 * eta_c(40.0)]))
    assert not wrong.passed and wrong.status == "fail"
    with pytest.raises(AssertionError, match="η_c"):
        assert_claims([wrong])
    # JSON round trip (no pickle): values, kind, parameters and the function's name
    back = Claim.from_json(json.loads(json.dumps(c.to_json())))
    assert back == c and back.kind is Kind.QUANTITATIVE and back.params == c.params
    assert back.predict is None and back.prediction == c.prediction


@pytest.mark.usefixtures("own_checks")
def test_guard_rejects_literal_predictions():
    with pytest.raises(ValueError, match="predict: .*literal"):
        _quantitative(predict=9.28)
    with pytest.raises(ValueError, match="ignores its parameters"):
        _quantitative(predict=lambda **p: 9.28e-4)
    with pytest.raises(ValueError, match="ignores its parameters"):
        _quantitative(predict=lambda T: 9.28e-4)
    # bypassing the constructor: a quantitative claim without its function, or with a
    # prediction replaced by a literal, is caught by the audit
    literal = Claim(
        "η_c", SRC, predicted=9.28, measured=9.3, atol=0.1, kind="quantitative", params=DELAYS
    )
    assert any("carries the function" in b for b in audit_claims([literal]))
    swapped = dataclasses.replace(_quantitative(), predicted=np.full(3, 1e-3))
    assert any("not what the prediction function gives" in b for b in audit_claims([swapped]))


def test_guard_rejects_fewer_than_three_parameter_values():
    for params in (DELAYS[:1], DELAYS[:2], [DELAYS[0]] * 3, [{}, {}, {}]):
        with pytest.raises(ValueError, match="params"):
            _quantitative(params=params, measured=lambda **p: 1.0)
    full = _quantitative()
    short = dataclasses.replace(
        full,
        params=DELAYS[:2],
        predicted=full.predicted[:2],
        measured=full.measured[:2],
        error_estimate=full.error_estimate[:2],
    )
    assert any("3 or more parameter values" in b for b in audit_claims([short]))


def test_guard_ties_the_tolerance_to_the_error_estimate():
    with pytest.raises(ValueError, match="times|×"):
        _quantitative(rtol=0.05, relative_error=1e-3)  # 50× the estimate
    with pytest.raises(ValueError, match="error estimate"):
        _quantitative(relative_error=None)
    with pytest.raises(ValueError, match="error_source"):
        _quantitative(error_source="")
    ok = _quantitative(rtol=1e-2, relative_error=1e-3)  # exactly 10×
    assert audit_claims([ok]) == []


def test_guard_checks_kinds_and_citations():
    close = Claim("≈", SRC, predicted=1.0, measured=1.0, atol=0.1)
    assert any("closeness claim is quantitative" in b for b in audit_claims([close]))
    with pytest.raises(ValueError, match="quantitative"):
        Claim.qualitative("≈", SRC, predicted=1.0, measured=1.0, comparison=Comparison.CLOSE)
    bound = Claim.qualitative("up", SRC, predicted=1.0, measured=0.5, comparison="less")
    assert audit_claims([bound]) == [] and bound.passed
    for bad in (
        "Ghosh 2026 (ghost-nonnormal-eos.md §5)",
        "anchors §4.4 item 16",
        "Fort & Ganguli 2019; spec hessian-goldilocks-wedges-taxonomy §1.3",
        "derivations/ghost.py",
        "Ghorbani et al. (taxonomy notes §4)",
    ):
        assert citation_problem(bad), bad
    for key in PAPERS:
        assert citation_problem(cite(key, "Fig. 1")) is None, key
    assert paper_key(cite("goodfellow", "Fig. 2")) == "Goodfellow, Vinyals & Saxe 2015"
    assert paper_key("Ghosh 2026 (arXiv:2605.23476), Fig. 3; Cohen et al. 2021") == "Ghosh 2026"


def test_discrepancy_is_a_result_never_a_pass():
    d = Claim.discrepancy(
        "κ(V) separates stable from unstable runs by about 10×",
        cite("ghosh", "§4"),
        paper_value="≈ 10×",
        measured=1.44,
        params=[{"lr": 0.1}, {"lr": 0.8}],
        note="two-layer tanh net",
    )
    assert d.kind is Kind.DISCREPANCY and not d.passed and d.status == "discrepancy"
    assert_claims([d])  # not a failure either
    assert audit_claims([d]) == []
    assert Claim.from_json(json.loads(json.dumps(d.to_json()))) == d
    with pytest.raises(ValueError, match="paper_value"):
        Claim.discrepancy("x", SRC, paper_value="", measured=1.0)


def test_format_params():
    assert format_params([{"beta": 0.9, "T": 10}, {"beta": 0.9, "T": 20}]) == (
        "beta = 0.9; T ∈ {10, 20}"
    )
    two = format_params([{"a": 1, "b": 2}, {"a": 2, "b": 3}])
    assert two == "(a, b) ∈ {(1, 2), (2, 3)}"


def test_report_summary_sections_and_round_trip(tmp_path):
    good = _quantitative(figure=str(tmp_path / "figX.png"))
    on_net = _quantitative(network="rank-one RNN, N = 100, trained by GD")
    bad = Claim.qualitative(
        "bad bound", cite("ghosh", "Fig. 3"), predicted=1.0, measured=2.0, comparison="less"
    )
    disc = Claim.discrepancy(
        "κ(V) separation", cite("ghosh", "§4"), paper_value="≈ 10×", measured=1.44
    )
    rec = FigureRecord(
        "figX", "t", [str(tmp_path / "figX.png")], [good, on_net, bad, disc], 0.1, True
    )
    err = FigureRecord("figY", "t", [], [], 2.5, True, error="ValueError: boom")
    text = write_report([rec, err], tmp_path / "REPORT.md").read_text()
    summary = text.split("## Summary by paper")[1].split("## Claims")[0]
    assert "| Dinc et al. 2025 | 2 / 2 | 1 | 0 / 0 | 0 | 0 | [figX](#figX) |" in summary
    assert "| Ghosh 2026 | 0 / 0 | 0 | 0 / 1 | 1 | **1** | [figX](#figX) |" in summary
    assert (
        "Quantitative claims passing: 2 of 2 (1 of them measured on trained networks); "
        "qualitative: 0 of 1; **failed: 1**" in text
    )
    claims_part = text.split("## Claims")[1].split("## Discrepancies")[0]
    assert "T ∈ {10, 20, 40}" in claims_part and "[figX.png](figX.png)" in claims_part
    assert "**FAIL** | qualitative | bad bound" in claims_part
    assert "κ(V) separation" not in claims_part
    disc_part = text.split("## Discrepancies")[1].split("## Figures")[0]
    assert "| κ(V) separation |" in disc_part and "≈ 10×" in disc_part and "1.44" in disc_part
    assert "figY" in text and "ERROR" in text and "2.5 s" in text
    back = read_records(tmp_path / "claims.json")
    assert [c.status for c in back[0].claims] == ["pass", "pass", "fail", "discrepancy"]
    assert back[0].claims[0].params == good.params
    assert back[0].claims[1].network == on_net.network and back[0].claims[0].network == ""
    with pytest.raises(ValueError, match="network"):
        Claim("q", SRC, predicted=1.0, measured=0.5, comparison="less", network="an MLP")


# Figures whose fast mode is a long scan of small steps (RNN training over 10^3-10^5 GD
# epochs) run 2-3x slower with XLA's optimisation off, which the test run switches off to
# compile faster (tests/conftest.py): measured for fig44's computation, 59 s against 22 s.
# They run in a child process with the default XLA flags (float64 and strict promotion as
# here; the annotation checks stay in the parent, whose tests cover the same functions).
OPTIMISED = {"fig43_ghost_rnn", "fig44_ghost_rank"}


def _check_fast_mode(name, out):
    rec = run_figure(name, out=out, fast=True)
    assert rec.error is None, rec.error
    assert rec.files and all((out / f).exists() for f in rec.files)
    assert rec.claims, "a figure must register at least one claim"
    assert_claims(rec.claims)
    assert audit_claims(rec.claims) == []
    assert (out / "data" / f"{name}.npz").exists()


_CHILD = """
import sys
from pathlib import Path

import jax

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_dtype_promotion", "strict")
from tests.claims.test_claims_and_figures import _check_fast_mode

_check_fast_mode(sys.argv[1], Path(sys.argv[2]))
"""


@pytest.mark.parametrize("name", figure_modules())
def test_figure_fast_mode_claims_pass(name, tmp_path):
    """Every figure script runs in fast mode, writes its files, its claims hold and keep the
    rules (`audit_claims`: computed predictions at three or more parameter values, tolerances
    tied to error estimates, qualitative claims that are bounds, citations)."""
    if name not in OPTIMISED:
        _check_fast_mode(name, tmp_path)
        return
    env = dict(os.environ)
    # (imported here: the child imports this module, and conftest would set the flags again)
    from tests.conftest import TEST_XLA_FLAGS  # noqa: PLC0415

    added = {f"--{flag}={value}" for flag, value in TEST_XLA_FLAGS.items()}
    env["XLA_FLAGS"] = " ".join(f for f in env.get("XLA_FLAGS", "").split() if f not in added)
    env.setdefault("JAX_COMPILATION_CACHE_DIR", jax.config.jax_compilation_cache_dir or "")
    root = Path(__file__).resolve().parents[2]
    child = subprocess.run(
        [sys.executable, "-c", _CHILD, name, str(tmp_path)],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
    )
    assert child.returncode == 0, child.stderr[-4000:]


@pytest.mark.slow
@pytest.mark.parametrize("name", figure_modules())
def test_figure_full_mode_claims_pass(name, tmp_path):
    """Full (paper-size) mode, which `make reproduce FULL=1` runs: every claim passes or is
    a listed discrepancy, including the claims that fast mode lacks."""
    rec = run_figure(name, out=tmp_path, fast=False, plot=False)
    assert rec.error is None, rec.error
    assert rec.claims
    assert_claims(rec.claims)
    assert audit_claims(rec.claims) == []


def test_figure_scripts_follow_the_convention():
    for name in figure_modules():
        mod = load(name)
        for attr in ("TITLE", "SEED", "compute", "claims", "plot"):
            assert hasattr(mod, attr), f"{name} lacks {attr}"
