"""Figures regenerate byte-identically and legibly: one cheap figure (fig01) drawn twice
from the same computed data gives the same PNG bytes and no illegible text; pdf and svg
saves carry no date or software version; the legibility check catches what it should."""

import warnings

import matplotlib.pyplot as plt
import numpy as np
import pytest

from figures import _common
from figures._common import caption, illegible, load, panels, save


@pytest.fixture(scope="module")
def fig01_data():
    return load("fig01_goodfellow_toy").compute(fast=True)


def test_figure_regenerates_byte_identically(fig01_data, tmp_path):
    module = load("fig01_goodfellow_toy")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # save warns on illegible text or a missing setup
        (a,) = module.plot(fig01_data, tmp_path / "a")
        (b,) = module.plot(dict(fig01_data), tmp_path / "b")
    assert a.read_bytes() == b.read_bytes()
    assert b"Software" not in a.read_bytes()[:4096] and len(a.read_bytes()) > 20_000


def test_pdf_saves_have_no_date(tmp_path):
    suffix = ".pdf"
    files = []
    for i in range(2):
        fig, ax = panels(width=_common.COLUMN_WIDTH)
        ax.plot(np.arange(5.0), np.arange(5.0) ** 2, label="x²")
        ax.legend()
        caption(fig, "a parabola, 5 points")
        files.append(save(fig, tmp_path / f"f{i}{suffix}").read_bytes())
    assert files[0] == files[1]
    for word in (b"CreationDate", b"ModDate", b"Matplotlib v", b"<dc:date>"):
        assert word not in files[0]


def test_illegible_finds_small_text_and_a_missing_setup(tmp_path):
    fig, ax = plt.subplots(figsize=(_common.PAGE_WIDTH, 2.0))
    ax.plot([0, 1], label="a")
    ax.legend(fontsize=6)  # fig20's former legends
    bad = illegible(fig)
    assert any("'a' at 6.0 pt" in b for b in bad) and any("no setup" in b for b in bad)
    caption(fig, "setup")
    ax.legend()
    assert illegible(fig) == []
    # a figure wider than the page is printed shrunk: 9 pt at 12 in prints below 5.25 pt
    fig.set_size_inches(12, 3)
    sizes = [float(b.rsplit(" at ", 1)[1].split()[0]) for b in illegible(fig)]
    assert sizes and max(sizes) <= 9 * 7 / 12 + 0.05
    with pytest.warns(UserWarning, match=r"small\.png: .* pt"):
        save(fig, tmp_path / "small.png")
