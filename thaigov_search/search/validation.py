"""Input checks shared by the CLI and the HTTP API, with messages a user can act on."""

from __future__ import annotations

import datetime as dt
import unicodedata


def validate_date(value: str | None, name: str) -> str | None:
    """ISO YYYY-MM-DD (Gregorian) or None; anything else is a ValueError that says what was expected."""
    if value is None or value == "":
        return None
    try:
        return dt.date.fromisoformat(value.strip()).isoformat()
    except ValueError as exc:
        raise ValueError(f"{name} must be a date as YYYY-MM-DD (Gregorian calendar), got {value!r}") from exc


def validate_date_range(date_from: str | None, date_to: str | None) -> tuple[str | None, str | None]:
    start, end = validate_date(date_from, "date_from"), validate_date(date_to, "date_to")
    if start and end and start > end:
        raise ValueError(f"date_from ({start}) is after date_to ({end})")
    return start, end


def has_control_chars(text: str, allowed: str = "") -> bool:
    """True when ``text`` holds a control character (Unicode category Cc) other than those in ``allowed``."""
    return any(unicodedata.category(ch) == "Cc" and ch not in allowed for ch in text)


def clean_query(query: str, max_chars: int) -> str:
    """Reject empty, too long or control-character queries; return it stripped."""
    if has_control_chars(query, allowed="\t\n\r"):
        raise ValueError("the query contains control characters")
    stripped = query.strip()
    if not stripped:
        raise ValueError("the query is empty")
    if len(stripped) > max_chars:
        raise ValueError(f"the query is {len(stripped)} characters long; the limit is {max_chars}")
    return stripped
