"""Model-free judging for the claim-verification and yes/no suites: rationale sentences by similarity,
stance by negation parity. Deliberately simple and deterministic: it is the floor a model must beat."""

from __future__ import annotations

import re

import numpy as np

from retrieval.embeddings import Embedder

_NEGATION = re.compile(r"\b(no|not|never|neither|nor|without|fails?|failed|lacks?|lacked|unable|cannot|none|"
                       r"absence|absent|neither|unaffected|insignificant|nonsignificant)\b|n't\b", re.IGNORECASE)


def negated(text: str) -> bool:
    return len(_NEGATION.findall(text)) % 2 == 1


def rationale(claim: str, sentences: list[str], embedder: Embedder, threshold: float, most: int = 2
              ) -> tuple[list[int], float]:
    """Indices of the sentences most similar to the claim (at least `threshold`), and the best similarity."""
    if not sentences:
        return [], 0.0
    vectors = embedder.embed([claim, *sentences])
    similarity = vectors[1:] @ vectors[0]
    order = [int(i) for i in np.argsort(-similarity)[:most] if similarity[i] >= threshold]
    return sorted(order), float(similarity.max())


def stance(claim: str, evidence: str) -> str:
    """SUPPORT when claim and evidence agree in negation, CONTRADICT when one negates and the other not."""
    return "CONTRADICT" if negated(claim) != negated(evidence) else "SUPPORT"
