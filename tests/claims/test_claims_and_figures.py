"""Claims, the report, and every figure script in fast mode."""

import json

import pytest

from figures._common import figure_modules, load, run_figure
from toymodels.claims import Claim, Comparison, assert_claims, write_report


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


def test_report_shows_failures(tmp_path):
    from toymodels.claims import FigureRecord

    good = Claim("good", "p", predicted=1.0, measured=1.0, atol=1e-9)
    bad = Claim("bad", "p", predicted=1.0, measured=2.0, atol=1e-9)
    rec = FigureRecord("figX", "t", [], [good, bad], 0.1, True)
    err = FigureRecord("figY", "t", [], [], 0.1, True, error="ValueError: boom")
    text = write_report([rec, err], tmp_path / "REPORT.md").read_text()
    assert "**FAIL** | bad" in text and "pass | good" in text
    assert "figY" in text and "ERROR" in text
    stored = json.loads((tmp_path / "claims.json").read_text())
    assert stored[0]["claims"][1]["passed"] is False


@pytest.mark.parametrize("name", figure_modules())
def test_figure_fast_mode_claims_pass(name, tmp_path):
    """Every figure script runs in fast mode, writes its files, and its claims hold."""
    rec = run_figure(name, out=tmp_path, fast=True)
    assert rec.error is None, rec.error
    assert rec.files and all((tmp_path / f).exists() for f in rec.files)
    assert rec.claims, "a figure must register at least one claim"
    assert_claims(rec.claims)
    assert (tmp_path / "data" / f"{name}.npz").exists()


def test_figure_scripts_follow_the_convention():
    for name in figure_modules():
        mod = load(name)
        for attr in ("TITLE", "SEED", "compute", "claims", "plot"):
            assert hasattr(mod, attr), f"{name} lacks {attr}"
