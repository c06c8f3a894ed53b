"""Whole numbers from text that people or other systems typed.

`str.isdigit()` is true for "²" and other Unicode digits that `int()` refuses, so checking
with it and then converting turns odd input into a 500. Parse here instead.
"""

from __future__ import annotations

import re

_DIGITS = re.compile(r"[0-9]{1,18}")


def ascii_int(raw: object, *, max_digits: int = 18) -> int | None:
    """The number `raw` spells in ASCII digits (surrounding spaces allowed); None for
    anything else: signs, Unicode digits, empty, too long, not text."""
    if not isinstance(raw, str):
        return None
    text = raw.strip()
    if len(text) > max_digits or not _DIGITS.fullmatch(text):
        return None
    return int(text)
