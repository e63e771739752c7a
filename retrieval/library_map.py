"""A map of the library: papers placed in 2D by what they are about, grouped into labelled clusters, with the
citations between them.

A paper is the mean of its passages' stored vectors. The layout is t-SNE (scikit-learn, seeded, initialised
from PCA), which keeps papers on one subject together. A layout is kept in the cache folder and reused: papers
added since (a watch's new papers) are placed among their nearest mapped papers instead of moving every point,
so a map a researcher has learned stays where it was; it is recomputed when the new papers are more than a fifth
of the library, or when asked. Clusters are k-means groups of the layout, each labelled by the terms that
distinguish its papers' titles and abstracts from the rest of the library (TF-IDF).
"""

from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from retrieval.citation_graph import CitationGraph
from retrieval.vector_store import VectorIndex
from store.catalog import Catalog

log = logging.getLogger(__name__)
SEED = 0
NEW_SHARE_FOR_RELAYOUT = 0.2  # above this share of unmapped papers the whole layout is recomputed
NEIGHBOURS = 5  # mapped papers a new paper is placed among
MAX_CLUSTERS = 12
LABEL_TERMS = 3
# Addresses and TeX are not what a paper is about: no label of "github, com" or "mathbb".
_NOT_WORDS = re.compile(r"\S+@\S+|\b(?:https?://|www\.)\S+|\\[A-Za-z]+|\$[^$]{0,200}\$")
TSNE_ITERATIONS = 400  # enough for the clusters to settle on a few thousand papers; <= 5 s for 2,000 on 2 cores


class MapPoint(BaseModel):
    """A paper on the map (also the HTTP schema's base: api/schemas.py MapPaper)."""

    model_config = ConfigDict(frozen=True)
    paper_id: str
    title: str
    year: int | None
    x: float
    y: float
    cluster: int


class MapCluster(BaseModel):
    model_config = ConfigDict(frozen=True)
    cluster: int
    label: str = Field(description="the terms that set the cluster's papers apart from the rest of the library")
    size: int
    x: float
    y: float


@dataclass
class LibraryMap:
    points: list[MapPoint]
    clusters: list[MapCluster]
    links: list[tuple[str, str]]  # (citing, cited), both on the map
    layout: str  # "computed", "extended" (new papers placed among their neighbours) or "kept"
    unplaced: int = 0  # papers with no passage vectors to place them by (known only as references, or not indexed)
    seconds: float = 0.0
    highlighted: dict[str, str] = field(default_factory=dict)  # paper id -> why ("watch", "conversation")

    @property
    def counts(self) -> str:
        """"7 papers in 1 cluster, 2 citations": what the map shows, as its captions say it."""
        def of(n: int, noun: str) -> str:
            return f"{n} {noun}{'' if n == 1 else 's'}"
        return (f"{of(len(self.points), 'paper')} in {of(len(self.clusters), 'cluster')}, "
                f"{of(len(self.links), 'citation')}")

    def public(self) -> dict:
        return {"papers": [p.model_dump() | {"highlight": self.highlighted.get(p.paper_id)} for p in self.points],
                "clusters": [c.model_dump() for c in self.clusters],
                "links": [{"from": a, "to": b} for a, b in self.links],
                "layout": self.layout, "unplaced": self.unplaced, "seconds": round(self.seconds, 3)}


def paper_vectors(catalog: Catalog, store: VectorIndex) -> tuple[list[str], np.ndarray]:
    """Each paper with passages, in id order, as the normalised mean of its passages' vectors."""
    chunk_papers = catalog.chunk_papers()
    vectors = store.vectors(list(chunk_papers))
    papers = sorted({chunk_papers[chunk] for chunk in vectors})
    row = {paper: i for i, paper in enumerate(papers)}
    dimension = len(next(iter(vectors.values()))) if vectors else 0
    sums = np.zeros((len(papers), dimension), dtype=np.float32)
    for chunk, vector in vectors.items():
        sums[row[chunk_papers[chunk]]] += vector
    norms = np.linalg.norm(sums, axis=1, keepdims=True)
    return papers, sums / np.where(norms == 0, 1, norms)


def layout(vectors: np.ndarray) -> np.ndarray:
    """2D positions for the vectors: t-SNE from PCA, the same positions for the same vectors."""
    # scikit-learn is imported where a map is drawn: it takes seconds to import, and every command would wait
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    n = len(vectors)
    if n < 4:  # t-SNE needs a neighbourhood; a handful of papers is laid out along its main differences
        flat = PCA(min(2, n), random_state=SEED).fit_transform(vectors) if n > 1 else np.zeros((n, 1))
        return np.hstack([flat, np.zeros((n, 2 - flat.shape[1]))])
    reduced = PCA(min(30, n - 1, vectors.shape[1]), random_state=SEED).fit_transform(vectors)
    return TSNE(2, init="pca", random_state=SEED, perplexity=min(30.0, (n - 1) / 3), max_iter=TSNE_ITERATIONS,
                n_jobs=2).fit_transform(reduced)


