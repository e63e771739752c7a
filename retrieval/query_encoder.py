"""Questions encoded by ONNX Runtime: the same sentence-transformers model, exported once from torch (about a
second, cached on disk) and run without torch's per-call overhead.

benchmarks/bench_encoders.py measured it on SciFact: identical nDCG@10, 4.7x the queries per second, about
3.5 ms of CPU per question instead of 12. Passages stay with torch, because in batches ONNX Runtime is no
faster (same benchmark). An export that does not reproduce torch's vectors is refused, and the embedder
keeps using torch for questions too. An export that did is kept with the tokenizer it was checked with, so later
starts encode questions without loading torch at all (seconds saved by every command that only asks).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import warnings
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime
from tokenizers import Tokenizer

log = logging.getLogger(__name__)
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
PROBES = ["How does SPECTER use citations?", "Wärmeleitfähigkeit von Graphen bei 300 K (W/m·K)",
          "protein folding " * 200]  # the last one is longer than the window: truncation must agree


def _pooled(model):  # torch is imported only when an export is needed
    import torch

    class MeanPooled(torch.nn.Module):
        """The transformer plus sentence-transformers' mean pooling and L2 normalisation, as one graph."""

        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):
            tokens = self.model(input_ids=input_ids, attention_mask=attention_mask,
                                token_type_ids=token_type_ids).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(tokens.dtype)
            pooled = (tokens * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, dim=1)

    return MeanPooled().eval()


def _export(sentence_transformer, path: Path) -> None:
    import torch

    probe = sentence_transformer.tokenizer(["a probe"], return_tensors="pt")
    axes = {name: {0: "batch", 1: "tokens"} for name in INPUTS}
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.partial")  # processes exporting at once never share a file
    with warnings.catch_warnings():  # the tracer's notes on Python control flow concern model authors, not users
        warnings.simplefilter("ignore")
        torch.onnx.export(_pooled(sentence_transformer[0].auto_model), tuple(probe[n] for n in INPUTS), str(partial),
                          input_names=list(INPUTS), output_names=["embedding"], dynamic_axes=axes, dynamo=False,
                          opset_version=17)
    partial.replace(path)  # never leave a half-written model where the next start would load it


def _discard(path: Path) -> None:
    """Remove a bad export so the next start makes it again; a cache folder we may not write to keeps it."""
    with contextlib.suppress(OSError):
        path.unlink(missing_ok=True)


class OnnxQueryEncoder:
    """Encodes one text at a time on one thread: concurrent turns run side by side instead."""

    def __init__(self, session: onnxruntime.InferenceSession, tokenizer: Tokenizer) -> None:
        self.session = session
        self.tokenizer = tokenizer

    def encode(self, text: str) -> np.ndarray:
        encoding = self.tokenizer.encode(text)
        feed = {"input_ids": [encoding.ids], "attention_mask": [encoding.attention_mask],
                "token_type_ids": [encoding.type_ids]}
        [vectors] = self.session.run(None, {k: np.asarray(v, dtype=np.int64) for k, v in feed.items()})
        return vectors[0].astype(np.float32)

    @classmethod
    def load(cls, model: Callable[[], Any], model_path: str, cache_dir: Path) -> OnnxQueryEncoder | None:
        """The cached export for this model, or None when it cannot be made or does not reproduce torch's vectors.
        `model` gives the sentence-transformers model, called only when the export must be made or checked: an
        export checked before is loaded with the tokenizer it was checked with."""
        path = cache_dir / f"query-encoder-{_identity(Path(model_path))}.onnx"
        checked = path.with_suffix(".tokenizer.json")  # written only once the export reproduced torch's vectors
        try:
            if path.is_file() and checked.is_file():
                return cls(_session(path), Tokenizer.from_str(checked.read_text()))
        except Exception as error:  # a damaged export or tokenizer file: made again on the next start
            log.warning("questions will be encoded with torch: the ONNX export failed (%s)", error)
            _discard(path)
            _discard(checked)
            return None
        sentence_transformer = model()  # a model that cannot load says so itself, not as an export's failure
        _discard(checked)  # trusted again only once this export agrees with torch
        try:
            if not path.is_file():
                _export(sentence_transformer, path)
            tokenizer = Tokenizer.from_str(sentence_transformer.tokenizer.backend_tokenizer.to_str())
            tokenizer.no_padding()
            tokenizer.enable_truncation(max_length=int(sentence_transformer.max_seq_length))
            encoder = cls(_session(path), tokenizer)
            expected = sentence_transformer.encode(PROBES, normalize_embeddings=True, show_progress_bar=False)
            agreement = min(float(encoder.encode(text) @ vector) for text, vector in zip(PROBES, expected, strict=True))
        except Exception as error:  # any failure here only costs speed: questions go through torch
            log.warning("questions will be encoded with torch: the ONNX export failed (%s)", error)
            _discard(path)
            return None
        if agreement < 0.9999:
            log.warning("questions will be encoded with torch: the ONNX export disagrees with it (cosine %.5f)",
                        agreement)
            _discard(path)
            return None
        partial = checked.with_suffix(f".{os.getpid()}.partial")  # processes checking at once never share a file
        with contextlib.suppress(OSError):  # a cache folder we may not write to: checked again next time
            partial.write_text(tokenizer.to_str())
            partial.replace(checked)
        return encoder


def _identity(folder: Path) -> str:
    """What the export must be made again for: the model's folder, its weights and configuration files (size and
    modification time: retraining into the same folder writes weights of the same size), and the versions of the
    libraries that export, tokenize and run it."""
    files = sorted(folder.glob("*.safetensors")) + sorted(folder.glob("*.bin")) + sorted(folder.glob("*.json"))
    stamps = [f"{f.name}:{f.stat().st_size}:{f.stat().st_mtime_ns}" for f in files]
    versions = [f"{name}={_version(name)}" for name in ("onnxruntime", "tokenizers", "transformers", "torch")]
    return hashlib.sha256("|".join([str(folder.resolve()), *stamps, *versions]).encode()).hexdigest()[:16]


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:  # run from a source tree without metadata: the export is still checked once
        return "?"


def _session(path: Path) -> onnxruntime.InferenceSession:
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
