"""The ONNX Runtime backends: agreement with torch, prompts, tokenizer, export reuse, clear errors."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnxruntime", reason="the ONNX backends need the [fast] extra")
pytest.importorskip("onnx", reason="the ONNX backends need the [fast] extra")

from thaigov_search.embedding.onnx import export, load_onnx_model, runtime  # noqa: E402

# Lead paragraphs of real releases from the corpus (thaigov.go.th, public domain), plus English.
TEXTS = [
    "วันนี้ (17 สิงหาคม 2559) เวลา 09.00 น. ณ ห้องประชุม 501 ตึกบัญชาการ 1 ทำเนียบรัฐบาล พลเอก ประยุทธ์ จันทร์โอชา "
    "นายกรัฐมนตรี เป็นประธานการประชุมคณะรัฐมนตรี",
    "รมว.ไอซีที ดึงทุกหน่วยงานในสังกัด ฯ ร่วมผลักดันโครงการเร่งด่วน โดยเฉพาะการส่งเสริมให้ชุมชนสามารถค้าขายออนไลน์ "
    "เชื่อมโยงตลาดกับผู้ผลิตและเกษตรกรมากขึ้น เน้น Common platform สินค้าชุมชนเพื่อให้ง่ายต่อการเลือกซื้อและเข้าถึงสินค้า",
    "กระทรวงไอซีที เดินหน้าสานพลังประชารัฐ ลงนามกับ 11 หน่วยงานรัฐและเอกชน ร่วมมือจัดเก็บฐานข้อมูลและการเชื่อมโยงข้อมูล"
    "สินค้าของประเทศ (National Product Catalogue) หวังจัดระเบียบข้อมูลสินค้า ลดปัญหาการลอกเลียนแบบสินค้า",
    "ปลัดกระทรวงมหาดไทย สั่งด่วนผู้ว่าราชการจังหวัด 4 จังหวัดชายแดนภาคใต้ เพิ่มมาตรการป้องกันและรักษาความสงบเรียบร้อย "
    "หลังได้รับรายงานมีเหตุก่อกวนในพื้นที่",
    "เมื่อวันที่ ๑๖ กันยายน ๒๕๕๙ สำนักงานปลัดสำนักนายกรัฐมนตรี โดย สำนักงานคณะกรรมการข้อมูลข่าวสารของราชการ "
    "จัดสัมมนาเชิงปฏิบัติการแนวทางการจัดตั้งศูนย์ข้อมูลข่าวสารฯ",
    "กระทรวงพลังงาน เดินหน้านโยบาย Energy 4.0 เร่งขับเคลื่อนโครงการยานยนต์ไฟฟ้าเต็มกำลัง จัดพิธีมอบสัญญาแก่ผู้ได้รับ"
    "การสนับสนุนในโครงการสนับสนุนสถานีอัดประจุไฟฟ้า (Charging Station) ให้กับ 20 หน่วยงาน",
    "สถาบันคุ้มครองเงินฝากเดินหน้าสร้างความเชื่อมั่นผู้ฝากเงิน ชี้พัฒนาแผนยุทธศาสตร์มุ่งมั่นพัฒนาระบบปฏิบัติการจ่ายคืนผู้ฝาก "
    "แจงล่าสุดดูแลผู้ฝากเงินที่อยู่ภายใต้ความคุ้มครองกว่า 70 ล้านราย",
    "กระทรวงเกษตรฯ เปิดตัวยิ่งใหญ่ \"5 ประสาน สืบสานเกษตรทฤษฎีใหม่ ถวายในหลวง” ผนึกกำลังทุกภาคส่วน "
    "น้อมนำศาสตร์พระราชาขับเคลื่อนโครงการเกษตรทฤษฎีใหม่ 70,000 ราย ให้สำเร็จในปี '60",
    "นายกรัฐมนตรีเปิดงานการแก้ไขปัญหาหนี้นอกระบบอย่างบูรณาการและยั่งยืน แสดงเจตนารมณ์ของภาครัฐและหน่วยงานภาคี"
    "ที่มุ่งมั่นร่วมกันขจัดหนี้นอกระบบในประเทศไทยให้เป็นศูนย์",
    "The Prime Minister chaired the cabinet meeting at Government House and approved flood relief for farmers.",
]
QUERIES = ["มติคณะรัฐมนตรี", "การแก้ไขปัญหาหนี้นอกระบบ", "รถยนต์ไฟฟ้า สถานีชาร์จ", "flood relief for farmers"]


@pytest.fixture(scope="module")
def int8_embedder(settings):
    from thaigov_search.embedding.embedder import Embedder

    return Embedder(settings.model, settings.home, backend="onnx-int8")


@pytest.fixture(scope="module")
def fp32_embedder(settings, int8_embedder):  # after int8: one export run writes both files
    from thaigov_search.embedding.embedder import Embedder

    return Embedder(settings.model, settings.home, backend="onnx")


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_int8_agrees_with_torch(embedder, int8_embedder):
    passages = cosines(int8_embedder.embed_passages(TEXTS), embedder.embed_passages(TEXTS))
    queries = cosines(int8_embedder.embed_queries(QUERIES), embedder.embed_queries(QUERIES))
    assert passages.mean() >= 0.97 and passages.min() >= 0.95, passages
    assert queries.mean() >= 0.97 and queries.min() >= 0.95, queries


def test_fp32_onnx_matches_torch(embedder, fp32_embedder):
    assert cosines(fp32_embedder.embed_passages(TEXTS), embedder.embed_passages(TEXTS)).min() >= 0.999
    assert cosines(fp32_embedder.embed_queries(QUERIES), embedder.embed_queries(QUERIES)).min() >= 0.999


def test_prompts_applied(embedder, int8_embedder):
    as_query = int8_embedder.embed_queries(TEXTS[:3])
    as_passage = int8_embedder.embed_passages(TEXTS[:3])
    assert (cosines(as_query, as_passage) < 0.999).all(), "query: and passage: prompts give the same vectors"
    # ...and each matches torch's embedding for the same prompt better than the other prompt's.
    torch_query = embedder.embed_queries(TEXTS[:3])
    assert (cosines(as_query, torch_query) > cosines(as_passage, torch_query)).all()
    assert int8_embedder.query_prompt == "query" and int8_embedder.passage_prompt == "passage"


def test_same_tokenizer_and_shape(embedder, int8_embedder):
    for text in TEXTS:
        assert int8_embedder.count_tokens(text) == embedder.count_tokens(text)
        assert int8_embedder.tokenizer(text)["input_ids"] == embedder.tokenizer(text)["input_ids"]
    assert int8_embedder.count_tokens_many(TEXTS) == embedder.count_tokens_many(TEXTS)
    assert int8_embedder.dimension == embedder.dimension == 384
    assert int8_embedder.max_seq_length == embedder.max_seq_length
    vectors = int8_embedder.embed_passages(TEXTS, batch_size=3)
    assert vectors.shape == (len(TEXTS), 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert int8_embedder.embed_passages([]).shape == (0, 384)


def test_long_text_is_truncated_like_torch(embedder, int8_embedder):
    long_text = " ".join(TEXTS * 8)  # well over 512 tokens
    assert int8_embedder.count_tokens(long_text) > 512
    cos = cosines(int8_embedder.embed_passages([long_text]), embedder.embed_passages([long_text]))
    assert cos[0] >= 0.95


def test_export_is_reused(settings, int8_embedder, monkeypatch):
    from thaigov_search.embedding.embedder import Embedder

    onnx_file = int8_embedder.model.onnx_file
    marker = json.loads((onnx_file.parent / export.MARKER).read_text(encoding="utf-8"))
    assert marker["files"][onnx_file.name] == onnx_file.stat().st_size
    assert marker["verification"][onnx_file.name]["min_cosine_vs_torch"] >= export.MIN_COSINE[True]
    before = onnx_file.stat().st_mtime_ns

    def no_export(*args, **kwargs):
        raise AssertionError("the exported file should have been reused")

    monkeypatch.setattr(export, "_export_locked", no_export)
    again = Embedder(settings.model, settings.home, backend="onnx-int8")
    assert again.model.onnx_file == onnx_file
    assert onnx_file.stat().st_mtime_ns == before


def test_marker_must_match_weights(tmp_path):
    fingerprint = {"export_version": export.EXPORT_VERSION, "files": {"model.safetensors": [1, 2]}}
    (tmp_path / export.INT8_FILE).write_bytes(b"x" * 10)
    marker = {"fingerprint": fingerprint, "files": {export.INT8_FILE: 10}}
    (tmp_path / export.MARKER).write_text(json.dumps(marker), encoding="utf-8")
    assert export._marker_ok(tmp_path, fingerprint, export.INT8_FILE)
    changed = fingerprint | {"files": {"model.safetensors": [1, 3]}}
    assert not export._marker_ok(tmp_path, changed, export.INT8_FILE)
    assert not export._marker_ok(tmp_path, fingerprint, export.FP32_FILE)  # not exported yet
    (tmp_path / export.INT8_FILE).write_bytes(b"x" * 5)  # truncated file
    assert not export._marker_ok(tmp_path, fingerprint, export.INT8_FILE)


def test_unsupported_module_layout_is_refused(tmp_path):
    modules = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
               {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
               {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"}]
    (tmp_path / "modules.json").write_text(json.dumps(modules), encoding="utf-8")
    with pytest.raises(ValueError, match="--backend torch"):
        runtime.read_module_spec(tmp_path)


def test_missing_runtime_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import onnxruntime -> ImportError
    with pytest.raises(ImportError, match=r"thaigov-search\[fast\]"):
        load_onnx_model(str(Path("/nonexistent")), quantized=True)


def test_thread_setting(monkeypatch):
    monkeypatch.setenv(runtime.THREADS_ENV, "1")
    assert runtime.default_threads() == 1
    assert runtime.session_options().intra_op_num_threads == 1
    monkeypatch.setenv(runtime.THREADS_ENV, "many")
    with pytest.raises(ValueError, match=runtime.THREADS_ENV):
        runtime.default_threads()
    monkeypatch.delenv(runtime.THREADS_ENV)
    assert runtime.default_threads() >= 1
