"""Syncing a Zotero library (or one collection) into the paper library.

Each regular item becomes a paper by the import rules (agent/importing.py): its PDF attachment when it has
one, else its arXiv id, else its metadata. The library version Zotero reports is stored per library and
collection, so the next sync asks only for what changed since (a 304 when nothing did); a PDF attached later
upgrades the kept reference; an item deleted in Zotero leaves the library when this sync added it. The version
is stored only after every change is in, so a sync cut short is repeated whole (its items come back
"unchanged").
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from agent.importing import BibliographyImporter
from retrieval.ingest import IngestResult
from store.zotero import ZoteroItemRow, ZoteroRecords
from tools.acquire import DownloadError, FetchRefusedError
from tools.bibliography import BibRecord, arxiv_id_in, year_in
from tools.references import normalise_doi
from tools.zotero import ZoteroClient, ZoteroLibrary

if TYPE_CHECKING:
    from agent.runtime import Runtime

log = logging.getLogger(__name__)
SKIPPED_TYPES = {"attachment", "note", "annotation"}
AUTHOR_TYPES = {"author", "editor", "contributor", None}
KEY = re.compile(r"^[A-Z0-9]{8}$")  # Zotero's object keys; anything else never becomes a file name
VENUE_FIELDS = ("publicationTitle", "proceedingsTitle", "bookTitle", "conferenceName", "repository", "university")


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


def _person(creator: object) -> str:
    if not isinstance(creator, dict):
        return ""
    return str(creator.get("name") or " ".join(str(creator[part]) for part in ("firstName", "lastName")
                                               if creator.get(part)))


def zotero_record(item: dict, files: tuple[Path, ...] = ()) -> BibRecord | None:
    """A regular item's data as a bibliographic record (None without a title)."""
    data = item.get("data") if isinstance(item.get("data"), dict) else {}
    title = " ".join(str(data.get("title") or "").split())
    if not title:
        return None
    extra = str(data.get("extra") or "")
    doi_line = next((line.split(":", 1)[1] for line in extra.splitlines() if line.lower().startswith("doi:")), None)
    creators = data.get("creators") if isinstance(data.get("creators"), list) else []
    authors = [_person(c) for c in creators if not isinstance(c, dict) or c.get("creatorType") in AUTHOR_TYPES]
    return BibRecord(
        key=str(item.get("key", "")), title=title, line=0, authors=tuple(a for a in authors if a),
        year=year_in(data.get("date")), doi=normalise_doi(str(data.get("DOI") or doi_line or "") or None),
        arxiv_id=arxiv_id_in(*(str(data.get(f) or "") for f in ("archiveID", "url", "DOI", "publicationTitle")), extra),
        venue=next((str(data[f]) for f in VENUE_FIELDS if data.get(f)), None),
        abstract=" ".join(str(data.get("abstractNote") or "").split()) or None, files=files)


def _kind(item: dict) -> str:
    """"paper", "pdf" (an attachment a sync downloads), "loose pdf" (one without a parent item), or "other"."""
    data = item.get("data")
    if not isinstance(data, dict) or not KEY.match(str(item.get("key", ""))):
        return "malformed"
    if data.get("itemType") not in SKIPPED_TYPES:
        return "paper"
    is_pdf = (data.get("itemType") == "attachment" and data.get("contentType") == "application/pdf"
              and data.get("linkMode") in ("imported_file", "imported_url"))
    if not is_pdf:
        return "other"
    return "pdf" if KEY.match(str(data.get("parentItem", ""))) else "loose pdf"


