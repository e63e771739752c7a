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


@pytest.fixture(scope="session")
def library() -> None:
    """The real library (tests/conftest.py) is built with the session's embedder: built here, it would hold the
    hashing stand-in's vectors, and the integration tests run after this tier in the same worker would get it."""
    pytest.fail("the unit tier has no real library: a test that needs one belongs in tests/, not tests/unit/")
