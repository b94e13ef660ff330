"""What a search returns: one type from the searcher through the CLI's JSON to the API's schema."""

from __future__ import annotations

from pydantic import BaseModel, Field


class SearchResult(BaseModel):
    id: str
    title: str
    date: str | None = Field(description="ISO YYYY-MM-DD (Gregorian), or null when the release has no date.")
    category: str
    url: str = Field(description="Source URL on thaigov.go.th (may be empty).")
    score: float
    snippet: str = Field(description="HTML: escaped text; matched words wrapped in <mark>. No other tags.")


class SearchResponse(BaseModel):
    query: str
    took_ms: float
    total: int = Field(description="Matching articles in all (for pagination).")
    results: list[SearchResult] = Field(default_factory=list)
    suggested_filter: dict[str, str] | None = Field(
        default=None, description="A period the query names (e.g. 'ปี 2561', 'May 2022') as date_from/date_to: "
        "releases from it already rank a little higher; pass it as a filter to see only those.")

    def to_dict(self) -> dict:
        return self.model_dump()