def place_among_neighbours(new: np.ndarray, mapped: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Positions for new papers: the similarity-weighted mean position of their nearest mapped papers."""
    similarity = new @ mapped.T
    k = min(NEIGHBOURS, len(mapped))
    nearest = np.argsort(-similarity, axis=1)[:, :k]
    weights = np.take_along_axis(np.clip(similarity, 1e-3, None), nearest, axis=1)
    return (positions[nearest] * weights[..., None]).sum(axis=1) / weights.sum(axis=1, keepdims=True)


def cluster_labels(texts: list[str], groups: np.ndarray, count: int) -> list[str]:
    """Each group's LABEL_TERMS terms most over-represented in its papers' texts against the whole library."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    few = len(texts) < 20  # a handful of papers share few terms: any term counts
    try:
        tfidf = TfidfVectorizer(stop_words="english", token_pattern=r"(?u)\b[a-zA-Z][a-zA-Z-]{2,}\b",
                                min_df=1 if few else 2, max_df=1.0 if few else 0.5, sublinear_tf=True).fit(texts)
        weights = tfidf.transform(texts)
    except ValueError:  # too few papers, or no term shared by two of them
        return [f"group {i + 1}" for i in range(count)]
    terms = tfidf.get_feature_names_out()
    overall = np.asarray(weights.mean(axis=0)).ravel()
    labels = []
    for group in range(count):
        members = weights[groups == group]
        distinct = np.asarray(members.mean(axis=0)).ravel() - (overall if count > 1 else 0)
        best: list[str] = []
        for i in np.argsort(-distinct)[:LABEL_TERMS * 3]:
            stem = terms[i].removesuffix("s")
            if distinct[i] > 0 and len(best) < LABEL_TERMS and all(b.removesuffix("s") != stem for b in best):
                best.append(terms[i])
        labels.append(", ".join(best) or f"group {group + 1}")
    return labels


class LibraryMapper:
    """Builds the map, keeping its layout in `folder` between calls (and between replicas sharing the folder)."""

    def __init__(self, catalog: Catalog, store: VectorIndex, citations: CitationGraph, folder: Path,
                 model_name: str) -> None:
        self.catalog, self.store, self.citations = catalog, store, citations
        self.file = folder / f"map-{''.join(ch if ch.isalnum() else '-' for ch in model_name)}.json"

    def build(self, recompute: bool = False, highlighted: dict[str, str] | None = None) -> LibraryMap:
        from sklearn.cluster import KMeans

        started = time.perf_counter()
        papers, vectors = paper_vectors(self.catalog, self.store)
        positions, how = self._positions(papers, vectors, recompute)
        rows = {row.paper_id: row for row in self.catalog.papers(limit=None)}
        count = max(1, min(MAX_CLUSTERS, round((len(papers) / 4) ** 0.5)))
        groups = (KMeans(count, n_init=4, random_state=SEED).fit_predict(positions) if len(papers) > count
                  else np.arange(len(papers)))
        abstracts = self.catalog.abstracts()
        texts = [_NOT_WORDS.sub(" ", f"{rows[p].title}\n{abstracts.get(p, '')}") for p in papers]
        labels = cluster_labels(texts, groups, count)
        points = [MapPoint(paper_id=p, title=rows[p].title, year=rows[p].year, x=round(float(x), 3),
                           y=round(float(y), 3), cluster=int(g))
                  for p, (x, y), g in zip(papers, positions, groups, strict=True)]
        clusters = [MapCluster(cluster=g, label=labels[g], size=int((groups == g).sum()),
                               x=float(positions[groups == g, 0].mean()), y=float(positions[groups == g, 1].mean()))
                    for g in range(count) if (groups == g).any()]
        mapped = set(papers)
        links = [(a, b) for a, b in self.citations.links() if a in mapped and b in mapped]
        marks = {p: why for p, why in (highlighted or {}).items() if p in mapped}
        return LibraryMap(points, clusters, links, how, len(rows) - len(papers), time.perf_counter() - started, marks)

    def _positions(self, papers: list[str], vectors: np.ndarray, recompute: bool) -> tuple[np.ndarray, str]:
        kept = self._kept()
        known = [i for i, p in enumerate(papers) if p in kept]
        new = [i for i, p in enumerate(papers) if p not in kept]
        if not papers:
            return np.zeros((0, 2)), "computed"
        if recompute or not known or len(new) > NEW_SHARE_FOR_RELAYOUT * len(papers):
            positions, how = layout(vectors), "computed"
        else:
            positions = np.zeros((len(papers), 2))
            positions[known] = [kept[papers[i]] for i in known]
            if new:
                positions[new] = place_among_neighbours(vectors[new], vectors[known], positions[known])
            how = "extended" if new else "kept"
        if how != "kept":
            self._keep(dict(zip(papers, positions.tolist(), strict=True)))
        return positions, how

    def kept_version(self) -> str:
        """Changes when the kept layout file does (written here or by another replica)."""
        try:
            return str(self.file.stat().st_mtime_ns)
        except OSError:
            return "none"

    def _kept(self) -> dict[str, list[float]]:
        try:
            return json.loads(self.file.read_text())["positions"]
        except (OSError, ValueError, KeyError):
            return {}

    def _keep(self, positions: dict[str, list[float]]) -> None:
        try:
            self.file.parent.mkdir(parents=True, exist_ok=True)
            temporary = self.file.with_suffix(f".{time.monotonic_ns()}.part")
            temporary.write_text(json.dumps({"positions": positions}))
            temporary.replace(self.file)
        except OSError as error:
            log.warning("the map's layout was not kept (%s): the next map is computed again", error)
