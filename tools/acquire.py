"""Safe paper downloads: only from allowed hosts, https unless a host is allowed for http, every redirect
checked again, private and loopback addresses refused unless named, size capped while streaming,
`%PDF` checked, written atomically (temp file + rename), sha256 recorded.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx

DEFAULT_MAX_BYTES = 50 * 1024 * 1024
MAX_REDIRECTS = 5


class FetchRefusedError(Exception):
    """The URL is not one SciSynth may fetch from (host, scheme or address); nothing was downloaded."""


class DownloadError(Exception):
    """The download failed or was not a PDF (too large, truncated, HTML, timeout); nothing was kept."""


@dataclass(frozen=True)
class FetchPolicy:
    """Where downloads may come from. Entries are host names (https only) or `http://host` (http too).
    A host that is an IP literal in the list may be private or loopback (tests, intranet mirrors)."""

    allowed: tuple[str, ...] = ("arxiv.org", "export.arxiv.org")

    @classmethod
    def from_hosts(cls, hosts: list[str]) -> FetchPolicy:
        return cls(tuple(h.strip().lower().rstrip("/") for h in hosts if h.strip()))

    def _hosts(self, scheme: str) -> set[str]:
        https = {h.removeprefix("https://") for h in self.allowed if not h.startswith("http://")}
        http = {h.removeprefix("http://") for h in self.allowed if h.startswith("http://")}
        return http if scheme == "http" else https | http

    def check(self, url: str) -> None:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if parts.scheme not in ("http", "https"):
            raise FetchRefusedError(f"{url}: only http(s) downloads are allowed")
        allowed = self._hosts(parts.scheme)
        if host not in allowed and f"{host}:{parts.port}" not in allowed:
            hint = "http://" + host if parts.scheme == "http" else host
            raise FetchRefusedError(f"{url}: host {host} is not allowed for {parts.scheme}; add {hint} to "
                                    "SCISYNTH_ALLOWED_FETCH_HOSTS to allow it")
        if _is_ip(host):
            return  # an address named explicitly in the allow list
        for address in _addresses(host, parts.port or (443 if parts.scheme == "https" else 80)):
            if address.is_private or address.is_loopback or address.is_link_local or address.is_reserved:
                raise FetchRefusedError(f"{url}: {host} resolves to the internal address {address}; refused")


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _addresses(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except socket.gaierror as error:
        raise DownloadError(f"cannot resolve {host} ({error})") from error
    return [ipaddress.ip_address(info[4][0]) for info in infos]


@dataclass(frozen=True)
class DownloadedFile:
    path: Path
    sha256: str
    size: int


def download_pdf(url: str, destination: Path, policy: FetchPolicy, max_bytes: int = DEFAULT_MAX_BYTES,
                 timeout: float = 60.0, credentials: dict[str, str] | None = None) -> DownloadedFile:
    """Fetch a PDF to `destination` (replaced atomically). Raises FetchRefusedError or DownloadError.
    `credentials` (headers) go to the first URL only, never to where it redirects."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    with httpx.Client(timeout=timeout, follow_redirects=False, headers={"user-agent": "scisynth/0.1"}) as client:
        for _ in range(MAX_REDIRECTS + 1):
            policy.check(url)
            try:
                with client.stream("GET", url, headers=credentials) as response:
                    if response.is_redirect:
                        url, credentials = urljoin(url, response.headers.get("location", "")), None
                        continue
                    if response.status_code != 200:
                        raise DownloadError(f"{url}: HTTP {response.status_code}")
                    return _stream_to_file(response, url, destination, max_bytes)
            except httpx.RemoteProtocolError as error:
                raise DownloadError(f"{url}: truncated download ({error})") from error
            except httpx.TimeoutException as error:
                raise DownloadError(f"{url}: timed out after {timeout:.0f} s") from error
            except httpx.TransportError as error:
                raise DownloadError(f"{url}: {error.__class__.__name__}: {error}") from error
    raise DownloadError(f"{url}: more than {MAX_REDIRECTS} redirects")


def _stream_to_file(response: httpx.Response, url: str, destination: Path, max_bytes: int) -> DownloadedFile:
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise DownloadError(f"{url}: {int(declared):,} bytes is over the {max_bytes:,}-byte limit")
    digest, size = hashlib.sha256(), 0
    handle, temporary = tempfile.mkstemp(dir=destination.parent, prefix=".download-", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as out:
            for piece in response.iter_bytes():
                if size == 0 and not piece.lstrip()[:5].startswith(b"%PDF"):
                    kind = response.headers.get("content-type", "unknown type")
                    raise DownloadError(f"{url}: not a PDF ({kind}, starts with {piece[:16]!r})")
                size += len(piece)
                if size > max_bytes:
                    raise DownloadError(f"{url}: larger than the {max_bytes:,}-byte limit; stopped")
                digest.update(piece)
                out.write(piece)
            out.flush()
            os.fsync(out.fileno())
        if declared and declared.isdigit() and size != int(declared):
            raise DownloadError(f"{url}: truncated ({size:,} of {int(declared):,} bytes)")
        os.replace(temporary, destination)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return DownloadedFile(destination, digest.hexdigest(), size)
