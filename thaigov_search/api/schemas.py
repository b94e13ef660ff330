"""What the API accepts and answers (pydantic models), and its shared limits.

Search results are :class:`thaigov_search.search.results.SearchResponse` itself: one type from
the searcher to the JSON.
"""

from typing import Annotated, Any, Literal

from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator

from thaigov_search.search.results import TwinLink

ID_PATTERN = r"^[\w.:-]{1,200}$"
"""Document ids: letters (Thai included), combining marks, digits and ``_ . : -``; 1–200 characters.

Corpus ids look like ``tg012535``; ids of directory inputs come from file names and may be Thai
(``thaigov-corpus_21_ด้านเศรษฐกิจ_4``); other publishers' ids (``moi:2024.001``) fit too. No ``/``,
``%``, spaces, punctuation or control characters: every id is one clean URL path segment and safe to
echo in logs and messages. Ids are only ever SQL parameters, never file names. (``\\w`` is Unicode:
pydantic checks the pattern with its Rust regex engine.)
"""
MAX_OFFSET = 10_000
MAX_SUGGEST_K = 20
MAX_SUGGEST_CHARS = 200
MAX_RECENCY_DAYS = 36_500
MAX_CATEGORY_CHARS = 200
DocId = Annotated[str, PathParam(pattern=ID_PATTERN, description="Document id, e.g. tg012535.")]


class ErrorOut(BaseModel):
    detail: str = Field(description="Why the request failed, in words a user can act on.")


class DocumentOut(BaseModel):
    id: str
    title: str
    date: str | None
    category: str
    url: str
    language: str
    body: str
    duplicates: list[str] = Field(default_factory=list, description="Ids of the other versions of this release "
                                  "(near-duplicates: word-level MinHash similarity >= the index's threshold).")
    twin: TwinLink | None = Field(default=None, description="The same release in the other language (English <-> "
                                  "Thai twin linked at index time), or null.")


class CategoryOut(BaseModel):
    category: str
    count: int


class StatsOut(BaseModel):
    articles: int
    passages: int
    model: str
    dimension: int
    built_at: str


class HealthOut(BaseModel):
    status: Literal["ok", "loading", "error"]
    detail: str | None = None


class ArticleIn(BaseModel):
    """One release to add or replace (same id = replace)."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=ID_PATTERN, examples=["moi-2024-0001"])
    title: str = Field(min_length=1, max_length=2000)
    body: str = Field(min_length=1)
    date: str | None = Field(default=None, max_length=100, examples=["2018-08-29"],
                             description="YYYY-MM-DD, or a Thai date such as '29 สิงหาคม 2561'.")
    category: str = Field(default="", max_length=MAX_CATEGORY_CHARS)
    url: str = Field(default="", max_length=2000, description="Source URL: empty, http:// or https://.")
    language: Literal["th", "en"] | None = Field(default=None, description="Detected from the text when omitted.")

    @field_validator("url")
    @classmethod
    def web_url(cls, value: str) -> str:
        if value and not value.lower().startswith(("http://", "https://")):
            raise ValueError("url must start with http:// or https://")
        return value


class WriteOut(BaseModel):
    indexed: int = Field(description="Articles added or replaced.")
    unchanged: int = Field(description="Articles already indexed with the same content.")
    deleted: int
    not_found: list[str] = Field(default_factory=list, description="Ids asked to delete that were not indexed.")
    ids: list[str] = Field(default_factory=list)
    passages: int = 0
    seconds: float = 0.0


ARTICLE_LIST = TypeAdapter(list[ArticleIn])
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut, "description": text}
    for code, text in {
        400: "Undecodable request (invalid UTF-8, malformed JSON).",
        404: "Unknown document or route.",
        413: "Request body too large.",
        422: "A parameter or field failed validation.",
        503: "The index is still loading or could not be opened; for writes: an `index` run holds the index "
             "(Retry-After says when to try again).",
        504: "The request took longer than the server's time limit.",
    }.items()
}
