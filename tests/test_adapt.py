"""`thaigov-search adapt`: pair mining, batching and a real (tiny) training run on real releases."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from indexer.twins import Twin
from thaigov_search.adapt_pairs import load_articles, make_batches, mine_pairs, read_ids

FIXTURES = Path(__file__).parent / "fixtures"
SAMPLE = FIXTURES / "thaigov-sample.jsonl"
TWINS_SAMPLE = FIXTURES / "twins-sample.jsonl"
COVID_TWIN = Twin("tg036061", "tg036475", 0.86, 0.87, ("150.69",), 1)


def test_pairs_cover_every_kind_and_keep_the_title_out_of_its_positive():
    articles = load_articles([SAMPLE, TWINS_SAMPLE], progress=False)
    pairs = mine_pairs(articles, [COVID_TWIN], n_pairs=40, seed=1)
    kinds = {p.kind for p in pairs}
    assert kinds == {"title-lead", "lead-rest", "twin-en-th", "twin-th-en"}
    by_id = {a.id: a for a in articles}
    for p in pairs:
        if p.kind == "title-lead":
            assert p.query == by_id[p.group[0]].title and p.query not in p.positive
    en_th = next(p for p in pairs if p.kind == "twin-en-th")
    assert en_th.query.startswith("Cabinet approves 150.69") and en_th.positive.startswith("ครม. อนุมัติวงเงิน 150.69")


def test_mining_is_reproducible_for_a_seed():
    articles = load_articles([SAMPLE], progress=False)
    assert mine_pairs(articles, [], 30, seed=7) == mine_pairs(articles, [], 30, seed=7)


def test_a_batch_never_holds_two_pairs_of_one_story():
    # The English release and its Thai twin each give a title-lead pair and the twin gives two more:
    # in one batch their positives would be false negatives that push English and Thai apart.
    articles = load_articles([SAMPLE, TWINS_SAMPLE], progress=False)
    pairs = mine_pairs(articles, [COVID_TWIN], n_pairs=60, seed=3)
    batches = make_batches(pairs, batch_size=4, seed=3)
    assert batches
    for batch in batches:
        ids = [i for p in batch for i in p.group]
        assert len(ids) == len(set(ids)), [p.group for p in batch]


def test_excluded_releases_are_never_trained_on():
    excluded = read_ids([TWINS_SAMPLE])
    articles = load_articles([SAMPLE, TWINS_SAMPLE], excluded, progress=False)
    pairs = mine_pairs(articles, [COVID_TWIN], n_pairs=60, seed=3)
    assert pairs
    assert not {i for p in pairs for i in p.group} & excluded


@pytest.mark.slow
def test_adapt_writes_a_model_folder_that_both_backends_can_read(tmp_path, embedder):
    from indexer.embedding import Embedder
    from indexer.onnx_backend import read_module_spec
    from thaigov_search.cli import main

    out = tmp_path / "adapted"
    rc = main(["adapt", "--corpus", str(SAMPLE), "--no-twins", "--pairs", "64", "--batch-size", "4", "--train-layers", "4",
               "--max-steps", "2", "--threads", "1", "--out", str(out), "-q", "--json"])
    assert rc == 0
    summary = json.loads((out / "ADAPT.json").read_text())
    assert summary["steps"] == 2 and summary["method"] == "lora"
    adapter = out / "adapter" / "adapter_model.safetensors"
    assert adapter.is_file() and adapter.stat().st_size < 2_000_000  # rank 16 on the top 4 layers: 1.8 MB
    spec = read_module_spec(out)  # what the ONNX backends need: mean pooling, the e5 prompts
    assert spec["pooling"] == "mean" and spec["prompts"]["query"] == "query: "
    adapted = Embedder(str(out), embedder_home(embedder))
    texts = ["ครม. อนุมัติวงเงิน 150.69 ล้านบาท แก้ปัญหาการระบาดโควิด-19 ในเรือนจำ"]
    a, b = adapted.embed_passages(texts), embedder.embed_passages(texts)
    cos = float((a * b).sum())
    assert 0.9 < cos < 0.999999  # changed by training, still the same model
    assert adapted.max_seq_length == embedder.max_seq_length  # training's short limit is not saved
    assert np.isclose(np.linalg.norm(a), 1.0, atol=1e-4)


def embedder_home(embedder) -> Path:
    from thaigov_search.config import Settings

    return Settings().home


@pytest.mark.slow
def test_adapter_merged_with_numpy_equals_the_trained_model(tmp_path):
    """What a package would ship (the 2 MB adapter) rebuilds the trained model exactly."""
    from safetensors.numpy import load_file

    from indexer.lora_merge import merge_lora
    from indexer.model_builder import resolve_model
    from thaigov_search.cli import main
    from thaigov_search.config import Settings

    out = tmp_path / "adapted"
    assert main(["adapt", "--corpus", str(SAMPLE), "--no-twins", "--pairs", "64", "--batch-size", "4",
                 "--max-steps", "1", "--lr", "1e-2", "--threads", "1", "--out", str(out), "-q", "--json"]) == 0
    base = Path(resolve_model("default", Settings().home))
    rebuilt = merge_lora(base, out / "adapter", tmp_path / "rebuilt")
    trained, again, original = (load_file(str(p / "model.safetensors")) for p in (out, rebuilt, base))
    changed = [k for k in trained if not np.array_equal(trained[k], original[k])]
    assert changed and all("encoder.layer." in k for k in changed)
    for k in trained:
        np.testing.assert_allclose(again[k], trained[k], atol=2e-6)
