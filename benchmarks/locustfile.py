"""Researchers using SciSynth, for Locust (run by `python -m benchmarks.bench_users`, or `locust -f` by hand).

A simulated researcher opens the web page, then alternates actions with think time, drawn from a seeded generator so
two runs make the same requests. The mix, per action taken (weights below), and why:
- ask a question (streamed, tokens read as they come), 24: what the assistant is for;
- search the library, 18: researchers search before and between questions;
- list the library, 14: the Library tab is opened and re-sorted often;
- open a cited passage (the quote and its page), 12: half of the answers read get a citation checked;
- a follow-up in the same conversation, 12: most conversations go on after the first answer;
- open the web page again, 8: new tabs and reloads;
- check a claim, 5, and build a small evidence table, 2: the synthesis features, used by fewer people less often;
- export references, 3; import a BibTeX file, 1; upload a PDF, 1: occasional library work.
Think time between actions: 20-60 s, uniform (reading an answer, a passage or a page takes that long); the first
action after opening comes 1-10 s after. Questions repeat at the rate SCISYNTH_LOAD_REPEAT sets (default 0.3: lab
members ask about the same papers; the answer cache's hit rate is measured at that rate, not assumed).
"""

from __future__ import annotations

import itertools
import json
import os
import random
import time
from pathlib import Path

from locust import HttpUser, between, events, task
from requests import RequestException

SEED = int(os.environ.get("SCISYNTH_LOAD_SEED", "7"))
REPEAT = float(os.environ.get("SCISYNTH_LOAD_REPEAT", "0.3"))
QUESTIONS = json.loads(os.environ.get("SCISYNTH_LOAD_QUESTIONS", "[]")) or [
    "How are papers linked in the literature graph?", "Which entities does the literature graph extract?",
    "How is the literature graph built from PDFs?", "What does the Semantic Scholar corpus contain?"]
PDF = os.environ.get("SCISYNTH_LOAD_PDF", "")
LEDGER = os.environ.get("SCISYNTH_LOAD_LEDGER", "")
KEYS = int(os.environ.get("SCISYNTH_LOAD_KEYS", "0"))  # researcher i uses the key load-{i:05d} (none when 0)
BIBTEX = "@article{smith2020graphs, title={Citation graphs for literature search}, author={Smith, Ann}, year={2020}}\n"
_users = random.Random(SEED)
_key_numbers = itertools.count()


FAILURES = os.environ.get("SCISYNTH_LOAD_FAILURES", "")  # each failure as a JSON line: when, action, error


@events.request.add_listener
def _log_failure(request_type: str, name: str, exception: Exception | None, **_: object) -> None:
    if FAILURES and exception is not None:
        with open(FAILURES, "a", encoding="utf-8") as log:
            log.write(json.dumps({"time": time.time(), "action": name, "error": str(exception)[:160]}) + "\n")


