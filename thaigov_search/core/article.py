"""The records that travel through the write path."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class RawRecord:
    """One input record before parsing, with where it came from (for warnings)."""

    id: str
    origin: str  # e.g. "thaigov-news.jsonl.xz:1234" or a file path
    text: str | None = None  # raw thaigov text (shared corpus format) ...
    fields: dict[str, str] | None = None  # ... or already-structured generic JSONL fields
    url: str = ""
    source: str = ""  # the corpus' original file name; its stem names the news section


@dataclass(frozen=True)
class Article:
    """A cleaned, parsed news release: the unit users search for."""

    id: str
    title: str
    body: str
    date: str | None = None  # ISO YYYY-MM-DD (Gregorian), None when the release has no date
    category: str = ""
    url: str = ""
    language: str = "th"  # "th" or "en"
    warnings: tuple[str, ...] = field(default=())

    def as_document(self) -> dict[str, str | None]:
        """What a reader is shown of an indexed release (``get`` in the CLI and the API): no parse warnings."""
        return {"id": self.id, "title": self.title, "date": self.date, "category": self.category, "url": self.url,
                "language": self.language, "body": self.body}


@dataclass(frozen=True)
class Passage:
    """A window of an article that is embedded and scored on its own."""

    article_id: str
    position: int  # 0-based order inside the article
    text: str  # the passage body text (what a snippet shows)
    embed_text: str  # what the model sees: title context + passage text
    n_tokens: int = 0
