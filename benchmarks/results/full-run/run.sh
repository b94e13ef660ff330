#!/bin/bash
# Full-corpus indexing run: part 1 is killed after 180 s (SIGKILL), part 2 resumes it.
cd /work/main
ARGS="index --input /work/shared/data/thaigov-news.jsonl.xz --index-dir /work/index-full --backend onnx-int8 --max-passages 1 --json"
date -u +%FT%TZ > /work/fullrun/start1
/usr/bin/time -v .venv/bin/thaigov-search $ARGS > /work/fullrun/part1.json 2> /work/fullrun/part1.log &
PID=$!
sleep 180
pkill -9 -f "thaigov-search index --input /work/shared/data/thaigov-news.jsonl.xz"
wait $PID
date -u +%FT%TZ > /work/fullrun/end1
date -u +%FT%TZ > /work/fullrun/start2
/usr/bin/time -v .venv/bin/thaigov-search $ARGS > /work/fullrun/part2.json 2> /work/fullrun/part2.log
date -u +%FT%TZ > /work/fullrun/end2
