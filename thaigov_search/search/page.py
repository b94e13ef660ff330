"""One page of results as the API shows them: each article's row, snippet, folded versions and twin.

Two queries for the page's articles and passages and one for their twins, whatever the page size
(never a query per result).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from thaigov_search.search.lexical.terms import QueryTerms
from thaigov_search.search.results import SearchResult, TwinLink
from thaigov_search.search.snippets import make_snippet, snippet_passage
from thaigov_search.store import queries
from thaigov_search.store import twins as twin_store


def page_results(conn, page: Sequence[tuple[int, float]], terms: QueryTerms, best_pid: Mapping[int, int],
                 folded: Mapping[int, int] | None = None) -> list[SearchResult]:
    """``page`` ((rowid, score) in order) as results; ``best_pid`` is the dense passage of each
    article (its snippet when no query word is in the article), ``folded`` the versions folded in."""
    if not page:
        return []
    rowids = [rowid for rowid, _ in page]
    rows = queries.result_rows(conn, rowids)
    passages = queries.passages_of(conn, rowids)
    twins = twin_store.twin_rows(conn, rowids)
    term_set = set(terms.terms)
    out = []
    for rowid, score in page:
        row = rows[rowid]
        text = snippet_passage(passages.get(rowid, []), term_set, best_pid.get(rowid))
        twin = twins.get(rowid)
        out.append(SearchResult(id=row[0], title=row[1], date=row[2], category=row[3], url=row[4],
                                score=round(float(score), 6), snippet=make_snippet(text, term_set),
                                duplicates=(folded or {}).get(rowid, 0),
                                twin=link(twin)))
    return out


def twin_of(conn, rowid: int) -> TwinLink | None:
    """The twin of one article (for /documents/{id})."""
    return link(twin_store.twin_rows(conn, [rowid]).get(rowid))


def link(twin: tuple[str, str, str, str] | None) -> TwinLink | None:
    return TwinLink(id=twin[0], title=twin[1], language=twin[2], url=twin[3]) if twin else None
