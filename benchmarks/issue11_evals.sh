#!/bin/bash
# Before/after evaluation of issue #11 on every dev set and both index settings (docs/quality.md).
# "before" = the ranking as it was (raw cosine, index-wide lexical coverage, no date preference),
# "after" = the defaults. Indexes: see /work/cache/README (built once, shared).
#   benchmarks/issue11_evals.sh OUTDIR [after|before ...]
set -euo pipefail
OUT=${1:-benchmarks/results/issue11}; shift || true
WHICH=${*:-before after}
PY=${PY:-/work/main/.venv/bin/python}
C=${CACHE:-/work/cache}
S=${SHARED:-../shared}
mkdir -p "$OUT"
run() {  # name index queries-folder ranking
  local name=$1 index=$2 set=$3 ranking=$4 env=()
  [ -d "$index" ] || { echo "skip $name: no $index"; return; }
  if [ "$ranking" = before ]; then
    env=(THAIGOV_SEARCH_DENSE_CALIBRATION=false THAIGOV_SEARCH_LEXICAL_EVIDENCE=index THAIGOV_SEARCH_DATE_WEIGHT=0)
  fi
  env "${env[@]}" PYTHONPATH=$PWD nice "$PY" -m thaigov_search.cli eval --index-dir "$index" --backend onnx-int8 \
      --queries "$set/queries.jsonl" --qrels "$set/qrels.tsv" --mode all --json > "$OUT/$ranking-$name.json"
  echo "$ranking-$name done"
}
for ranking in $WHICH; do
  for setting in lead all; do
    run wiki-th-$setting $C/idx-wiki-int8-$setting $S/eval/iapp-wiki-qa-valid $ranking
    run wiki-en-$setting $C/idx-wiki-int8-$setting $S/eval/iapp-wiki-qa-valid-en $ranking
    run newsdev-$setting $C/idx-10k-int8-$setting $S/eval/thaigov-news-dev $ranking
    run paraphrase-$setting $C/idx-10k-int8-$setting $C/devsets/paraphrase $ranking
    run headline-$setting $C/idx-h2b-int8-$setting $C/devsets/headline-body $ranking
  done
done
