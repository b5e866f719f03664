"""Reading a citizen's SMS reply to a consent request (SPEC.md §3 step 4)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from models.programs import ReplyCodes

__all__ = ["ReplyMeaning", "parse_reply"]

ReplyMeaning = Literal["agree", "refuse", "unrecognised"]


def _squeeze(text: str) -> str:
    return "".join(text.split())


def parse_reply(text: str, codes: ReplyCodes) -> ReplyMeaning:
    """Classify a reply against the program's reply codes.

    Whitespace anywhere is ignored (``" 21 * 1 "`` is ``21*1``): phones and people add it.
    Nothing else is forgiven: a look-alike asterisk, full-width digits, punctuation or any
    extra character make the reply unrecognised, because a guessed consent is no consent.

    Args:
        text: The SMS body as received.
        codes: The program version's reply codes.

    Returns:
        ``"agree"``, ``"refuse"`` or ``"unrecognised"``.
    """
    reply = _squeeze(text)
    if reply == _squeeze(codes.agree):
        return "agree"
    if reply == _squeeze(codes.refuse):
        return "refuse"
    return "unrecognised"
