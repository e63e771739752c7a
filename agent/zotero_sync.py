"""Syncing a Zotero library (or one collection) into the paper library.

Each regular item becomes a paper by the import rules (agent/importing.py): its PDF attachment when it has
one, else its arXiv id, else its metadata. The library version Zotero reports is stored per library and
collection, so the next sync asks only for what changed since (a 304 when nothing did); a PDF attached later
upgrades the kept reference; an item deleted in Zotero leaves the library when this sync added it. The version
is stored only after every change is in, so a sync cut short is repeated whole (its items come back
"unchanged").
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from sqlmodel import Field, Session, SQLModel

from agent.importing import BibliographyImporter
from retrieval.ingest import IngestResult
from retrieval.tables import create_tables
from tools.acquire import DownloadError, FetchRefusedError
from tools.bibliography import BibRecord, arxiv_id_in, year_in
from tools.references import normalise_doi
from tools.zotero import ZoteroClient, ZoteroLibrary

if TYPE_CHECKING:
    from agent.runtime import Runtime

log = logging.getLogger(__name__)
SKIPPED_TYPES = {"attachment", "note", "annotation"}
VENUE_FIELDS = ("publicationTitle", "proceedingsTitle", "bookTitle", "conferenceName", "repository", "university")


class ZoteroStateRow(SQLModel, table=True):
    __tablename__ = "zotero_sync"

    source: str = Field(primary_key=True)  # "user:123" or "user:123/collection/ABCD1234"
    version: int = 0
    synced_at: datetime | None = None


class ZoteroItemRow(SQLModel, table=True):
    __tablename__ = "zotero_items"

    source: str = Field(primary_key=True)
    item_key: str = Field(primary_key=True)
    paper_id: str
    added: bool  # this sync added the paper (only then does a deletion in Zotero remove it)


@dataclass
class SyncReport:
    library: str
    version: int
    changed: bool
    results: list[IngestResult] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (item key, why it is not a paper)
    removed: list[str] = field(default_factory=list)  # paper ids removed because their item was deleted

    def public(self) -> dict:
        counts = {status: sum(r.status == status for r in self.results) for status in ("added", "unchanged", "failed")}
        return {"library": self.library, "version": self.version, "changed": self.changed, "counts": counts,
                "results": [r.public() for r in self.results],
                "skipped": [{"key": key, "reason": reason} for key, reason in self.skipped], "removed": self.removed}


def _person(creator: dict) -> str:
    return creator.get("name") or " ".join(filter(None, [creator.get("firstName"), creator.get("lastName")]))


def zotero_record(item: dict, files: tuple[Path, ...] = ()) -> BibRecord | None:
    """A regular item's data as a bibliographic record (None without a title)."""
    data = item.get("data", {})
    title = " ".join(str(data.get("title") or "").split())
    if not title:
        return None
    extra = str(data.get("extra") or "")
    doi_line = next((line.split(":", 1)[1] for line in extra.splitlines() if line.lower().startswith("doi:")), None)
    authors = [_person(c) for c in data.get("creators", []) if c.get("creatorType") in ("author", "editor", None)]
    return BibRecord(
        key=item.get("key", ""), title=title, line=0, authors=tuple(a for a in authors if a),
        year=year_in(data.get("date")), doi=normalise_doi(data.get("DOI") or doi_line),
        arxiv_id=arxiv_id_in(data.get("archiveID"), data.get("url"), extra, data.get("DOI"),
                             data.get("publicationTitle")),
        venue=next((str(data[f]) for f in VENUE_FIELDS if data.get(f)), None),
        abstract=" ".join(str(data.get("abstractNote") or "").split()) or None, files=files)


def _is_pdf_file(item: dict) -> bool:
    data = item.get("data", {})
    return (data.get("itemType") == "attachment" and data.get("contentType") == "application/pdf"
            and data.get("linkMode") in ("imported_file", "imported_url") and bool(data.get("parentItem")))


