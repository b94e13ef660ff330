"""The named choices every layer agrees on, defined once: search modes, embedding backends, BM25 engines,
hybrid's lexical-evidence rule, the release languages a search can filter on, and the orders and facets
a search can ask for (issue #14).

The CLI's ``choices``, the API's query-parameter type, the searcher's and the embedder's checks
and the evaluation all read them from here.
"""

from __future__ import annotations

from typing import Literal, get_args

SearchMode = Literal["hybrid", "dense", "lexical"]
MODES: tuple[str, ...] = get_args(SearchMode)

Backend = Literal["torch", "onnx", "onnx-int8"]
BACKENDS: tuple[str, ...] = get_args(Backend)

LexicalEngine = Literal["memory", "fts5"]
LEXICAL_ENGINES: tuple[str, ...] = get_args(LexicalEngine)

LexicalEvidence = Literal["language-agreement", "index"]
LEXICAL_EVIDENCE: tuple[str, ...] = get_args(LexicalEvidence)

Language = Literal["th", "en"]
LANGUAGES: tuple[str, ...] = get_args(Language)

SortOrder = Literal["relevance", "date_desc", "date_asc"]
SORT_ORDERS: tuple[str, ...] = get_args(SortOrder)

Facet = Literal["category", "year", "month"]
FACETS: tuple[str, ...] = get_args(Facet)
