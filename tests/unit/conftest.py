"""The unit tier: no model weights and no servers or subprocesses, so it runs in a few minutes (`make test-unit`).
Its `embedder` is the hashing stand-in (tests/fakes.py); what needs the real model or real servers is in tests/
(the integration tier, which `make test` and CI run too)."""

from __future__ import annotations

import pytest

from retrieval.embeddings import Embedder
from tests.fakes import HashingEmbedder


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return HashingEmbedder()
