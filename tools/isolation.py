"""Untrusted files are read in a child process with a deadline and a memory cap.

A BibTeX file, a RIS file or a PDF comes from whoever uploaded it. Their parsers (pylatexenc's LaTeX decoding,
MuPDF) can be driven into super-linear time or large allocations by a crafted file, and a parser crash must not
take the service with it. `run_isolated` runs one call in a fresh spawned process (pebble's process pool, one
task per process): past the deadline the process is killed, past the memory cap the allocation fails inside the
child, and a crash of the child is reported as such; the caller gets an `IsolationError` that says which, in words
a user can act on. The child runs at a lower CPU priority, so the service's own requests keep their core.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
from collections.abc import Callable
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

from pebble import ProcessExpired, ProcessPool

P = ParamSpec("P")
T = TypeVar("T")
CHILD_NICENESS = 10


@dataclass(frozen=True)
class ParseLimits:
    """How long, and with how much memory, one untrusted file may be read (SCISYNTH_PARSE_SECONDS, _MEMORY_MB)."""

    seconds: float = 120.0
    memory_mb: int = 2048


class IsolationError(Exception):
    """The child reading an untrusted file ran out of time or memory, or crashed (the message says which)."""


_IN_CHILD = False


def in_child() -> bool:
    """Whether this process is a bounded child reading an untrusted file (it may not start children of its own)."""
    return _IN_CHILD


def _limit_child(memory_mb: int) -> None:
    """In the child: cap its address space and yield the CPU to the service's own work."""
    global _IN_CHILD
    _IN_CHILD = True
    limit = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    os.nice(CHILD_NICENESS)


def run_isolated(function: Callable[P, T], limits: ParseLimits, what: str, *args: P.args, **kwargs: P.kwargs) -> T:
    """`function(*args, **kwargs)` in a child process, its result or exception passed back (both must pickle).

    `what` names the input in the error ("library.bib"). Raises IsolationError when the child passes the limits'
    seconds, exhausts their memory, or dies."""
    seconds, memory_mb = limits.seconds, limits.memory_mb
    with ProcessPool(max_workers=1, max_tasks=1, initializer=_limit_child, initargs=(memory_mb,),
                     context=multiprocessing.get_context("spawn")) as pool:
        future = pool.schedule(function, args, kwargs, timeout=seconds)
        try:
            return future.result()
        except FutureTimeout as error:
            raise IsolationError(f"reading {what} took longer than {seconds:g} s and was stopped; split it into "
                                 "smaller files or remove what is unusual in it") from error
        except MemoryError as error:
            raise IsolationError(f"reading {what} needed more than {memory_mb:,} MB and was stopped; split it into "
                                 "smaller files") from error
        except ProcessExpired as error:
            raise IsolationError(f"the reader of {what} crashed (exit code {error.exitcode}); the file is "
                                 "probably damaged") from error
        except BrokenProcessPool as error:  # the child could not start (no memory for it, a broken install)
            raise IsolationError(f"the reader of {what} could not start ({error})") from error