class ZoteroSync:
    def __init__(self, engine: Engine, client: ZoteroClient, importer: BibliographyImporter, folder: Path,
                 max_bytes: int) -> None:
        self.engine = engine
        self.client = client
        self.importer = importer
        self.folder = folder  # downloaded attachments stay here while a paper uses them
        self.max_bytes = max_bytes
        create_tables(engine, [ZoteroStateRow.__table__, ZoteroItemRow.__table__])

    def _state(self, source: str) -> ZoteroStateRow:
        with Session(self.engine) as session:
            return session.get(ZoteroStateRow, source) or ZoteroStateRow(source=source)

    def sync(self, library: ZoteroLibrary, collection: str | None = None, added_by: str | None = None,
             on_item: Callable[[IngestResult], None] | None = None) -> SyncReport:
        source = f"{library}" + (f"/collection/{collection}" if collection else "")
        state = self._state(source)
        changes = self.client.changes(library, state.version, collection)
        if changes is None:
            return SyncReport(source, state.version, changed=False)
        report = SyncReport(source, changes.version, changed=True)
        parents = {i["key"]: i for i in changes.items if i.get("data", {}).get("itemType") not in SKIPPED_TYPES}
        pdfs: dict[str, list[dict]] = {}
        for item in changes.items:
            if _is_pdf_file(item):
                pdfs.setdefault(item["data"]["parentItem"], []).append(item)
        for parent_key in pdfs.keys() - parents.keys():  # a PDF attached to an item that did not change itself
            parents[parent_key] = self.client.item(library, parent_key)
        mapped: list[ZoteroItemRow] = []
        for key, item in parents.items():
            result = self._import(library, item, pdfs.get(key, []), f"zotero:{source}/{key}", added_by, report)
            if result is None:
                continue
            report.results.append(result)
            if on_item:
                on_item(result)
            if result.paper_id:
                mapped.append(ZoteroItemRow(source=source, item_key=key, paper_id=result.paper_id,
                                            added=result.status == "added"))
        if state.version:
            report.removed = self._remove_deleted(source, self.client.deleted(library, state.version))
        self._save(source, changes.version, mapped)
        return report

    def _import(self, library: ZoteroLibrary, item: dict, attachments: list[dict], origin: str,
                added_by: str | None, report: SyncReport) -> IngestResult | None:
        files, notes = [], []
        for attachment in attachments:
            target = self.folder / f"{attachment['key']}.pdf"
            try:
                files.append(self.client.download(library, attachment["key"], target, self.max_bytes).path)
            except (DownloadError, FetchRefusedError) as error:
                notes.append(f"attachment {attachment['key']}: {error}")
        record = zotero_record(item, tuple(files))
        if record is None:
            report.skipped.append((str(item.get("key")), "an item without a title"))
            return None
        result = self.importer.import_record(record, origin, added_by)
        result.path = origin
        for path in files:  # only the PDF a paper now points to is kept
            if self.importer.catalog.paper_at(path) is None:
                path.unlink(missing_ok=True)
        if notes and result.status != "failed":
            result.error = "; ".join(filter(None, [result.error, *notes]))
        return result

    def _remove_deleted(self, source: str, keys: list[str]) -> list[str]:
        removed = []
        with Session(self.engine) as session:
            for key in keys:
                row = session.get(ZoteroItemRow, (source, key))
                if row is None:
                    continue
                if row.added and self.importer.catalog.find_paper(row.paper_id) is not None:
                    self.importer.ingestor.delete(row.paper_id)
                    removed.append(row.paper_id)
                session.delete(row)
            session.commit()
        return removed

    def _save(self, source: str, version: int, mapped: list[ZoteroItemRow]) -> None:
        with Session(self.engine) as session:
            for row in mapped:
                known = session.get(ZoteroItemRow, (row.source, row.item_key))
                if known is not None:  # a paper this sync once added stays its to remove
                    row.added = row.added or (known.added and known.paper_id == row.paper_id)
                session.merge(row)
            session.merge(ZoteroStateRow(source=source, version=version, synced_at=datetime.now(UTC)))
            session.commit()


def zotero_sync(runtime: Runtime) -> ZoteroSync:
    """A sync over the runtime's library with the configured key and API URL (arXiv items fetched when arXiv is
    on)."""
    settings = runtime.settings
    importer = BibliographyImporter(runtime.catalog, runtime.ingestor, runtime.fetcher if settings.use_arxiv else None)
    return ZoteroSync(runtime.engine, ZoteroClient(settings.zotero_api_key, settings.zotero_api_url), importer,
                      settings.papers_dir / "zotero", settings.max_download_mb * 1024 * 1024)
