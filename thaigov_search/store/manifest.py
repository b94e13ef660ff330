"""``manifest.json``: what an index is (format, model, counts, current snapshot), replaced atomically."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

from thaigov_search.core.files import atomic_write_text
from thaigov_search.core.models import canonical_model, recorded_model, same_model
from thaigov_search.store.schema import (
    DB_NAME,
    FORMAT_VERSION,
    IndexCorruptError,
    IndexNotFoundError,
    ModelMismatchError,
)

MANIFEST_NAME = "manifest.json"

SNAPSHOT_FILES = {"snapshot": ("vectors", ".faiss"), "lexical": ("bm25", ".bin"), "suggestions": ("suggest", ".bin")}
"""The snapshot files of a generation: manifest field (``<field>_sha256`` beside it) -> (stem, suffix),
written as ``<stem>-<gen><suffix>`` (FAISS vectors, BM25 postings, suggestion phrases)."""


def snapshot_file_name(field: str, generation: int) -> str:
    stem, suffix = SNAPSHOT_FILES[field]
    return f"{stem}-{generation}{suffix}"


@dataclass(frozen=True)
class Manifest:
    """What an index is: written atomically next to the data it describes."""

    format_version: int
    model: str
    dimension: int
    passage_tokens: int
    created_at: str
    built_at: str
    articles: int
    passages: int
    generation: int
    snapshot: str | None  # file name of the current FAISS snapshot
    snapshot_generation: int
    snapshot_sha256: str | None
    snapshot_kind: str  # "flat" or "hnsw"
    # BM25 postings as of snapshot_generation (store/postings.py); None in indexes written before
    # they existed: readers then count the terms from the database, and the next snapshot writes them.
    lexical: str | None = None
    lexical_sha256: str | None = None
    # search-suggestion phrases of the same generation's titles (store/suggestions.py); None before
    # they existed: servers then build them in memory, and the next snapshot writes them.
    suggestions: str | None = None
    suggestions_sha256: str | None = None

    def snapshot_files(self) -> list[tuple[str, str | None]]:
        """(file name, sha256) of every snapshot file this manifest names (:data:`SNAPSHOT_FILES`)."""
        named = ((getattr(self, field), getattr(self, f"{field}_sha256")) for field in SNAPSHOT_FILES)
        return [(name, digest) for name, digest in named if name]

    @staticmethod
    def exists(index_dir: Path) -> bool:
        """Whether ``index_dir`` holds an index (its manifest is written last when one is created)."""
        return (Path(index_dir) / MANIFEST_NAME).is_file()

    @staticmethod
    def read(index_dir: Path) -> Manifest:
        path = index_dir / MANIFEST_NAME
        if not path.exists():
            if (index_dir / DB_NAME).exists():
                raise IndexCorruptError(f"{path} is missing; the index in {index_dir} is incomplete. Re-run `thaigov-search index`.")
            raise IndexNotFoundError(f"No index in {index_dir}: build one with `thaigov-search index --index-dir {index_dir} --input ...`.")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return Manifest(**data)
        except (json.JSONDecodeError, TypeError, UnicodeDecodeError) as exc:
            raise IndexCorruptError(f"{path} is damaged ({exc}). Rebuild the index or restore the file.") from exc

    def write(self, index_dir: Path) -> None:
        atomic_write_text(index_dir / MANIFEST_NAME, json.dumps(self.__dict__, ensure_ascii=False, indent=2))


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()


def ensure_same_model(manifest: Manifest, model: str, dimension: int | None, index_dir: Path) -> None:
    """Vectors from two models are not comparable: refuse to mix them."""
    ensure_current_format(manifest, index_dir)
    built_with = recorded_model(manifest.model)
    if not same_model(model, manifest.model) or (dimension is not None and manifest.dimension != dimension):
        raise ModelMismatchError(
            f"{index_dir} was built with model '{built_with}' (dimension {manifest.dimension}), "
            f"not '{canonical_model(model)}'. Use --model {built_with}, or index into a new --index-dir."
        )


def ensure_current_format(manifest: Manifest, index_dir: Path) -> None:
    """Refuse an index of another format, saying how to get a readable one."""
    if manifest.format_version == 1 and FORMAT_VERSION == 2:
        raise IndexCorruptError(
            f"{index_dir} uses index format 1, this program reads 2 (text stored once, compressed). Convert it in "
            f"place without re-embedding: `thaigov-search upgrade --index-dir {index_dir}`."
        )
    if manifest.format_version != FORMAT_VERSION:
        raise IndexCorruptError(
            f"{index_dir} uses index format {manifest.format_version}, this program reads {FORMAT_VERSION}. Rebuild the index."
        )
