"""The one formula rule shared by CSV reports and vendor fields."""

import pytest

from connector.text_safety import looks_like_formula, neutralise_cell, neutralise_formula


@pytest.mark.parametrize("text", ["=cmd|' /C calc'!A0", "+1", "-2+3", "@SUM(A1)", "\tx", "\rx"])
def test_a_formula_start_gets_a_quote(text: str) -> None:
    assert looks_like_formula(text)
    assert neutralise_formula(text) == "'" + text


@pytest.mark.parametrize("text", ["Ada Lovelace", "", "1-2", "a=b", "'=already"])
def test_ordinary_text_is_unchanged(text: str) -> None:
    assert neutralise_formula(text) == text


def test_numbers_and_none_are_cells_not_formulas() -> None:
    assert neutralise_cell(-3) == -3
    assert neutralise_cell(None) is None
    assert neutralise_cell("-3") == "'-3"