class Researcher(HttpUser):
    wait_time = between(20, 60)

    def on_start(self) -> None:
        self.random = random.Random(_users.random())
        self.key = f"load-{next(_key_numbers) % KEYS:05d}" if KEYS else ""
        if self.key:  # each researcher with a key of their own, as a lab gives them
            self.client.headers["Authorization"] = f"Bearer {self.key}"
        self.conversation = f"load-{self.random.getrandbits(48):012x}"
        self.citation: dict | None = None
        self.asked: list[str] = []
        self.talking = False  # the conversation exists once a question was sent
        self.accepted: list[str] = []
        self.jobs: list[str] = []
        self.client.get("/", name="open the web page")
        self.client.get("/static/app.js", name="open the web page")

    def on_stop(self) -> None:
        """Write what the service accepted to SCISYNTH_LOAD_LEDGER, when set: the conversation, the questions and
        the jobs' ids. The benchmark counts a message lost when an accepted question is not in its conversation, and
        a job lost when it never finishes."""
        if LEDGER:
            with open(LEDGER, "a", encoding="utf-8") as ledger:
                ledger.write(json.dumps({"conversation": self.conversation, "key": self.key,
                                         "accepted": self.accepted, "jobs": self.jobs}) + "\n")

    def _job(self, response) -> None:
        """A durable job the service accepted (202 with its id)."""
        if response.status_code == 202:
            self.jobs.append(response.json()["id"])

    def _question(self) -> str:
        if self.asked and self.random.random() < REPEAT:
            return self.random.choice(self.asked)
        question = f"{self.random.choice(QUESTIONS)} ({self.random.randint(1, 10_000)})"
        self.asked.append(question)
        return question

    def _stream(self, question: str, name: str) -> None:
        """A streamed turn; its row's time is the time to the response's headers, and the time to the first
        answer token (the wait a researcher sees) is reported as its own row, "NAME: first answer token"."""
        started = time.perf_counter()
        with self.client.post(f"/v1/conversations/{self.conversation}/messages", json={"content": question},
                              headers={"Accept": "text/event-stream"}, stream=True, name=name,
                              catch_response=True) as response:
            if response.status_code != 200:
                return  # refused or unreachable: Locust counts the error status as a failure
            self.accepted.append(question)  # the service took it: it must be in the conversation afterwards
            try:
                done = self._read_events(response, name, started)
            except RequestException as error:  # cut off mid-stream: a failure its client sees, counted as one
                response.failure(f"the stream broke: {type(error).__name__}")
                return
            if not done:
                response.failure("the stream ended without its done event")
            self.talking = True

    def _read_events(self, response, name: str, started: float) -> bool:
        """Read a turn's events as they come; whether its "done" event arrived."""
        event, done, first = "", False, True
        for line in response.iter_lines(decode_unicode=True):
            if line.startswith("event: "):
                event = line.removeprefix("event: ")
                done = done or event == "done"
                if first and event in ("token", "done"):  # an answer with no token events is whole at done
                    first = False
                    self.environment.events.request.fire(
                        request_type="SSE", name=f"{name}: first answer token", response_length=0,
                        response_time=(time.perf_counter() - started) * 1000, exception=None, context={})
            elif line.startswith("data: ") and event == "citation" and self.random.random() < 0.5:
                self.citation = json.loads(line.removeprefix("data: "))  # one of the answer's citations
        return done

    @task(24)
    def ask(self) -> None:
        self._stream(self._question(), "ask (streamed)")

    @task(12)
    def follow_up(self) -> None:
        self._stream(f"And what are its limitations? ({self.random.randint(1, 10_000)})", "follow-up (streamed)")

    @task(18)
    def search(self) -> None:
        self.client.get("/v1/search", params={"q": self.random.choice(QUESTIONS), "k": 5}, name="search")

    @task(14)
    def library(self) -> None:
        self.client.get("/v1/papers", params={"limit": 50, "sort": self.random.choice(["added", "year", "cited_by"])},
                        name="list the library")

    @task(12)
    def open_citation(self) -> None:
        if self.citation is None:
            return
        self.client.get(f"/v1/papers/{self.citation['paper_id']}/quote", params={"text": self.citation["quote"]},
                        name="open a cited passage")

    @task(8)
    def reopen(self) -> None:
        self.client.get("/", name="open the web page")

    @task(5)
    def check(self) -> None:
        self.client.post("/v1/check", json={"claim": "The literature graph links papers to the entities they mention"},
                         name="check a claim")

    @task(2)
    def table(self) -> None:
        self._job(self.client.post("/v1/tables", json={"query": self.random.choice(QUESTIONS), "n": 3,
                                                       "columns": ["Which dataset?"]}, name="build a small table"))

    @task(3)
    def export(self) -> None:
        if not self.talking:  # the conversation starts with its first question
            return
        self.client.get(f"/v1/conversations/{self.conversation}/references", params={"format": "bibtex"},
                        name="export references")

    @task(1)
    def import_bibtex(self) -> None:
        self._job(self.client.post("/v1/papers/import", files={"file": ("library.bib", BIBTEX,
                                                                         "application/x-bibtex")},
                                   name="import a BibTeX file"))

    @task(1)
    def upload(self) -> None:
        if PDF:
            self._job(self.client.post("/v1/papers", files={"file": ("paper.pdf", Path(PDF).read_bytes(),
                                                                     "application/pdf")}, name="upload a PDF"))
