"""Reading SMS replies (rules/replies.py): whitespace is forgiven, nothing else is guessed."""

from __future__ import annotations

import pytest

from models.programs import ReplyCodes
from rules.replies import parse_reply

CODES = ReplyCodes()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("21*1", "agree"),
        ("21*2", "refuse"),
        (" 21 * 1 ", "agree"),
        ("2 1*1", "agree"),
        ("\t21*2\n", "refuse"),
        ("21*1\u00a0", "agree"),  # a no-break space is still a space
        ("\r\n 21 *2 \r\n", "refuse"),
    ],
)
def test_codes_are_recognised_whatever_the_spacing(text: str, expected: str) -> None:
    """Spaces, tabs and line breaks around or inside a code do not change its meaning."""
    assert parse_reply(text, CODES) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "21\uff0a1",  # full-width asterisk
        "21\u22171",  # asterisk operator
        "21\u00d71",  # multiplication sign
        "21\u20321",  # prime
        "\uff12\uff11*\uff11",  # full-width digits
        "21*1.",
        "21*1!",
        "*21*1#",
        "21-1",
        "211",
        "21*3",
        "21*1 21*1",
        "21*12",
        "да",
        "ИӘ",
        "yes",
        "1",
        "21*\u200b1",  # zero-width space is not whitespace
    ],
)
def test_anything_else_is_unrecognised(text: str) -> None:
    """Look-alike characters, punctuation, words and extra digits are never taken as an answer."""
    assert parse_reply(text, CODES) == "unrecognised"


def test_the_program_codes_are_used_not_hard_coded_ones() -> None:
    """A version with its own reply codes is read with those codes only."""
    codes = ReplyCodes(agree="1", refuse="0")
    assert parse_reply(" 1 ", codes) == "agree"
    assert parse_reply("0", codes) == "refuse"
    assert parse_reply("21*1", codes) == "unrecognised"
