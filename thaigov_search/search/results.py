"""What a search returns: one type from the searcher through the CLI's JSON to the API's schema."""

from __future__ import annotations

from pydantic import BaseModel, Field


class TwinLink(BaseModel):
    id: str
    title: str
    language: str = Field(description="'en' or 'th': the page shows 'Read in English' or 'อ่านภาษาไทย'.")
    url: str = Field(default="", description="Source URL of the twin (may be empty).")


class SearchResult(BaseModel):
    id: str
    title: str
    date: str | None = Field(description="ISO YYYY-MM-DD (Gregorian), or null when the release has no date.")
    category: str
    url: str = Field(description="Source URL on thaigov.go.th (may be empty).")
    score: float
    snippet: str = Field(description="HTML: escaped text; matched words wrapped in <mark>. No other tags.")
    duplicates: int = Field(default=0, description="Other versions of this release (near-duplicates in the result "
                            "set) folded into it when collapse=true; 0 if none. /documents/{id} lists them.")
    twin: TwinLink | None = Field(default=None, description="The same release in the other language (English <-> "
                                  "Thai twin linked at index time), or null.")


class FacetCount(BaseModel):
    value: str = Field(description="A category, a year (2018) or a month (2018-08).")
    count: int = Field(description="Results of the whole result set (after collapsing) with this value.")


class SearchResponse(BaseModel):
    query: str
    took_ms: float
    total: int = Field(description="Results in the whole result set (for pagination): articles matching the query "
                       "lexically or close enough to the best dense match (docs/api.md), duplicates folded when "
                       "collapse=true, at most 10,000.")
    results: list[SearchResult] = Field(default_factory=list)
    suggested_filter: dict[str, str] | None = Field(
        default=None, description="A period the query names (e.g. 'ปี 2561', 'May 2022') as date_from/date_to: "
        "releases from it already rank a little higher; pass it as a filter to see only those.")
    facets: dict[str, list[FacetCount]] = Field(
        default_factory=dict, description="Counts over the whole result set for each facet asked for (facets=): "
        "category largest first; year and month oldest first.")
    did_you_mean: str | None = Field(
        default=None, description="A corrected query built from the index's own words, offered only when this one "
        "found nothing lexically; null otherwise.")

    def to_dict(self) -> dict:
        return self.model_dump()


class Suggestion(BaseModel):
    text: str


class SuggestResponse(BaseModel):
    query: str
    suggestions: list[Suggestion] = Field(default_factory=list)

    def to_dict(self) -> dict:
        return self.model_dump()
