"""Eval datasets: read from a data folder, or downloaded from their official homes and checksum-verified.

CI reads ../shared/data. Elsewhere, `ensure_scifact(home)` downloads the allenai release tarball and checks
every file against the sha256 of the release files this project was measured on.
"""

from __future__ import annotations

import hashlib
import io
import json
import random
import re
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

import httpx

from agent.runtime import Runtime, build_runtime
from agent.settings import RetrievalSettings, Settings
from evals.metrics import stratified_sample
from retrieval.embeddings import BASE_MODEL_NAME, Embedder, spec_name

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA_DIR = PROJECT_ROOT.parent / "shared" / "data"  # the third-party data beside the project (CI lays it)
SCIFACT_URL = "https://scifact.s3-us-west-2.amazonaws.com/release/latest/data.tar.gz"
PUBMEDQA_URL = "https://raw.githubusercontent.com/pubmedqa/pubmedqa/master/data/"
PUBMEDQA_SHA256 = {
    "ori_pqal.json": "8b3276be8942ebbd77f3ddcda12c1749bf0e490045a736fd8438ee40cf37a41d",
    "test_ground_truth.json": "939fe566f09017d13b1ca64d2ddfee0bc2374b366048152997669cccedc44d51",
}
SCIFACT_SHA256 = {
    "corpus.jsonl": "b8d6c89624cb2ed74dee8938effc4f5d8bd2086887880af8110d64be4ceade62",
    "claims_dev.jsonl": "86f0435d08fdb65d1aa41d1472684f57e6e71930626497bdf4d7a9ec1a632217",
    "claims_train.jsonl": "f4c8fa82d8bd0653a9cc8d61a6ea48c25eacea64e90af5dbf390ebb1b74372f0",
}


def default_data_dir(name: str) -> Path | None:
    """`../shared/data/NAME` beside the working folder or the project, when it exists."""
    for base in (Path.cwd(), PROJECT_ROOT):
        candidate = base.parent / "shared" / "data" / name
        if candidate.is_dir():
            return candidate
    return None


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def eval_home(settings: Settings) -> Path:
    """Where the eval libraries live: one folder per embedding model and chunk size, so a trained encoder or
    another chunking is evaluated on its own indexes (the defaults keep the plain folder)."""
    name = spec_name(settings.retrieval.embeddings)
    folder = settings.storage.home_dir / "evals"
    if name != BASE_MODEL_NAME:
        folder /= f"embeddings-{re.sub(r'[^A-Za-z0-9_.@-]', '_', name)}"
    if settings.retrieval.chunk_tokens != RetrievalSettings.model_fields["chunk_tokens"].default:
        folder /= f"chunks-{settings.retrieval.chunk_tokens}"
    return folder


def library_settings(settings: Settings, home: Path, keep_database: bool = False, **changes: object) -> Settings:
    """Settings for an eval library in `home`: its own SQLite database and FAISS index there, whatever database
    the service uses (an eval never writes into a production catalog, and its scores never include its papers),
    unless `keep_database` (a benchmark of a database backend, on a database made for it); no arXiv."""
    own = {} if keep_database else {"database_url": None, "vector_store": None}
    return settings.with_changes(home=home, **own, use_arxiv=False, **changes)


def library_of(settings: Settings, records: list[dict], embedder: Embedder | None = None,
               id_field: str = "id", sentence_vectors: bool = True) -> Runtime:
    """A runtime on `settings`' library holding exactly the papers of `records` (JSONL records, each with its
    paper id in `id_field`): reused when it holds them already, topped up when it holds some (an ingest cut
    short), and rid of the papers it holds that the sample no longer names (a sample drawn differently since;
    scoring on them would rank papers the eval cannot judge). A library in a database of its own
    (`keep_database`) holding others is an error: the eval does not delete from a database it does not own.
    `sentence_vectors` False for a library only ranked (they are most of an ingest's encoding)."""
    runtime = build_runtime(settings, embedder=embedder)
    runtime.ingestor.encoder.sentence_vectors = sentence_vectors
    wanted = {str(record[id_field]) for record in records}
    held = {paper.paper_id for paper in runtime.catalog.papers(limit=None)}
    if extra := held - wanted:
        if settings.storage.database_url:
            runtime.close()
            raise ValueError(f"the eval library in {settings.storage.database_url} holds papers this sample does "
                             "not: give it an empty database")
        for paper_id in sorted(extra):
            runtime.ingestor.delete(paper_id)
    if missing := wanted - held:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "library.jsonl"
            path.write_text("".join(json.dumps(record) + "\n" for record in records
                                    if str(record[id_field]) in missing))
            runtime.ingestor.ingest_paths([path])
    return runtime


