"""Build the government-news development sets of docs/quality.md from the 10k subset, deterministically.

Everything comes from ``thaigov-news-10k.jsonl.xz`` read and parsed by the indexer itself
(``iter_records`` → ``parse_record``), so ids are release ids and titles/bodies are what the index
holds. The 100 releases of ``../shared/eval/thaigov-news-dev`` are never used. The adaptation
helper trains only on releases outside the 10k subset, so these sets are disjoint from training.

Sets written under ``--out`` (default ``/work/cache/devsets``; nothing here is committed except
the hand-written queries, which live in ``benchmarks/devsets/``):

``headline-body/``
    query = a release's headline, relevant = that release. Its corpus (``corpus.jsonl.gz``, generic
    JSONL the indexer reads: ``id, title, body, date, category, url, language``) is the whole 10k
    subset as parsed, except that the target releases lose their title, and every repeat of the
    headline in their body is removed (exact repeats, lines that are the headline with small edits,
    and the headline as a substring). Every other release is unchanged, so an index of this corpus
    differs from the plain 10k index only in the targets (copy the plain index and let the indexer
    re-embed those: ``eval --index-dir copy --corpus headline-body/corpus.jsonl.gz``).
    ``--thai`` Thai and ``--english`` English releases, queries carry ``lang``.

``paraphrase/``
    ``benchmarks/devsets/news-paraphrase.jsonl`` (hand-written Thai and English paraphrases, see its
    README) as queries.jsonl + qrels.tsv; the corpus is the plain 10k subset.

``twin-headline/`` (with ``--twins``: English <-> Thai twins mined from the full corpus by
``scripts/mine_twins.py``, e5-small at its checked threshold)
    query = the headline of a twin release in the 10k subset (not a dev-set target), relevant = its
    twin in the other language. ``extra.jsonl.gz`` holds the twins from outside the subset (parsed
    from ``--full-corpus``): index them into a copy of the 10k index. ``own.txt`` lists the queries'
    own releases: with them in the index the set measures what the twin link adds (the own release
    is found first, the twin should follow: MRR 0.5 at best); with them deleted
    (``index --delete $(cat own.txt)``) it measures the bridge between the languages alone.

Releases eligible as targets: a title of 4-40 words (newmm) that no other release of the subset
shares, a body of 400+ characters, a date, and not a schedule/synopsis page (titles such as
สรุปข่าวการประชุมคณะรัฐมนตรี, Cabinet Meeting Synopsis, กำหนดการ..., ภารกิจ...). Sampled with
``random.Random(SEED)`` over the eligible ids in sorted order.

    python benchmarks/build_news_devsets.py --corpus ../shared/data/thaigov-news-10k.jsonl.xz
"""

from __future__ import annotations

import argparse
import difflib
import gzip
import json
import random
import re
from pathlib import Path

SEED = 20261203
HERE = Path(__file__).resolve().parent
PARAPHRASES = HERE / "devsets" / "news-paraphrase.jsonl"
SKIP_TITLES = re.compile(
    r"สรุปข่าวการประชุม|synopsis|กำหนดการ|^ภารกิจ|agenda|schedule|ตารางการ|สรุปผลการประชุมคณะรัฐมนตรี", re.I)


def load_articles(corpus: Path) -> dict:
    from thaigov_search.indexing.parsing import EmptyArticleError, parse_record
    from thaigov_search.indexing.sources import ReadStats, iter_records

    out = {}
    for rec in iter_records([corpus], ReadStats()):
        try:
            out[rec.id] = parse_record(rec)
        except EmptyArticleError:
            continue
    return out


def squash(s: str) -> str:
    return "".join(s.split()).casefold()


