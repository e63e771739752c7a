"""Running a turn in a worker thread and relaying its events as Server-Sent Events.

The turn runs to the end and stores its answer even when the client goes away mid-stream: the worker
owns the turn, the response only reads its queue.
"""

from __future__ import annotations

import asyncio
import json
import logging
import queue
import re
import threading
from collections.abc import AsyncIterator, Callable

log = logging.getLogger(__name__)
_WORD = re.compile(r"\S+\s*")


def sse(event: str, data: object) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


class TurnWorkers:
    """The running turns, so shutdown can wait for them to finish and store their answers."""

    def __init__(self) -> None:
        self._threads: set[threading.Thread] = set()
        self._lock = threading.Lock()

    def start(self, work: Callable[[], None]) -> None:
        def run() -> None:
            try:
                work()
            finally:
                with self._lock:
                    self._threads.discard(threading.current_thread())

        thread = threading.Thread(target=run, daemon=True, name="scisynth-turn")
        with self._lock:
            self._threads.add(thread)
        thread.start()

    def wait(self, timeout: float) -> int:
        """Join running turns for up to `timeout` seconds; returns how many are still running."""
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout=timeout / max(1, len(threads)))
        return sum(thread.is_alive() for thread in threads)


def turn_events(workers: TurnWorkers, run_turn: Callable[[Callable[[dict], None]], dict]) -> AsyncIterator[str]:
    """SSE text for one turn: status/tool/paper while it runs, then token, citation, hypothesis, done."""
    events: queue.Queue[dict | None] = queue.Queue()

    def work() -> None:
        try:
            result = run_turn(events.put)
            for piece in _WORD.findall(result["answer"]):
                events.put({"event": "token", "data": {"text": piece}})
            for citation in result["citations"]:
                events.put({"event": "citation", "data": citation})
            for hypothesis in result["hypotheses"]:
                events.put({"event": "hypothesis", "data": hypothesis})
            events.put({"event": "done", "data": {k: v for k, v in result.items() if k != "trace"}})
        except Exception as error:
            log.exception("turn failed")
            events.put({"event": "error", "data": {"detail": f"the agent failed: {error}"}})
        finally:
            events.put(None)

    workers.start(work)

    async def stream() -> AsyncIterator[str]:
        while (event := await asyncio.to_thread(events.get)) is not None:
            yield sse(event["event"], event["data"])

    return stream()
