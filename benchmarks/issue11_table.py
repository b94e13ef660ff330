"""Markdown tables of benchmarks/issue11_evals.sh's JSON (before/after, every mode, per language)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

folder = Path(sys.argv[1] if len(sys.argv) > 1 else "benchmarks/results/issue11")
names = sorted({p.stem.split("-", 1)[1] for p in folder.glob("*.json")})
print("| set | index | mode | queries | nDCG@10 before | after | MRR@10 before | after | R@10 after | en@10 before | after |")
print("|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|")
for name in names:
    before, after = folder / f"before-{name}.json", folder / f"after-{name}.json"
    if not (before.exists() and after.exists()):
        continue
    b = {r["mode"]: r for r in json.loads(before.read_text())}
    a = {r["mode"]: r for r in json.loads(after.read_text())}
    set_name, setting = name.rsplit("-", 1)
    for mode in ("hybrid", "dense", "lexical"):
        rows = [("all", b[mode], a[mode])]
        for lang in sorted(a[mode].get("by_lang", {})):
            rows.append((lang, b[mode]["by_lang"][lang], a[mode]["by_lang"][lang]))
        for lang, rb, ra in rows:
            label = set_name if lang == "all" else f"{set_name} ({lang})"
            print(f"| {label} | {setting} | {mode} | {ra['queries']} | {rb['ndcg@10']:.4f} | {ra['ndcg@10']:.4f} | "
                  f"{rb['mrr@10']:.4f} | {ra['mrr@10']:.4f} | {ra['recall@10']:.4f} | {rb['en@10']:.2f} | {ra['en@10']:.2f} |")
