"""The library map's use case: the map, with a watch's new papers or a conversation's cited papers marked.

One map is built at a time in a process (a first layout costs seconds); the last one is reused until the library
changes, so every request after the first costs the marking alone.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field, replace

from agent.runtime import Runtime
from retrieval.library_map import LibraryMap, LibraryMapper
from service.turns import TurnService
from service.watches import WatchService


@dataclass
class MapService:
    runtime: Runtime
    turns: TurnService
    watches: WatchService
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _last: tuple[str, LibraryMap] | None = None

    def mapper(self) -> LibraryMapper:
        """The mapper of this library: its kept layout is named by the database and the embedding model, so
        libraries sharing a cache folder keep their own and replicas of one library share theirs."""
        runtime = self.runtime
        library = hashlib.sha256(runtime.settings.storage.resolved_database_url.encode()).hexdigest()[:16]
        return LibraryMapper(runtime.catalog, runtime.store, runtime.citation_graph,
                             runtime.settings.storage.cache_dir / "map" / library, runtime.embedder.name)

    def build(self, watch: str | None = None, conversation: str | None = None, owner: str | None = None,
              recompute: bool = False) -> LibraryMap:
        """The map; `watch` (WatchError, NotYoursError as WatchService.owned) and `conversation` (an id the caller
        may read) mark their papers; `recompute` lays the whole library out again."""
        marks: dict[str, str] = {}
        if conversation is not None:
            marks |= {paper.paper_id: "conversation" for paper in self.turns.cited_papers(conversation)}
        if watch is not None:
            marks |= dict.fromkeys(self.watches.added_papers(watch, owner, self.runtime.catalog), "watch")
        with self._lock:
            mapper = self.mapper()
            # papers, passages or reference lists added or removed, or another replica laid the map out again
            library = self.runtime.catalog.version()
            if recompute or self._last is None or self._last[0] != f"{library}|{mapper.kept_version()}":
                built = mapper.build(recompute)  # may write the kept layout: its new version is read after
                self._last = (f"{library}|{mapper.kept_version()}", built)
            built = self._last[1]
        on_map = {point.paper_id for point in built.points}
        return replace(built, highlighted={paper: why for paper, why in marks.items() if paper in on_map})
