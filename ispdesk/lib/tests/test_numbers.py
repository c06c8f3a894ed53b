"""Whole numbers from typed text: only ASCII digits count."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ispdesk.lib.numbers import ascii_int


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("42", 42),
        (" 7 ", 7),
        ("007", 7),
        ("²", None),
        ("٣", None),
        ("-1", None),
        ("+1", None),
        ("1.5", None),
        ("", None),
        ("   ", None),
        (None, None),
        (12, None),
        ("1" * 19, None),
    ],
)
def test_it_reads_only_ascii_digits(raw, expected):
    assert ascii_int(raw) == expected


def test_it_honours_a_smaller_limit():
    assert ascii_int("12345", max_digits=4) is None
    assert ascii_int("1234", max_digits=4) == 1234


@given(st.text(max_size=25))
def test_it_never_raises(text):
    value = ascii_int(text)
    assert value is None or value == int(text.strip())