class ZoteroSync:
    def __init__(self, engine: Engine, client: ZoteroClient, importer: BibliographyImporter, folder: Path,
                 max_bytes: int) -> None:
        self.engine = engine
        self.client = client
        self.importer = importer
        self.folder = folder  # downloaded attachments stay here while a paper uses them
        self.max_bytes = max_bytes
        self.records = ZoteroRecords(engine)

    def sync(self, library: ZoteroLibrary, collection: str | None = None, added_by: str | None = None,
             on_item: Callable[[IngestResult], None] | None = None) -> SyncReport:
        source = f"{library}" + (f"/collection/{collection}" if collection else "")
        state = self.records.state(source)
        changes = self.client.changes(library, state.version, collection)
        retry = self.records.incomplete(source)
        if changes is None and not retry:
            return SyncReport(source, state.version, changed=False)
        version = changes.version if changes else state.version
        report = SyncReport(source, version, changed=changes is not None)
        parents: dict[str, dict] = {}
        attachments: dict[str, list[str]] = {row.item_key: json.loads(row.attachments_json) for row in retry}
        for item in changes.items if changes else []:
            kind = _kind(item)
            if kind == "paper":
                parents[item["key"]] = item
            elif kind == "pdf":
                attachments.setdefault(item["data"]["parentItem"], []).append(item["key"])
            elif kind == "loose pdf":
                report.skipped.append((item["key"], "a PDF without a parent item: in Zotero, 'Create Parent Item' "
                                                    "gives it the metadata a paper needs"))
            elif kind == "malformed":
                report.skipped.append((str(item.get("key", "?"))[:20], "a malformed item (no data, or a key that "
                                                                         "is not Zotero's)"))
        for parent_key in attachments.keys() - parents.keys():  # a PDF attached to an item that did not change
            parents[parent_key] = self.client.item(library, parent_key)
        rows: list[ZoteroItemRow] = []
        for key, item in parents.items():
            try:
                row = self._sync_item(library, source, item, sorted(set(attachments.get(key, []))), added_by, report)
            except (TypeError, AttributeError, KeyError, ValueError) as error:  # fields of unexpected types
                log.warning("Zotero item %s skipped: %r", key, error)
                report.skipped.append((key, f"a malformed item ({error.__class__.__name__})"))
                continue
            if row is not None:
                rows.append(row)
                if on_item:
                    on_item(report.results[-1])
        if state.version and changes is not None:
            report.removed = self._remove_deleted(source, self.client.deleted(library, state.version), added_by)
        self.records.save(source, version, rows)
        return report

    def _sync_item(self, library: ZoteroLibrary, source: str, item: dict, attachment_keys: list[str],
                   added_by: str | None, report: SyncReport) -> ZoteroItemRow | None:
        """One item into the library. An item a sync already brought in stays the same paper: a kept reference
        is replaced when the item now gives more (a PDF, an arXiv paper, new metadata); a paper with a body is
        left as it is."""
        key, origin = item["key"], f"zotero:{source}/{item['key']}"
        known = self.records.item(source, key)
        existing = self.importer.catalog.find_paper(known.paper_id) if known else None
        if existing is not None and existing.source != "bibliography":
            report.results.append(IngestResult(origin, "unchanged", existing.paper_id, existing.title))
            return ZoteroItemRow(source=source, item_key=key, paper_id=existing.paper_id, added=known.added,
                                 attachments_json=json.dumps(attachment_keys))
        files, notes = self._download(library, attachment_keys)
        record = zotero_record(item, tuple(files))
        if record is None:
            report.skipped.append((key, "an item without a title"))
            return None
        result = self.importer.import_record(record, origin, added_by)
        result.path = origin
        for path in files:  # only the PDF a paper now points to is kept
            if self.importer.catalog.paper_at(path) is None:
                path.unlink(missing_ok=True)
        if (existing is not None and result.paper_id not in (None, existing.paper_id)
                and existing.added_by == added_by):  # the reference this item used to be, when this key added it
            self.importer.ingestor.delete(existing.paper_id)
        if notes and result.status != "failed":
            result.error = "; ".join(filter(None, [result.error, *notes]))
        report.results.append(result)
        if result.paper_id is None:
            return None
        paper = self.importer.catalog.find_paper(result.paper_id)
        wanting = bool(attachment_keys) or bool(record.arxiv_id and self.importer.fetcher)
        incomplete = paper is not None and paper.source == "bibliography" and wanting
        return ZoteroItemRow(source=source, item_key=key, paper_id=result.paper_id,
                             added=result.status == "added" or (known is not None and known.added),
                             incomplete=incomplete, retries=(known.retries + 1) if known and incomplete else 0,
                             attachments_json=json.dumps(attachment_keys))

    def _download(self, library: ZoteroLibrary, keys: list[str]) -> tuple[list[Path], list[str]]:
        files, notes = [], []
        for key in keys:
            try:
                # a folder per library: item keys are unique within a library only
                target = self.folder / library.kind / library.id / f"{key}.pdf"
                files.append(self.client.download(library, key, target, self.max_bytes).path)
            except FetchRefusedError as error:
                notes.append(f"attachment {key}: Zotero sent the download to a host that is not Zotero's ({error})")
            except DownloadError as error:
                notes.append(f"attachment {key}: {error}; the next sync tries again")
        return files, notes

    def _remove_deleted(self, source: str, keys: list[str], added_by: str | None) -> list[str]:
        """Remove the papers of items deleted in Zotero that a sync added for this key (another key's paper stays:
        a sync never deletes what it does not own)."""
        removed = []
        for key in keys:
            row = self.records.item(source, key)
            if row is None:
                continue
            paper = self.importer.catalog.find_paper(row.paper_id)
            if row.added and paper is not None and paper.added_by == added_by:
                self.importer.ingestor.delete(row.paper_id)
                removed.append(row.paper_id)
        self.records.forget(source, keys)
        return removed


def zotero_sync(runtime: Runtime) -> ZoteroSync:
    """A sync over the runtime's library with the configured key and API URL (arXiv items fetched when arXiv is
    on)."""
    settings = runtime.settings
    importer = BibliographyImporter(runtime.catalog, runtime.ingestor,
                                    runtime.fetcher if settings.arxiv.use_arxiv else None,
                                    limits=settings.jobs.parse_limits)
    client = ZoteroClient(settings.zotero.zotero_api_key, settings.zotero.zotero_api_url)
    return ZoteroSync(runtime.engine, client, importer, settings.storage.papers_dir / "zotero",
                      settings.arxiv.max_download_mb * 1024 * 1024)
