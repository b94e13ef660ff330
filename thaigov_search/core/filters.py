"""Restrictions a search may carry (dates, category, language): one value type for the CLI, the API and the searcher."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Filters:
    """Restrictions on date (ISO, inclusive), category (exact section name) and language (th/en)."""

    date_from: str | None = None
    date_to: str | None = None
    category: str | None = None
    language: str | None = None

    @property
    def active(self) -> bool:
        return bool(self.date_from or self.date_to or self.category or self.language)

    def given(self) -> dict[str, str]:
        """The restrictions set, by name: what search analytics record and what a feed's URL carries."""
        return {name: value for name in ("date_from", "date_to", "category", "language") if (value := getattr(self, name))}
