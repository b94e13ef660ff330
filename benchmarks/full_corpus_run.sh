#!/usr/bin/env bash
# Index the whole corpus the way docs/performance.md measured it: the run is killed with SIGKILL
# after KILL_AFTER seconds and resumed, to show that a crash costs only the batch in flight.
# Writes the two runs' logs (progress bar with ETA), GNU time reports and a summary JSON to OUT.
#
#   benchmarks/full_corpus_run.sh ../shared/data/thaigov-news.jsonl.xz /srv/thaigov-index benchmarks/results/full-run
#
# Settings come from the environment like any run (defaults below: ONNX int8, lead passage only).
set -euo pipefail
INPUT=${1:?usage: full_corpus_run.sh INPUT INDEX_DIR OUT_DIR}
INDEX=${2:?usage: full_corpus_run.sh INPUT INDEX_DIR OUT_DIR}
OUT=${3:?usage: full_corpus_run.sh INPUT INDEX_DIR OUT_DIR}
KILL_AFTER=${KILL_AFTER:-180}
export THAIGOV_SEARCH_BACKEND=${THAIGOV_SEARCH_BACKEND:-onnx-int8}
export THAIGOV_SEARCH_MAX_PASSAGES_PER_ARTICLE=${THAIGOV_SEARCH_MAX_PASSAGES_PER_ARTICLE:-1}
CLI=${CLI:-.venv/bin/thaigov-search}
mkdir -p "$OUT"
[ -e "$INDEX" ] && { echo "$INDEX exists; give a new directory" >&2; exit 2; }

stamp() { date -u +%s.%N; }
t0=$(stamp)
/usr/bin/time -v "$CLI" index --input "$INPUT" --index-dir "$INDEX" --json >"$OUT/part1.json" 2>"$OUT/part1.log" &
pid=$!
sleep "$KILL_AFTER"
pkill -KILL -P "$pid" || true   # the indexer is GNU time's child
wait "$pid" || true
t1=$(stamp)
/usr/bin/time -v "$CLI" index --input "$INPUT" --index-dir "$INDEX" --json >"$OUT/part2.json" 2>"$OUT/part2.log"
t2=$(stamp)

python3 - "$OUT" "$INDEX" "$t0" "$t1" "$t2" <<'EOF'
import json, re, sqlite3, sys
from pathlib import Path
out, index, t0, t1, t2 = Path(sys.argv[1]), Path(sys.argv[2]), *map(float, sys.argv[3:])
def peak_mb(log):
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", (out / log).read_text(errors="replace"))
    return round(int(m.group(1)) / 1024, 1) if m else None
def last_bar(log):
    lines = re.split(r"[\r\n]", (out / log).read_text(errors="replace"))
    return next((l for l in reversed(lines) if "indexing:" in l), "")
part2 = json.loads((out / "part2.json").read_text())
manifest = json.loads((index / "manifest.json").read_text())
db = sum(p.stat().st_size for p in index.iterdir() if p.is_file())
articles = manifest["articles"]
wall = t2 - t0
with sqlite3.connect(f"file:{index / 'index.sqlite'}?mode=ro", uri=True) as conn:
    tokens = conn.execute("SELECT sum(n_tokens) FROM passages WHERE vector IS NOT NULL").fetchone()[0]
    stored = conn.execute("SELECT count(*) FROM passages").fetchone()[0]
summary = {
    "benchmark": "full_corpus_index", "label": "ONNX int8, lead passage",
    "articles": articles, "embedded_passages": manifest["passages"], "wall_seconds": round(wall, 1),
    "stored_passages": stored, "tokens": tokens, "tokens_per_s": round(tokens / wall, 1),
    "wall_minutes": round(wall / 60, 2), "articles_per_s": round(articles / wall, 2),
    "part1_killed_after_s": round(t1 - t0, 1), "part1_last_progress": last_bar("part1.log"),
    "part2_seconds": round(t2 - t1, 1), "part2_report": part2, "part2_last_progress": last_bar("part2.log"),
    "peak_rss_mb": max(filter(None, [peak_mb("part1.log"), peak_mb("part2.log")])),
    "index_bytes": db, "faiss_snapshot": manifest.get("snapshot"),
}
(out / "summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2) + "\n")
print(json.dumps(summary, ensure_ascii=False, indent=2))
EOF
