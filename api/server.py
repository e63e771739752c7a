"""The HTTP server (uvicorn) with the read timeouts uvicorn itself lacks.

uvicorn closes idle keep-alive connections but never times out a request's headers, so a client that sends them a
byte at a time holds a connection (and a slot of `limit_concurrency`) for as long as it likes: a few hundred such
clients turn everyone else away with 503. Its h11 protocol is extended here: a connection that has not sent a
whole request header within SCISYNTH_HEADER_TIMEOUT_SECONDS (counted from connecting, and again from the end of
each response on a kept-alive connection) is closed, and one client address may hold at most
SCISYNTH_MAX_CONNECTIONS_PER_CLIENT connections (trusted proxies excepted). A body that stops arriving is the
guard's to stop (api/guard.py, SCISYNTH_BODY_TIMEOUT_SECONDS). A reverse proxy in front (deploy/haproxy.cfg) sets
the same limits at the edge.

Stopping behind a proxy: uvicorn closes its listening socket as soon as SIGTERM arrives, before the proxy's health
checks have seen anything, so requests the proxy sends in that gap are refused. With SCISYNTH_DRAIN_SECONDS set,
SIGTERM first turns /readyz to 503 and keeps serving for that long (the proxy, or Kubernetes, takes the replica out
of rotation meanwhile), then stops as uvicorn does: in-flight requests finish, running turns get their grace.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import signal
import time
from collections import Counter
from collections.abc import Callable
from types import FrameType

import h11
import uvicorn
from fastapi import FastAPI
from uvicorn.protocols.http.h11_impl import H11Protocol

from agent.settings import Settings

log = logging.getLogger("scisynth.server")


def trusted(entries: list[str]) -> Callable[[str], bool]:
    """Whether an address is one of the trusted proxies, given as addresses or networks (10.0.0.0/8) or "*", as
    uvicorn reads SCISYNTH_TRUSTED_PROXIES for X-Forwarded-For."""
    if "*" in entries:
        return lambda _address: True
    networks = [ipaddress.ip_network(entry, strict=False) for entry in entries]

    def check(address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:  # a Unix socket's peer, say: not a proxy's address
            return False
        return any(ip in network for network in networks)

    return check


def guarded_protocol(header_timeout: float, per_client: int,
                     exempt: Callable[[str], bool]) -> type[H11Protocol]:
    """uvicorn's h11 protocol with a header deadline and a per-address connection cap (addresses `exempt` says
    are trusted proxies are not capped)."""
    open_per_client: Counter[str] = Counter()

    class GuardedH11Protocol(H11Protocol):
        _header_deadline: asyncio.TimerHandle | None = None
        _address: str | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            address = self.client[0] if self.client else None
            if address is not None and not exempt(address):
                if open_per_client[address] >= per_client:
                    log.warning("closing a connection from %s: it holds %d already", address, per_client)
                    transport.close()
                    return
                open_per_client[address] += 1
                self._address = address
            self._await_header()

        def connection_lost(self, exc: Exception | None) -> None:
            self._cancel_header_deadline()
            if self._address is not None:
                open_per_client[self._address] -= 1
                if open_per_client[self._address] <= 0:
                    del open_per_client[self._address]
                self._address = None
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.conn.their_state is not h11.IDLE:  # the request line and headers are in
                self._cancel_header_deadline()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():  # kept alive: the next request's header has a deadline too
                self._await_header()

        def _await_header(self) -> None:
            self._cancel_header_deadline()
            self._header_deadline = self.loop.call_later(header_timeout, self._header_too_slow)

        def _cancel_header_deadline(self) -> None:
            if self._header_deadline is not None:
                self._header_deadline.cancel()
                self._header_deadline = None

        def _header_too_slow(self) -> None:
            self._header_deadline = None
            if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
                log.info("closing a connection from %s: no whole request header within %gs",
                         self.client[0] if self.client else "?", header_timeout)
                self.transport.close()

    return GuardedH11Protocol


class DrainingServer(uvicorn.Server):
    """uvicorn's server, which on SIGTERM calls `on_drain` and goes on serving for `drain_seconds` before it stops.
    A second SIGTERM, or SIGINT (Ctrl+C at a terminal), stops it at once. The signal handler only notes the
    deadline: the stop itself happens on the server's own tick (every 0.1 s), so no thread or lock is touched
    inside a signal handler."""

    def __init__(self, config: uvicorn.Config, drain_seconds: float, on_drain: Callable[[], None]) -> None:
        super().__init__(config)
        self.drain_seconds, self.on_drain = drain_seconds, on_drain
        self.drain_until: float | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if sig != signal.SIGTERM or self.drain_seconds <= 0 or self.drain_until is not None:
            super().handle_exit(sig, frame)
            return
        self.drain_until = time.monotonic() + self.drain_seconds
        self.on_drain()

    async def on_tick(self, counter: int) -> bool:
        if self.drain_until is not None and not self.should_exit and time.monotonic() >= self.drain_until:
            super().handle_exit(signal.SIGTERM, None)  # as if SIGTERM came now: uvicorn stops, streams get grace
        elif self.drain_until is not None and counter % 10 == 0 and not self.should_exit:
            log.warning("SIGTERM: draining, not ready, still serving for %.0fs more",
                        self.drain_until - time.monotonic())
        return await super().on_tick(counter)


def serve(app: FastAPI, settings: Settings, host: str, port: int) -> None:
    """Run the app until stopped. X-Forwarded-For is believed only from proxies the operator names: otherwise any
    client could pick the address its failed logins and connections are counted against."""
    service = settings.service
    protocol = guarded_protocol(service.header_timeout_seconds, service.max_connections_per_client,
                                trusted(service.trusted_proxy_list))
    config = uvicorn.Config(app, host=host, port=port, log_level="info", http=protocol,
                            proxy_headers=bool(service.trusted_proxies),
                            forwarded_allow_ips=service.trusted_proxies or None,
                            limit_concurrency=service.max_connections,
                            timeout_keep_alive=service.keep_alive_seconds,
                            # requests still running when it stops (streamed answers have their own grace)
                            timeout_graceful_shutdown=round(service.shutdown_grace_seconds))

    def drain() -> None:
        app.state.draining = True

    DrainingServer(config, service.drain_seconds, drain).run()