def ensure_scifact(home: Path) -> Path:
    """Download and unpack SciFact into `home/datasets/scifact` (once); verify what was checked in."""
    target = home / "datasets" / "scifact"
    if (target / "corpus.jsonl").exists():
        return target
    target.mkdir(parents=True, exist_ok=True)
    response = httpx.get(SCIFACT_URL, follow_redirects=True, timeout=120)
    response.raise_for_status()
    with tarfile.open(fileobj=io.BytesIO(response.content), mode="r:gz") as archive:
        for member in archive.getmembers():
            name = Path(member.name).name
            if member.isfile() and name.endswith(".jsonl"):
                (target / name).write_bytes(archive.extractfile(member).read())
    for name, expected in SCIFACT_SHA256.items():
        if sha256_file(target / name) != expected:
            raise ValueError(f"{target / name} does not match the release checksum; delete {target} and retry")
    return target


def ensure_pubmedqa(home: Path) -> Path:
    """Download PubMedQA PQA-L from the authors' repository into `home/datasets/pubmedqa` (once)."""
    target = home / "datasets" / "pubmedqa"
    target.mkdir(parents=True, exist_ok=True)
    for name, expected in PUBMEDQA_SHA256.items():
        path = target / name
        if not path.exists():
            response = httpx.get(PUBMEDQA_URL + name, follow_redirects=True, timeout=120)
            response.raise_for_status()
            path.write_bytes(response.content)
        if sha256_file(path) != expected:
            path.unlink()
            raise ValueError(f"{name} does not match the published checksum; run again to re-download")
    return target


@dataclass
class RetrievalSet:
    """Documents, queries and graded-binary relevance judgements (qrels) of a retrieval benchmark, with each
    query's stratum (SciFact: the claim's label, or NONE for claims without evidence)."""

    documents: list[dict]
    queries: dict[str, str]
    qrels: dict[str, set[str]]
    strata: dict[str, str]


def claim_label(claim: dict) -> str:
    """SUPPORT, CONTRADICT, or NONE for a claim with no evidence (its cited documents do not address it)."""
    rationales = [r for rs in claim.get("evidence", {}).values() for r in rs]
    return rationales[0]["label"] if rationales else "NONE"


def load_scifact(data_dir: Path, split: str = "dev") -> RetrievalSet:
    documents = [json.loads(line) for line in (data_dir / "corpus.jsonl").open()]
    claims = {str(c["id"]): c for c in map(json.loads, (data_dir / f"claims_{split}.jsonl").open())}
    qrels_path = data_dir / f"qrels_{split}.tsv"
    qrels: dict[str, set[str]] = {}
    if qrels_path.exists():
        for line in qrels_path.read_text().splitlines()[1:]:
            query, doc, score = line.split("\t")
            if int(score) > 0:
                qrels.setdefault(query, set()).add(doc)
    else:  # the allenai release has no qrels: BEIR's are the cited and evidence documents of each claim
        for claim_id, claim in claims.items():
            relevant = {str(d) for d in claim.get("cited_doc_ids", [])} | set(claim.get("evidence", {}))
            if relevant:
                qrels[claim_id] = relevant
    return RetrievalSet(documents, {q: claims[q]["claim"] for q in qrels}, qrels,
                        {q: claim_label(claims[q]) for q in qrels})


def subset(dataset: RetrievalSet, corpus_limit: int | None, query_limit: int | None, seed: int = 13) -> RetrievalSet:
    """A seeded sample of queries stratified by label, and a corpus of their relevant documents plus distractors
    up to `corpus_limit`: the first others in one seeded order of the whole corpus (not the first rows of a sorted
    file). The order does not depend on the queries, so two subsets of one size share most of their distractors
    and the suites that sample different claims embed mostly the same abstracts."""
    queries = stratified_sample(list(dataset.queries), [dataset.strata[q] for q in dataset.queries], query_limit,
                                seed)
    if corpus_limit:
        needed = set().union(*(dataset.qrels[q] for q in queries))
        while len(needed) > corpus_limit:  # too few slots: drop sampled queries until their documents fit
            queries.pop()
            needed = set().union(*(dataset.qrels[q] for q in queries))
        order = list(dataset.documents)
        random.Random(seed).shuffle(order)  # nosec B311 (a seeded sample for evaluation, not a secret)
        others = [d for d in order if str(d["doc_id"]) not in needed]
        extra = others[:max(0, corpus_limit - len(needed))]
        documents = [d for d in dataset.documents if str(d["doc_id"]) in needed] + extra
    else:
        documents = dataset.documents
    return RetrievalSet(documents, {q: dataset.queries[q] for q in queries}, {q: dataset.qrels[q] for q in queries},
                        {q: dataset.strata[q] for q in queries})
