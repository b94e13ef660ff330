"""`thaigov-search eval`: metric arithmetic, input errors, and one real run on a tiny BEIR set."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

from thaigov_search.cli import main
from thaigov_search.cli.evaluation import (
    JSON_KEYS,
    index_corpus,
    load_beir,
    mrr_at_k,
    ndcg_at_k,
    recall_at_k,
)

TINY = Path(__file__).parent / "fixtures" / "tiny-beir"
LOG2_3 = math.log2(3)  # discount at rank 2 = 1.5849625...


# ------------------------------------------------------------------------------------ nDCG
def test_ndcg_graded_ranks_1_and_3():
    # a (rel 2) at rank 1, b (rel 1) at rank 3:
    #   DCG  = 2/log2(2) + 1/log2(4) = 2 + 0.5        = 2.5
    #   IDCG = 2/log2(2) + 1/log2(3) = 2 + 0.63092975 = 2.63092975   (ideal order: a, b)
    #   nDCG = 2.5 / 2.63092975 = 0.95023...
    ranked = ["a", "x", "b", "y"]
    assert ndcg_at_k(ranked, {"a": 2, "b": 1}, 10) == pytest.approx(2.5 / (2 + 1 / LOG2_3))
    assert ndcg_at_k(ranked, {"a": 2, "b": 1}, 10) == pytest.approx(0.950234, abs=1e-6)


def test_ndcg_graded_swapped():
    # the worse document first: b (rel 1) at rank 1, a (rel 2) at rank 3:
    #   DCG = 1/1 + 2/log2(4) = 1 + 1 = 2;  IDCG as above = 2.63092975;  nDCG = 0.76019...
    assert ndcg_at_k(["b", "x", "a"], {"a": 2, "b": 1}, 10) == pytest.approx(2 / (2 + 1 / LOG2_3))


def test_ndcg_linear_gain_not_exponential():
    # one document of relevance 3 at rank 2, another of relevance 1 at rank 1:
    #   linear gain: DCG = 1 + 3/log2(3) = 2.89279;  IDCG = 3 + 1/log2(3) = 3.63093;  nDCG = 0.79671
    #   (the 2^rel - 1 variant would give (1 + 7/1.58496) / (7 + 1/1.58496) = 0.70981: not what we compute)
    value = ndcg_at_k(["low", "high"], {"high": 3, "low": 1}, 10)
    assert value == pytest.approx((1 + 3 / LOG2_3) / (3 + 1 / LOG2_3))
    assert value == pytest.approx(0.79671, abs=1e-5)


def test_ndcg_missing_relevant_document_lowers_score():
    # a found at rank 1, b never retrieved: DCG = 1;  IDCG = 1 + 1/log2(3) = 1.63093;  nDCG = 0.61315
    assert ndcg_at_k(["a", "x"], {"a": 1, "b": 1}, 10) == pytest.approx(1 / (1 + 1 / LOG2_3))


def test_ndcg_cutoff_and_ideal_truncated_to_k():
    ranked = [f"d{i}" for i in range(12)]
    # the only relevant document is at rank 11: outside the top 10
    assert ndcg_at_k(ranked, {"d10": 1}, 10) == 0.0
    # 12 relevant documents, all retrieved: the top 10 are ideal, IDCG also counts only 10 -> 1.0
    assert ndcg_at_k(ranked, dict.fromkeys(ranked, 1), 10) == pytest.approx(1.0)
    # perfect order at rank 1 -> 1.0
    assert ndcg_at_k(["a"], {"a": 1}, 10) == 1.0


def test_ndcg_zero_scores_duplicates_and_empty():
    # score 0 means judged non-relevant: it adds nothing to DCG nor to IDCG
    assert ndcg_at_k(["z", "a"], {"a": 1, "z": 0}, 10) == pytest.approx(1 / LOG2_3)  # a at rank 2: 0.63093
    # a document repeated in the ranking counts once (document-level): ["a", "a", "b"] == ["a", "b"]
    assert ndcg_at_k(["a", "a", "b"], {"b": 1}, 10) == pytest.approx(1 / LOG2_3)
    assert ndcg_at_k([], {"a": 1}, 10) == 0.0
    assert ndcg_at_k(["a"], {}, 10) == 0.0  # no relevant document: 0 (such queries are excluded anyway)


# -------------------------------------------------------------------------- recall / MRR
def test_recall_at_k():
    ranked = [f"d{i}" for i in range(100)]
    qrels = {"d3": 1, "d50": 2, "elsewhere": 1}
    assert recall_at_k(ranked, qrels, 10) == pytest.approx(1 / 3)  # only d3 in the top 10
    assert recall_at_k(ranked, qrels, 100) == pytest.approx(2 / 3)  # d3, d50; "elsewhere" never retrieved
    assert recall_at_k(ranked, {"d0": 1, "d99": 0}, 10) == 1.0  # score-0 judgements are not relevant
    assert recall_at_k([], qrels, 10) == 0.0
    assert recall_at_k(ranked, {}, 10) == 0.0
    assert recall_at_k(["d3", "d3", "d3"], {"d3": 1, "d4": 1}, 2) == 0.5  # duplicates count once


def test_mrr_at_k():
    ranked = ["x", "y", "a", "b"]
    assert mrr_at_k(ranked, {"a": 1, "b": 1}, 10) == pytest.approx(1 / 3)  # first relevant at rank 3
    assert mrr_at_k(ranked, {"a": 1}, 2) == 0.0  # outside the cutoff
    assert mrr_at_k(ranked, {"x": 0, "y": 2}, 10) == 0.5  # score 0 is not relevant; grade does not matter
    assert mrr_at_k([], {"a": 1}, 10) == 0.0
    assert mrr_at_k(["x", "x", "a"], {"a": 1}, 10) == 0.5  # the repeated x counts once


# -------------------------------------------------------------------------------- errors
def write_set(tmp_path: Path, corpus: str | None = None, queries: str | None = None, qrels: str | None = None) -> list[str]:
    """A valid tiny set with one file replaced; returns the CLI arguments for it."""
    files = {
        "corpus.jsonl": corpus if corpus is not None else
        '{"_id": "d1", "title": "t", "text": "ข่าวรัฐบาล"}\n{"_id": "d2", "title": "", "text": "ประชุม"}\n',
        "queries.jsonl": queries if queries is not None else '{"_id": "q1", "text": "ประชุม"}\n',
        "qrels.tsv": qrels if qrels is not None else "query-id\tcorpus-id\tscore\nq1\td2\t1\n",
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    return ["eval", "--corpus", str(tmp_path / "corpus.jsonl"), "--queries", str(tmp_path / "queries.jsonl"),
            "--qrels", str(tmp_path / "qrels.tsv"), "--json"]


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"qrels": "query-id\tcorpus-id\tscore\nq1\td2\t1\nq9\td1\t1\n"}, "qrels.tsv:3: query id 'q9' is not in the queries file"),
        ({"qrels": "query-id\tcorpus-id\tscore\nq1\td7\t1\n"}, "qrels.tsv:2: corpus id 'd7' is not in the corpus file"),
        ({"qrels": "q1\td2\t1\n"}, "qrels.tsv:1: expected the header"),
        ({"qrels": "query-id\tcorpus-id\tscore\nq1\td2\n"}, "qrels.tsv:2: expected 3 columns"),
        ({"qrels": "query-id\tcorpus-id\tscore\nq1\td2\thigh\n"}, "qrels.tsv:2: score 'high' is not a number"),
        ({"qrels": ""}, "qrels.tsv: file is empty"),
        ({"qrels": "query-id\tcorpus-id\tscore\n"}, "qrels.tsv: no judgements"),
        ({"corpus": ""}, "corpus.jsonl: file is empty"),
        ({"queries": "\n\n"}, "queries.jsonl: file is empty"),
        ({"corpus": '{"_id": "d1", "text": "x"}\n{"_id": "d2", "text": \n'}, "corpus.jsonl:2: not valid JSON"),
        ({"queries": '["q1", "text"]\n'}, "queries.jsonl:1: expected a JSON object"),
        ({"corpus": '{"_id": "d2", "title": "t"}\n'}, "corpus.jsonl:1: missing field(s) 'text'"),
        ({"queries": '{"text": "ประชุม"}\n'}, "queries.jsonl:1: missing field(s) '_id'"),
        ({"corpus": '{"_id": "d2", "text": "a"}\n{"_id": "d2", "text": "b"}\n'}, "corpus.jsonl:2: duplicate _id 'd2'"),
    ],
)
def test_bad_input_exits_2_with_file_and_line(tmp_path, capsys, files, message):
    assert main(write_set(tmp_path, **files)) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("error: ")
    assert message in captured.err
    assert captured.out == ""


def test_missing_file_exits_2(tmp_path, capsys):
    args = write_set(tmp_path)
    (tmp_path / "queries.jsonl").unlink()
    assert main(args) == 2
    assert "queries.jsonl" in capsys.readouterr().err


def test_bad_limit_and_mode(tmp_path, capsys):
    assert main([*write_set(tmp_path), "--limit-queries", "0"]) == 2
    assert "--limit-queries" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # argparse rejects an unknown mode itself
        main([*write_set(tmp_path), "--mode", "fuzzy"])


# ---------------------------------------------------------------------- end to end (real model)
@pytest.mark.slow
def test_eval_end_to_end_on_tiny_beir(tmp_path, capsys, settings, embedder):
    index_dir = tmp_path / "index"
    base = ["eval", "--corpus", str(TINY / "corpus.jsonl"), "--queries", str(TINY / "queries.jsonl"),
            "--qrels", str(TINY / "qrels.tsv"), "--index-dir", str(index_dir)]
    assert main([*base, "--mode", "all", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["mode"] for r in rows] == ["hybrid", "dense", "lexical"]
    by_mode = {r["mode"]: r for r in rows}
    for row in rows:
        assert tuple(row) == JSON_KEYS
        assert row["docs"] == 40
        assert row["queries"] == 15  # the 16th query has no relevant document in this slice: excluded
        for key in ("ndcg@10", "recall@10", "recall@100", "mrr@10"):
            assert 0.0 <= row[key] <= 1.0
            assert row[key] == round(row[key], 4)
        assert row["recall@100"] >= row["recall@10"]
        assert row["ndcg@10"] > 0.5, row  # 40 documents, questions that name their article: easy
        assert row["index_s"] > 0 and row["query_ms_p50"] > 0
    assert by_mode["lexical"]["ndcg@10"] > 0.5
    assert by_mode["hybrid"]["recall@100"] >= 0.9  # the result set (issue #14) may leave a weak one out ...
    assert main([*base, "--mode", "hybrid", "--json", "--raw"]) == 0
    assert json.loads(capsys.readouterr().out)["recall@100"] == 1.0  # ... the fused ranking has all 40 candidates

    # --index-dir is reused incrementally: the second indexing embeds nothing.
    data = load_beir(TINY / "corpus.jsonl", TINY / "queries.jsonl", TINY / "qrels.tsv")
    report, _ = index_corpus(data, index_dir, settings, embedder)
    assert (report.indexed, report.unchanged, report.embedded_passages) == (0, 40, 0)

    # Single mode, readable table, --limit-queries, same reused index.
    assert main([*base, "--mode", "lexical", "--limit-queries", "5"]) == 0
    table = capsys.readouterr().out
    assert "lexical" in table and "nDCG@10" in table and "5 judged queries" in table

    # A directory holding articles outside the corpus is refused (its results would be polluted).
    small = tmp_path / "small"
    small.mkdir()
    lines = (TINY / "corpus.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    qrels = (TINY / "qrels.tsv").read_text(encoding="utf-8").splitlines(keepends=True)
    shutil.copy(TINY / "queries.jsonl", small / "queries.jsonl")
    kept = [line for line in lines if '"iapp_00192"' in line]
    (small / "corpus.jsonl").write_text("".join(kept), encoding="utf-8")
    (small / "qrels.tsv").write_text(qrels[0] + "".join(q for q in qrels if "iapp_00192" in q), encoding="utf-8")
    assert main(["eval", "--corpus", str(small / "corpus.jsonl"), "--queries", str(small / "queries.jsonl"),
                 "--qrels", str(small / "qrels.tsv"), "--mode", "lexical", "--index-dir", str(index_dir)]) == 2
    assert "not in the corpus" in capsys.readouterr().err


# ------------------------------------------------- the shared corpus format, languages, fast path
SAMPLE_QUERIES = [  # (id, lang, text, relevant release); written for the releases in thaigov-sample.jsonl
    ("q-egov-th", "th", "สัมมนารัฐบาลอิเล็กทรอนิกส์ ประจินเปิดงาน", "tg012535"),
    ("q-egov-en", "en", "deputy prime minister opens e-government forum", "tg012535"),
    ("q-tokyo-en", "en", "prime minister cheers Thai athletes at the Olympics", "tg036214"),
    ("q-kenya-th", "th", "นายกฯ ส่งสารแสดงความเสียใจถึงผู้นำเคนยา", "tg014309"),
]


def write_lang_queries(folder: Path) -> tuple[Path, Path]:
    queries, qrels = folder / "queries.jsonl", folder / "qrels.tsv"
    queries.write_text("".join(json.dumps({"_id": q, "text": t, "lang": lang}, ensure_ascii=False) + "\n"
                               for q, lang, t, _ in SAMPLE_QUERIES), encoding="utf-8")
    qrels.write_text("query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{d}\t1\n" for q, _, _, d in SAMPLE_QUERIES),
                     encoding="utf-8")
    return queries, qrels


def test_shared_corpus_format_is_read_by_the_indexer_and_ids_are_checked(tmp_path):
    from tests.conftest import SAMPLE

    queries, qrels = write_lang_queries(tmp_path)
    data = load_beir(SAMPLE, queries, qrels)
    assert data.corpus_input == SAMPLE and not data.corpus
    assert "tg012535" in data.corpus_ids and len(data.corpus_ids) == 42
    assert data.langs == {"q-egov-th": "th", "q-egov-en": "en", "q-tokyo-en": "en", "q-kenya-th": "th"}
    bad = tmp_path / "bad.tsv"
    bad.write_text("query-id\tcorpus-id\tscore\nq-egov-th\ttg999999\t1\n", encoding="utf-8")
    with pytest.raises(ValueError, match="corpus id 'tg999999' is not in the corpus file"):
        load_beir(SAMPLE, queries, bad)


@pytest.mark.slow
def test_eval_ranks_every_mode_as_search_does_and_reports_by_language(tmp_path, capsys, settings, embedder,
                                                                      writable_index):
    """The fast path (one embedding per query, shared candidates, no snippets) gives the very ranking
    Searcher.search gives; per-language rows and en@10 come from the parsed languages."""
    from tests.conftest import SAMPLE
    from thaigov_search.cli.evaluation import evaluate
    from thaigov_search.search.searcher import Searcher

    queries, qrels = write_lang_queries(tmp_path)
    data = load_beir(SAMPLE, queries, qrels)
    results = evaluate(data, ("hybrid", "dense", "lexical"), settings, writable_index, embedder)
    searcher = Searcher(writable_index, settings, embedder=embedder)
    for result in results:
        for query_id, _, text, _ in SAMPLE_QUERIES:
            expected = [r.id for r in searcher.search(text, k=100, mode=result.mode).results]
            assert result.rankings[query_id] == expected, (result.mode, query_id)
        assert set(result.by_lang) == {"th", "en"}
        assert result.by_lang["en"]["queries"] == 2
        english = {i for i in data.corpus_ids if (doc := searcher.get(i)) is not None and doc.language == "en"}
        for query_id, ranked in result.rankings.items():
            assert result.per_query[query_id]["en@10"] == sum(1 for d in ranked[:10] if d in english)
    hybrid = results[0].to_dict()
    assert hybrid["by_lang"]["th"]["queries"] == 2 and 0.0 <= hybrid["by_lang"]["en"]["mrr@10"] <= 1.0

    # Without --corpus the existing index is judged as it is (nothing read, nothing indexed).
    assert main(["eval", "--index-dir", str(writable_index), "--queries", str(queries), "--qrels", str(qrels),
                 "--mode", "all", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["ndcg@10"] for r in rows] == [r.to_dict()["ndcg@10"] for r in results]
    assert rows[0]["index_s"] == 0.0
