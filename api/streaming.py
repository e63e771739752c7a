"""Running a turn in a worker thread and relaying its events to a client as they happen.

The turn runs to the end and stores its answer even when the client goes away mid-stream: the worker
owns the turn, the response only reads its queue. Events, in order: status/tool/paper as steps finish,
token as the answer is written (the model's own tokens, or extractive sentences), revised when the
checked answer differs from what was streamed, then citation, hypothesis, and done (or error).
Server-Sent Events are written by sse-starlette, with keep-alive pings during long steps.
"""

from __future__ import annotations

import asyncio
import json
import logging
import queue
import threading
from collections.abc import AsyncIterator, Callable

from sse_starlette.sse import EventSourceResponse, ServerSentEvent

from agent.turn import TurnEvent, TurnResult
from service.turns import Emit

log = logging.getLogger(__name__)
PING_SECONDS = 15


class TurnsBusyError(Exception):
    """This process already runs as many streamed turns as it may (SCISYNTH_MAX_STREAMING_TURNS): answered 503."""


class TurnWorkers:
    """The running turns, so shutdown can wait for them to finish and store their answers. Each holds a thread,
    so at most `max_running` run at once; more are refused (TurnsBusyError), never queued without end."""

    def __init__(self, max_running: int = 64) -> None:
        self.max_running = max_running
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
            if len(self._threads) >= self.max_running:
                raise TurnsBusyError(f"{self.max_running} turns are running on this server; try again in a moment")
            self._threads.add(thread)
        thread.start()

    def wait(self, timeout: float) -> int:
        """Join running turns for up to `timeout` seconds; returns how many are still running."""
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout=timeout / max(1, len(threads)))
        return sum(thread.is_alive() for thread in threads)


def turn_events(workers: TurnWorkers, run_turn: Callable[[Emit], TurnResult]) -> AsyncIterator[TurnEvent]:
    """The events of one turn, as they happen; `run_turn(emit)` runs it in a worker thread, started now (so a
    full house raises TurnsBusyError before any response is sent)."""
    events: queue.Queue[TurnEvent | None] = queue.Queue()

    def work() -> None:
        try:
            result = run_turn(events.put)
            for citation in result.citations:
                events.put(TurnEvent(event="citation", data=dict(citation)))
            for hypothesis in result.hypotheses:
                events.put(TurnEvent(event="hypothesis", data=dict(hypothesis)))
            events.put(TurnEvent(event="done", data=result.model_dump(exclude={"trace"})))
        except Exception:
            log.exception("turn failed")
            events.put(TurnEvent(event="error", data={"detail": "the agent failed; the details are in the server "
                                                                 "log"}))
        finally:
            events.put(None)

    workers.start(work)

    async def stream() -> AsyncIterator[TurnEvent]:
        while (event := await asyncio.to_thread(events.get)) is not None:
            yield event

    return stream()


def sse_response(events: AsyncIterator[TurnEvent], grace_seconds: float) -> EventSourceResponse:
    """Named SSE events (`event: token`, `data: {...}`) with keep-alive pings. When the server stops, a turn
    still streaming gets `grace_seconds` to finish (sse-starlette would cut it at once) and is cut after that."""
    async def encoded() -> AsyncIterator[ServerSentEvent]:
        async for event in events:
            yield ServerSentEvent(data=json.dumps(event.data, ensure_ascii=False), event=event.event)

    return EventSourceResponse(encoded(), ping=PING_SECONDS, sep="\n", headers={"Cache-Control": "no-cache"},
                               shutdown_grace_period=grace_seconds)
