"""One Embedder shared by threads that count tokens and threads that embed (issue #15).

The indexer counts the tokens of batch i+1 on its main thread while its embed thread encodes batch i;
the service counts tokens for ``POST /documents`` in one request thread while others embed queries.
Before the fix, both used the model's one fast tokenizer, whose truncation/padding state each call
sets: a count (``truncation=False``, no padding) could land between an encode's "set padding" and its
"encode", and the encode failed with "Unable to create tensor ... activate truncation and/or padding"
(or "Already borrowed"). These tests hammer exactly that interleaving for a bounded time, with every
core kept busy by a neighbour process as on a shared server, and require zero errors and counts and
vectors identical to the ones computed alone.
"""

from __future__ import annotations

import sys
import threading
import time

import numpy as np
import pytest

from tests.noisy import noisy_neighbour

# Real release leads of different lengths (thaigov.go.th, public domain): a batch of them must be
# padded, so an encode whose padding was switched off by a concurrent count cannot build a tensor.
LEADS = [
    "ครม. อนุมัติงบกลาง 1,500 ล้านบาท ช่วยเหลือเกษตรกรผู้ประสบอุทกภัยในภาคเหนือ",
    "นายกรัฐมนตรีเป็นประธานการประชุมคณะรัฐมนตรี ณ ตึกบัญชาการ 1 ทำเนียบรัฐบาล",
    "กระทรวงดิจิทัลเพื่อเศรษฐกิจและสังคมจัดสัมมนารัฐบาลดิจิทัล",
    "The cabinet approved flood relief for farmers in the northern provinces.",
    "โฆษกประจำสำนักนายกรัฐมนตรีเปิดเผยว่า รัฐบาลเร่งขับเคลื่อนโครงการยานยนต์ไฟฟ้า "
    "และสถานีอัดประจุไฟฟ้าให้ครอบคลุมทุกภูมิภาคภายในปี 2568 ตามนโยบาย Energy 4.0",
]
LONG_TEXT = " ".join(LEADS * 12)  # past 512 tokens: counted without truncation
SHORT = LEADS[2:4]  # two lengths: the batch must be padded


def hammer(embedder, seconds: float, counters: int = 2, embedders: int = 2) -> tuple[list[BaseException], int]:
    """Run counting and embedding threads on one Embedder for `seconds`; return errors and call count."""
    expected_long = embedder.count_tokens(LONG_TEXT)
    expected_many = embedder.count_tokens_many(LEADS)
    expected_vectors = embedder.embed_passages(SHORT, batch_size=2)
    errors: list[BaseException] = []
    calls = [0]
    stop = time.monotonic() + seconds
    lock = threading.Lock()
    # Hand the GIL over every few microseconds instead of every 5 ms, so the threads interleave
    # inside the tokenizer's "configure, then encode" as they would with many more calls.
    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)

    def count_loop() -> None:
        while time.monotonic() < stop and not errors:
            try:
                for text in LEADS:
                    embedder.count_tokens(text)
                assert embedder.count_tokens(LONG_TEXT) == expected_long
                assert embedder.count_tokens_many(LEADS) == expected_many
            except BaseException as exc:  # noqa: BLE001 - any failure is the finding
                errors.append(exc)
            with lock:
                calls[0] += len(LEADS) + 2

    def embed_loop(index: int) -> None:
        while time.monotonic() < stop and not errors:
            try:
                if index % 2:
                    embedder.embed_queries(SHORT, batch_size=2)
                else:
                    vectors = embedder.embed_passages(SHORT, batch_size=2)
                    assert np.allclose(vectors, expected_vectors, atol=1e-4)
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)
            with lock:
                calls[0] += 1

    threads = [threading.Thread(target=count_loop) for _ in range(counters)]
    threads += [threading.Thread(target=embed_loop, args=(i,)) for i in range(embedders)]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            thread.join(seconds + 120)
    finally:
        sys.setswitchinterval(switch_interval)
    return errors, calls[0]


def test_counting_while_embedding_never_breaks_the_torch_embedder(embedder):
    with noisy_neighbour():
        errors, calls = hammer(embedder, seconds=20)
    assert calls > 100, f"only {calls} calls ran: the test exercised nothing"
    assert not errors, f"{len(errors)} of {calls} calls failed; first: {errors[0]!r}"


def test_counting_while_embedding_never_breaks_the_onnx_embedder(settings):
    pytest.importorskip("onnxruntime", reason="the ONNX backends need the [fast] extra")
    from thaigov_search.embedding.embedder import Embedder

    int8 = Embedder(settings.model, settings.home, backend="onnx-int8")
    with noisy_neighbour():
        errors, calls = hammer(int8, seconds=15)
    assert calls > 100, f"only {calls} calls ran: the test exercised nothing"
    assert not errors, f"{len(errors)} of {calls} calls failed; first: {errors[0]!r}"


def test_counting_tokenizer_counts_what_the_model_tokenizer_counts(embedder):
    """The private counting copy must agree with the model's own tokenizer, untruncated."""
    for text in [*LEADS, LONG_TEXT, "", "๑๒๓ พ.ศ. ๒๕๖๑"]:
        reference = embedder.tokenizer(embedder._prompt_text + text, add_special_tokens=True,
                                       truncation=False)["input_ids"]
        assert embedder.count_tokens(text) == len(reference)
