"""Retrieval: paper catalog, chunking, embeddings, FAISS and BM25 indexes, hybrid search.

Nothing in this package reads settings or the environment: every class takes explicit arguments.
"""