def strip_headline(title: str, body: str) -> str:
    """The body without the headline: repeated lines (exact or near: difflib ratio >= 0.8) are
    dropped and the headline inside a longer line is cut out."""
    key = squash(title)
    kept = []
    for line in body.split("\n"):
        s = line.strip()
        if s and len(s) < 2 * len(title) + 10 and difflib.SequenceMatcher(None, squash(s), key).ratio() >= 0.8:
            continue
        if title and title in s:
            s = " ".join(s.replace(title, " ").split())
        kept.append(s)
    text = "\n".join(kept)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def eligible(articles: dict, excluded: set[str]) -> list[str]:
    from thaigov_search.core.thai_text import thai_words

    title_count: dict[str, int] = {}
    for a in articles.values():
        title_count[squash(a.title)] = title_count.get(squash(a.title), 0) + 1
    ids = []
    for doc_id in sorted(articles):
        a = articles[doc_id]
        if doc_id in excluded or not a.title or not a.date or len(a.body) < 400:
            continue
        if title_count[squash(a.title)] > 1 or SKIP_TITLES.search(a.title):
            continue
        words = [w for w in thai_words(a.title) if w.strip()]
        if not 4 <= len(words) <= 40:
            continue
        ids.append(doc_id)
    return ids


def write_beir_queries(folder: Path, rows: list[dict]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "queries.jsonl", "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    with open(folder / "qrels.tsv", "w", encoding="utf-8") as fh:
        fh.write("query-id\tcorpus-id\tscore\n")
        for row in rows:
            fh.write(f"{row['_id']}\t{row['target']}\t1\n")


def build_headline_body(articles: dict, pool: list[str], n_th: int, n_en: int, out: Path) -> dict:
    rng = random.Random(SEED)
    thai = [i for i in pool if articles[i].language == "th"]
    english = [i for i in pool if articles[i].language == "en"]
    chosen = sorted(rng.sample(thai, min(n_th, len(thai)))) + sorted(rng.sample(english, min(n_en, len(english))))
    rows = [{"_id": f"{i}-h", "text": articles[i].title, "lang": articles[i].language, "target": i,
             "target_lang": articles[i].language} for i in chosen]
    folder = out / "headline-body"
    write_beir_queries(folder, rows)
    targets = set(chosen)
    with gzip.open(folder / "corpus.jsonl.gz", "wt", encoding="utf-8") as fh:
        for doc_id, a in articles.items():
            title, body = a.title, a.body
            if doc_id in targets:
                title, body = "", strip_headline(a.title, a.body)
            fh.write(json.dumps({"id": doc_id, "title": title, "body": body, "date": a.date or "",
                                 "category": a.category, "url": a.url, "language": a.language},
                                ensure_ascii=False) + "\n")
    return {"queries": len(rows), "th": sum(r["lang"] == "th" for r in rows),
            "en": sum(r["lang"] == "en" for r in rows)}


def shared_runs(query: str, text: str, n: int = 4) -> list[str]:
    """Runs of n+ consecutive words (newmm) of the query that also occur in the text."""
    from thaigov_search.core.thai_text import thai_words

    def words(s: str) -> list[str]:
        return [w.casefold() for w in thai_words(s) if w.strip()]

    q, t = words(query), words(text)
    grams = {tuple(t[i:i + n]) for i in range(len(t) - n + 1)}
    return [" ".join(q[i:i + n]) for i in range(len(q) - n + 1) if tuple(q[i:i + n]) in grams]


def build_paraphrase(articles: dict, excluded: set[str], out: Path) -> dict:
    rows = [json.loads(line) for line in PARAPHRASES.read_text(encoding="utf-8").splitlines() if line.strip()]
    for row in rows:
        a = articles.get(row["target"])
        if a is None:
            raise SystemExit(f"{row['_id']}: target {row['target']} is not in the corpus")
        if row["target"] in excluded:
            raise SystemExit(f"{row['_id']}: target {row['target']} is a thaigov-news-dev target")
        runs = shared_runs(row["text"], a.title + "\n" + a.body)
        if runs:
            raise SystemExit(f"{row['_id']}: shares word runs with its release: {runs[:3]}")
        row["target_lang"] = a.language
    write_beir_queries(out / "paraphrase", rows)
    return {"queries": len(rows), "th": sum(r["lang"] == "th" for r in rows),
            "en": sum(r["lang"] == "en" for r in rows), "releases": len({r["target"] for r in rows})}


def build_twin_headline(articles: dict, excluded: set[str], twins_file: Path, full_corpus: Path, out: Path) -> dict:
    from thaigov_search.indexing.parsing import parse_record
    from thaigov_search.indexing.sources import ReadStats, iter_records

    twins = [json.loads(line) for line in twins_file.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows, outside = [], set()
    for t in sorted(twins, key=lambda t: t["en_id"]):
        en_in, th_in = t["en_id"] in articles, t["th_id"] in articles
        if not (en_in or th_in) or {t["en_id"], t["th_id"]} & excluded:
            continue
        own, target = (t["en_id"], t["th_id"]) if en_in else (t["th_id"], t["en_id"])
        if not th_in or not en_in:
            outside.add(target)
        rows.append({"_id": f"{own}-twin", "lang": "en" if own == t["en_id"] else "th", "target": target, "own": own})
    extra = {}
    for rec in iter_records([full_corpus], ReadStats()):
        if rec.id in outside:
            extra[rec.id] = parse_record(rec)
    for row in rows:
        row["text"] = articles[row["own"]].title
        row["target_lang"] = "th" if row["lang"] == "en" else "en"
    folder = out / "twin-headline"
    write_beir_queries(folder, rows)
    (folder / "own.txt").write_text("\n".join(r["own"] for r in rows) + "\n", encoding="utf-8")
    with gzip.open(folder / "extra.jsonl.gz", "wt", encoding="utf-8") as fh:
        for doc_id, a in sorted(extra.items()):
            fh.write(json.dumps({"id": doc_id, "title": a.title, "body": a.body, "date": a.date or "",
                                 "category": a.category, "url": a.url, "language": a.language},
                                ensure_ascii=False) + "\n")
    return {"queries": len(rows), "en": sum(r["lang"] == "en" for r in rows),
            "th": sum(r["lang"] == "th" for r in rows), "extra_releases": len(extra)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=Path("../shared/data/thaigov-news-10k.jsonl.xz"))
    parser.add_argument("--dev", type=Path, default=Path("../shared/eval/thaigov-news-dev/qrels.tsv"),
                        help="qrels of the shared dev set, whose releases are never used")
    parser.add_argument("--out", type=Path, default=Path("/work/cache/devsets"))
    parser.add_argument("--thai", type=int, default=300)
    parser.add_argument("--english", type=int, default=100)
    parser.add_argument("--show-pool", type=int, default=0, metavar="N",
                        help="print N eligible releases not used by headline-body (to write paraphrases from)")
    parser.add_argument("--twins", type=Path, help="twins JSONL of the full corpus (scripts/mine_twins.py)")
    parser.add_argument("--full-corpus", type=Path, default=Path("../shared/data/thaigov-news.jsonl.xz"))
    args = parser.parse_args()
    excluded = {line.split()[1] for line in args.dev.read_text(encoding="utf-8").splitlines()[1:] if line.strip()}
    articles = load_articles(args.corpus)
    pool = eligible(articles, excluded)
    summary = {"seed": SEED, "corpus_articles": len(articles), "eligible": len(pool),
               "eligible_en": sum(articles[i].language == "en" for i in pool)}
    summary["headline-body"] = build_headline_body(articles, pool, args.thai, args.english, args.out)
    if args.show_pool:
        used = {line.split()[1] for line in (args.out / "headline-body" / "qrels.tsv").read_text().splitlines()[1:]}
        rest = [i for i in pool if i not in used]
        rng = random.Random(SEED + 1)
        for doc_id in sorted(rng.sample(rest, min(args.show_pool, len(rest)))):
            a = articles[doc_id]
            print(json.dumps({"id": doc_id, "lang": a.language, "date": a.date, "title": a.title,
                              "body": a.body[:900]}, ensure_ascii=False))
    if PARAPHRASES.exists():
        summary["paraphrase"] = build_paraphrase(articles, excluded, args.out)
    if args.twins:
        summary["twin-headline"] = build_twin_headline(articles, excluded, args.twins, args.full_corpus, args.out)
    (args.out / "summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=1), encoding="utf-8")
    print(json.dumps(summary, ensure_ascii=False))


if __name__ == "__main__":
    main()
