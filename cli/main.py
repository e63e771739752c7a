"""The `scisynth` command line. Every command has --json for machine-readable output."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.llm import RECOMMENDED_GGUF
from agent.settings import Settings
from cli.parser import build_parser
from retrieval.vector_store import IndexMismatchError
from store.schema import UnusableDatabaseError
from tools.documents import reading_note

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from agent.runtime import Runtime
    from retrieval.ingest import IngestResult
    from service import Services
    from service.library import LibraryService
    from store.catalog import PaperRow
    from store.jobs import JobRow
    from store.watches import DigestRow

log = logging.getLogger("scisynth")


def _print(data: Any, as_json: bool, human: str) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False) if as_json else human)


def _result_line(result: IngestResult) -> str:
    """One ingest, import or sync result as the CLI prints it."""
    return (f"{result.status:9} {result.paper_id or '-':26} {result.chunks:4} chunks  {result.title or result.path}"
            + (f"  ({result.error})" if result.error else "")
            + (f"  [{reading_note(result.reader, result.reader_note)}]" if result.reader_note else ""))


def _services(args: argparse.Namespace, needs_model: bool = True, reset_index: bool = False) -> Services:
    """The services; commands that never write an answer (ingest, search, library) load no language model, and
    digests written here are posted to Slack when it is configured."""
    from agent.runtime import build_runtime
    from api.slack_watch import slack_delivery
    from service import build_services

    overrides = {"llm": args.llm} if getattr(args, "llm", None) else {}
    settings = Settings(**overrides) if needs_model else Settings(**{**overrides, "llm": "extractive"})
    return build_services(build_runtime(settings, reset_index=reset_index), deliver=slack_delivery(settings))


def _writable(output: Path) -> None:
    """Refuse, before any work, to write into a folder that does not exist."""
    if not output.resolve().parent.is_dir():
        raise ValueError(f"no folder {output.resolve().parent} to write {output} in")


def cmd_serve(args: argparse.Namespace) -> int:
    from api.app import create_app
    from api.server import serve
    from store.engine import make_engine
    from store.schema import upgrade

    settings = Settings()
    engine = make_engine(settings.storage.resolved_database_url)
    upgrade(engine)  # a database it cannot use stops it here, in one line
    engine.dispose()
    serve(create_app(settings), settings, args.host, args.port)
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from tools.parsers import expand_paths

    if args.ray_workers is not None and args.ray is None:
        raise ValueError("--ray-workers needs --ray ADDRESS")
    if args.ray_workers is not None and args.ray_workers < 1:
        raise ValueError("--ray-workers must be at least 1")
    if args.ray is not None and not args.ray.strip():
        raise ValueError("--ray needs an address: 'auto' or the head's HOST:PORT")
    services = _services(args, needs_model=False)
    files = expand_paths([Path(p) for p in args.paths])
    with tqdm(desc="ingest", unit="paper", disable=args.json or None, file=sys.stderr) as bar:
        if args.ray is not None:
            results = _ray_ingest(services.runtime, args, files, on_paper=lambda _result: bar.update())
        else:
            results = services.library.ingest(files, on_paper=lambda _result: bar.update())
    failed = [r for r in results if r.status == "failed"]
    counts = {status: sum(r.status == status for r in results) for status in ("added", "unchanged", "failed")}
    lines = [_result_line(r) for r in results if r.status != "failed"][:args.show]
    lines.append(", ".join(f"{n} {status}" for status, n in counts.items()))
    _print({"results": [r.public() for r in results], "counts": counts}, args.json, "\n".join(lines))
    for result in failed:
        print(f"scisynth: cannot ingest {result.path}: {result.error}", file=sys.stderr)
    return 2 if failed and (len(failed) == len(results) or _named_file_failed(args.paths, results)) else 0


def _ray_ingest(runtime: Runtime, args: argparse.Namespace, files: list[Path],
                on_paper: Callable[[IngestResult], None]) -> list[IngestResult]:
    """Ingest with parsing and encoding on the Ray cluster named by --ray; says how the work was spread."""
    from retrieval.ray_ingest import RayIngest

    ray_ingest = RayIngest(runtime.ingestor, runtime.settings.retrieval.embeddings, args.ray, args.ray_workers)
    try:
        run = ray_ingest.ingest_paths(files, on_paper=on_paper)
    finally:
        ray_ingest.close()
    spread = ", ".join(f"{node[:8]}: {count}" for node, count in run.papers_per_node.most_common())
    print(f"scisynth: {len(ray_ingest.workers)} Ray workers encoded papers on "
          f"{len(run.papers_per_node)} nodes ({spread or 'none new'})", file=sys.stderr)
    return run.results


def _named_file_failed(paths: list[str], results: list) -> bool:
    """A file given by name (not found in a folder) that yielded no paper at all."""
    for name in (str(Path(p)) for p in paths if not Path(p).is_dir()):
        mine = [r for r in results if r.path == name or r.path.startswith(f"{name}:")]
        if mine and all(r.status == "failed" for r in mine):
            return True
    return False


def cmd_arxiv(args: argparse.Namespace) -> int:
    from tools.arxiv_client import ArxivError, build_query

    services = _services(args, needs_model=False)
    query = build_query(args.query, title=args.title, author=args.author, category=args.category,
                        since=args.since, until=args.until)
    try:
        papers = services.runtime.arxiv.search(query, max_results=args.max, sort_by=args.sort)
    except ArxivError as error:
        print(f"scisynth: {error}", file=sys.stderr)
        return 2
    human = "\n".join(f"{p.arxiv_id:18} {p.published:%Y-%m-%d}  {p.title}\n{'':20}{', '.join(p.authors[:4])}"
                      for p in papers) or "no results"
    _print({"query": query, "results": [p.model_dump(mode="json") for p in papers]}, args.json, human)
    return 0


def cmd_fetch(args: argparse.Namespace) -> int:
    from tools.arxiv_client import ArxivError

    services = _services(args, needs_model=False)
    try:
        results = services.library.fetch(args.ids, with_pdf=not args.abstract_only)
    except ArxivError as error:
        print(f"scisynth: {error}", file=sys.stderr)
        return 2
    lines = [f"{r.status:9} {r.paper_id or '-':20} {r.chunks:4} chunks  {r.title or ''}"
             + (f"  ({r.error})" if r.error and r.status != "failed" else "") for r in results if r.status != "failed"]
    _print({"results": [r.public() for r in results]}, args.json, "\n".join(lines))
    failed = [r for r in results if r.status == "failed"]
    for result in failed:
        print(f"scisynth: cannot fetch {result.path}: {result.error}", file=sys.stderr)
    return 2 if failed else 0


def cmd_import(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from tools.bibliography import BibliographyError

    services = _services(args, needs_model=False)
    try:
        with tqdm(desc="import", unit="entry", disable=args.json or None, file=sys.stderr) as bar:
            report = services.library.import_bibliography(Path(args.file), on_entry=lambda _result: bar.update())
    except BibliographyError as error:
        print(f"scisynth: {error}", file=sys.stderr)
        return 2
    public = report.public()
    lines = [_result_line(r) for r in report.results]
    lines.append(", ".join(f"{n} {status}" for status, n in public["counts"].items())
                 + f", {len(report.skipped)} skipped")
    _print(public, args.json, "\n".join(lines))
    for bad in report.skipped:
        print(f"scisynth: {args.file}:{bad.line}: skipped: {bad.reason}", file=sys.stderr)
    return 2 if not report.results else 0


def cmd_zotero(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from tools.zotero import ZoteroError

    services = _services(args, needs_model=False)
    try:
        with tqdm(desc="zotero", unit="item", disable=args.json or None, file=sys.stderr) as bar:
            report = services.library.sync_zotero(args.library, args.collection, on_item=lambda _result: bar.update())
    except ZoteroError as error:
        print(f"scisynth: {error}", file=sys.stderr)
        return 2
    public = report.public()
    lines = [_result_line(r) for r in report.results]
    summary = (", ".join(f"{n} {status}" for status, n in public["counts"].items())
               + f", {len(report.skipped)} skipped, {len(report.removed)} removed" if report.changed
               else "nothing changed in Zotero since the last sync")
    _print(public, args.json, "\n".join([*lines, f"{report.library} at version {report.version}: {summary}"]))
    for key, reason in report.skipped:
        print(f"scisynth: skipped Zotero item {key}: {reason}", file=sys.stderr)
    return 0


def cmd_watch(args: argparse.Namespace) -> int:
    from service.watches import NewWatch
    from store.watches import WatchError, digest_text

    services = _services(args, needs_model=False)
    watches = services.watches
    if args.watch_command == "add":
        try:
            watch = watches.add(NewWatch(args.name, args.query, tuple(args.category or ()), args.title, args.author,
                                         tuple(args.question or ()), args.every, args.max, not args.abstract_only))
        except WatchError as error:
            print(f"scisynth: {error}", file=sys.stderr)
            return 2
        _print(watch.public(), args.json, f"watch {watch.id} saved: {watch.query} (every {watch.every_hours:g} h; "
                                          f"'scisynth watch run {watch.id}' runs it now)")
        return 0
    if args.watch_command == "list":
        rows = watches.store.saved()
        _print([w.public() for w in rows], args.json, "\n".join(
            f"{w.id}  {w.name}: {w.query}  every {w.every_hours:g} h, last: {w.last_status or 'never run'}"
            + "".join(f"\n{'':14}Q: {q}" for q in w.questions) for w in rows) or "no watches")
        return 0
    if args.watch_command == "remove":
        missing = [watch_id for watch_id in args.watch_ids if not watches.store.remove(watch_id)]
        for watch_id in missing:
            print(f"scisynth: no watch {watch_id} ('scisynth watch list' shows them)", file=sys.stderr)
        return 2 if missing else 0
    if args.watch_command == "digests":
        digests = watches.digests(args.watch, args.limit)
        _print([d.public() for d in digests], args.json,
               "\n\n".join(f"{d.created_at:%Y-%m-%d %H:%M}  {digest_text(d)}" for d in digests) or "no digests yet")
        return 0
    runs = [_run_watch(services, watch_id) for watch_id in args.watch_ids] if args.watch_ids else [
        _run_watch(services, job.payload["watch_id"], job) for job in watches.queue_due(max_pending_jobs=sys.maxsize)]
    _print([{"watch_id": watch_id, "status": status, "digest": digest and digest.public()}
            for watch_id, status, digest in runs], args.json,
           "\n\n".join(digest_text(digest) if digest else f"{watch_id}: {status}" for watch_id, status, digest in runs)
           or "no watch is due")
    return 2 if any(status in ("failed", "no such watch") for _, status, _ in runs) else 0


def _run_watch(services: Services, watch_id: str, job: JobRow | None = None) -> tuple[str, str, DigestRow | None]:
    """Run a watch's job in this process: (watch id, how it went, the digest it wrote). A job the service's worker
    already holds runs there ("running in the service")."""
    watches = services.watches
    if watches.store.get(watch_id) is None:
        return watch_id, "no such watch", None
    job = job or watches.queue_run(watch_id, "")
    before = {d.id for d in watches.digests(watch_id, limit=5)}
    done = services.jobs.run_now(job.id)
    if done is None:
        return watch_id, "running in the service", None
    watch = watches.store.get(watch_id)
    written = [d for d in watches.digests(watch_id, limit=5) if d.id not in before]
    status = "failed" if done.status == "failed" else (watch.last_status if watch else "no such watch") or "done"
    return watch_id, status, written[0] if written else None


def cmd_export(args: argparse.Namespace) -> int:
    services = _services(args, needs_model=False)
    if args.conversation is not None:
        if services.runtime.conversations.get(args.conversation) is None:
            print(f"scisynth: no conversation {args.conversation!r} (scisynth ask --conversation ID starts one)",
                  file=sys.stderr)
            return 2
        papers = services.turns.cited_papers(args.conversation)
    else:
        papers = services.library.papers(limit=None)
    text = services.library.export(papers, args.format)
    if not args.output:
        sys.stdout.write(text)
        return 0
    try:
        Path(args.output).write_text(text, encoding="utf-8")
    except OSError as error:
        print(f"scisynth: cannot write {args.output}: {error.strerror}", file=sys.stderr)
        return 2
    print(f"{len(papers)} references written to {args.output}", file=sys.stderr)
    return 0


def cmd_reindex(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    services = _services(args, needs_model=False, reset_index=True)
    store = services.runtime.store
    with tqdm(total=services.runtime.catalog.chunk_count(), desc="reindex", unit="chunk", disable=args.json or None,
              file=sys.stderr) as bar:
        count = services.library.reindex(on_batch=bar.update)
    _print({"chunks": count, "index_type": store.index_type}, args.json,
           f"rebuilt the index from the catalog: {count} chunks ({store.index_type} search)")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from evals.runner import markdown_table, run_quick, run_suite
    from evals.tracking import log_report, tracked
    from retrieval.embeddings import spec_name

    if args.plot is not None:
        if args.suite != "abstention":
            raise ValueError("--plot draws the abstention trade-off curve: use it with 'scisynth eval abstention' "
                             "(benchmarks draw theirs with 'python -m benchmarks --plot FOLDER')")
        if args.plot.suffix.lower() != ".png":
            raise ValueError(f"cannot write the figure {args.plot}: give a .png file")
        _writable(args.plot)
    chosen = {"llm": args.llm, "embeddings": args.embeddings}
    settings = Settings(**{name: value for name, value in chosen.items() if value})
    with tqdm(desc=f"eval {args.suite}", unit="item", disable=args.json or None, file=sys.stderr) as bar:
        if args.suite == "quick":
            reports, failures = run_quick(settings, on_item=bar.update)
        else:
            variant = args.reader if args.suite == "pdf-structure" else args.retriever
            reports, failures = [run_suite(args.suite, settings, args.data_dir, args.limit, args.corpus_limit,
                                           variant, args.out, on_item=bar.update)], []
    summaries = [{k: v for k, v in r.items() if k != "items"} for r in reports]
    for summary in summaries:
        with tracked(settings, "scisynth-eval", summary["suite"]) as mlflow:
            if mlflow is not None:
                log_report(mlflow, {"suite": summary["suite"], "dataset": summary.get("dataset", {}),
                                    "settings": summary.get("settings", {}),
                                    "embeddings": spec_name(settings.retrieval.embeddings),
                                    "llm": settings.model.llm}, summary.get("metrics", {}))
    if args.plot is not None:
        from evals.plots import abstention_figure

        abstention_figure(reports[0], args.plot)
        print(f"wrote the trade-off curve to {args.plot}", file=sys.stderr)
    human = "\n\n".join(f"## {r['suite']} ({r['dataset']}){_took(r)}\n\n{markdown_table(r)}" for r in reports)
    _print(summaries[0] if len(summaries) == 1 else {"reports": summaries, "failures": failures}, args.json, human)
    for failure in failures:
        print(f"scisynth: eval below threshold: {failure}", file=sys.stderr)
    return 1 if failures else 0


def _took(report: dict) -> str:
    """", in 42.0 s" for a suite of `eval quick` (its wall time), else nothing."""
    seconds = report.get("timings", {}).get("suite_seconds")
    return f", in {seconds} s" if seconds is not None else ""


def _training_output(args: argparse.Namespace, default_name: str) -> Path | None:
    """Where `scisynth train judge|stance` writes, checked before minutes of training (None: said what is wrong)."""
    output = args.out or Settings().storage.home_dir / "models" / default_name
    missing = [args.data_dir / name for name in ("scifact", "pubmedqa")] if args.data_dir else []
    if missing := [str(folder) for folder in missing if not folder.is_dir()]:
        print(f"scisynth: no {' or '.join(missing)}: --data-dir is the folder holding scifact/ and pubmedqa/",
              file=sys.stderr)
        return None
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        probe = output.with_suffix(output.suffix + ".tmp")  # the name write_atomically writes first
        probe.touch()
        probe.unlink()
    except OSError as error:
        print(f"scisynth: cannot write {output}: {error.strerror}; choose another --out", file=sys.stderr)
        return None
    return output


@contextlib.contextmanager
def _training_progress(args: argparse.Namespace, description: str, unit: str
                       ) -> Iterator[Callable[[str, int, int], None]]:
    """A progress bar (hidden with --json) and the (stage, done, total) callback training reports to."""
    from tqdm import tqdm

    with tqdm(desc=description, unit=unit, disable=args.json or None, file=sys.stderr) as bar:
        def advance(_stage: str, done: int, total: int) -> None:
            bar.total, bar.n = total, done
            bar.refresh()

        yield advance


def cmd_train_judge(args: argparse.Namespace) -> int:
    from research.judge_training import train_from_data, weights_table

    settings = Settings()
    if (output := _training_output(args, "evidence_judge.json")) is None:
        return 2
    with _training_progress(args, "train judge", "question") as advance:
        judge = train_from_data(settings, output, data_dir=args.data_dir, on_progress=advance,
                                max_questions=args.max_questions)
    table = judge.manifest["cross_validation"]["table"]
    lines = [f"{name}: P@1 {row['p@1']:.3f}, P@3 {row['p@3']:.3f}" for name, row in table.items()]
    weights = ", ".join(f"{name} {weight:+.2f}" for name, weight in weights_table(judge))
    _print({**judge.manifest, "path": str(output)}, args.json,
           f"cross-validated on the training questions ({judge.manifest['cross_validation']['folds']} folds, "
           f"grouped by question):\n" + "\n".join(lines) + f"\nweights (standardised): {weights}\n"
           f"written: {output}\nuse: SCISYNTH_EVIDENCE_JUDGE={output} scisynth eval citations")
    return 0


def cmd_train_stance(args: argparse.Namespace) -> int:
    from research.stance_training import train_from_data

    if (output := _training_output(args, "stance.json")) is None:
        return 2
    with _training_progress(args, "train stance", "claim") as advance:
        classifier = train_from_data(Settings(), output, data_dir=args.data_dir, on_progress=advance,
                                     max_claims=args.max_claims)
    validation = classifier.manifest["cross_validation"]

    def rows(table: dict) -> str:
        return "\n".join(f"  {name}: accuracy {row['accuracy']:.3f}, macro-F1 {row['macro_f1']:.3f}"
                         for name, row in table.items())

    _print({**classifier.manifest, "path": str(output)}, args.json,
           f"cross-validated on SciFact train ({validation['folds']} folds, grouped by claim):\n"
           f"evidence or not: F1 {validation['stage1_evidence_f1']:.3f} at P >= {validation['evidence_threshold']}\n"
           f"supports or contradicts (evidence papers):\n{rows(validation['stage2_supports_or_contradicts'])}\n"
           f"three-way:\n{rows(validation['three_way'])}\n"
           f"evidence-table cells at P >= {validation['table_threshold']}: "
           + ", ".join(f"{k} {v:.3f}" for k, v in validation["table_cells"].items()) + "\n"
           f"written: {output}\nuse: SCISYNTH_STANCE_MODEL={output} scisynth eval scifact-verify")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    import importlib.util

    if args.train_command == "judge":
        return cmd_train_judge(args)
    if args.train_command == "stance":
        return cmd_train_stance(args)

    if not all(importlib.util.find_spec(name) for name in ("datasets", "accelerate")):
        print("scisynth: training needs the 'train' extra: pip install -e '.[train]'", file=sys.stderr)
        return 2
    from research.training import TrainingOptions, train_from_data

    settings = Settings()
    output = args.out or settings.storage.home_dir / "models" / f"retriever-seed{args.seed}"
    options = TrainingOptions(epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.learning_rate,
                              seed=args.seed, max_pairs=args.max_pairs, max_steps=args.max_steps,
                              chunk_tokens=settings.retrieval.chunk_tokens)
    manifest = train_from_data(settings, options, output, pairs_file=args.pairs, data_dir=args.data_dir,
                               progress=not args.json)
    # the size it learned on: search at that size too
    chunks = f"SCISYNTH_CHUNK_TOKENS={settings.retrieval.chunk_tokens}"
    _print({**manifest, "path": str(output)}, args.json,
           f"trained on {manifest['data']['pairs']} pairs in {manifest['steps']} steps (loss "
           f"{manifest['training_loss']}): {output}\ncompare: {chunks} scisynth eval scifact-retrieval --embeddings "
           f"{output}\nswitch: {chunks} SCISYNTH_EMBEDDINGS={output} scisynth reindex")
    return 0


def cmd_slack(args: argparse.Namespace) -> int:
    """Socket Mode: the bot connects out to Slack, so no public URL is needed (development, firewalled labs)."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    from api.slack import SlackBot

    slack = Settings().slack
    if not (slack.slack_bot_token and slack.slack_app_token):
        print("scisynth: Socket Mode needs SLACK_BOT_TOKEN and SLACK_APP_TOKEN (an xapp- token)", file=sys.stderr)
        return 2
    bot = SlackBot(_services(args), slack.slack_bot_token, slack.slack_signing_secret or "unused", slack.slack_api_url)
    SocketModeHandler(bot.app, slack.slack_app_token).start()
    return 0


def cmd_models_pull(args: argparse.Namespace) -> int:
    """Download a GGUF into the home folder's models/, where `auto` finds it."""
    from agent.llm import download_gguf

    settings = Settings()
    path = download_gguf(args.spec, settings.storage.home_dir / "models")
    _print({"path": str(path)}, args.json, f"{path}\nnow used by SCISYNTH_LLM=auto (or llamacpp:{path})")
    return 0


def cmd_keys(args: argparse.Namespace) -> int:
    from store.engine import make_engine
    from store.keys import KeyStore

    settings = Settings()
    keys = KeyStore(make_engine(settings.storage.resolved_database_url), settings.service.keys)
    key = keys.create(args.name, args.role)
    _print({"key": key, "name": args.name, "role": args.role}, args.json,
           f"{key}\nrole {args.role}; keep it now: only its hash is stored. Send it as "
           "'Authorization: Bearer <key>'.")
    return 0


def cmd_db(args: argparse.Namespace) -> int:
    from store import schema
    from store.engine import make_engine

    settings = Settings()
    engine = make_engine(settings.storage.resolved_database_url)
    database = engine.url.render_as_string(hide_password=True)
    if args.db_command == "upgrade":
        applied = schema.upgrade(engine)
        revision = schema.current_revision(engine)
        _print({"database": database, "applied": applied, "revision": revision}, args.json,
               "\n".join([*(f"applied {step}" for step in applied), f"{database} is at revision {revision}"]))
        return 0
    file = Path(engine.url.database or "")
    if not settings.storage.uses_postgres and not file.exists():  # looking makes nothing
        _print({"database": database, "exists": False, "revision": None, "head": schema.head_revision()}, args.json,
               f"no database at {file} yet: any command (or 'scisynth db upgrade') makes it" if file.parent.is_dir()
               else f"no database at {file}, and no folder {file.parent} to make it in: check SCISYNTH_DATABASE_URL")
        return 0 if file.parent.is_dir() else 2
    report = {"database": database, "exists": True, "revision": schema.current_revision(engine),
              "head": schema.head_revision()}
    try:
        report["pending"] = schema.pending_revisions(engine)
    except schema.SchemaTooNewError as error:
        _print({**report, "error": str(error)}, args.json, f"{database}\n{error}")
        return 2
    to_do = "\n".join(f"pending {step}" for step in report["pending"]) or "up to date"
    _print(report, args.json, f"{database}\nrevision {report['revision'] or 'none (new, or made before migrations)'}"
                              f"; newest known {report['head']}\n{to_do}")
    return 0


def cmd_library(args: argparse.Namespace) -> int:
    from agent.citations import byline

    library = _services(args, needs_model=False).library
    listed, total = library.listing(args.filter, args.sort, args.desc, args.offset, args.limit)
    rows = [{"paper_id": p.row.paper_id, "title": p.row.title, "authors": p.row.authors, "year": p.row.year,
             "venue": p.row.venue, "doi": p.row.doi, "source": p.row.source, "url": p.row.url,
             "reader": p.row.reader, "reader_note": p.row.reader_note, "passages": p.passages,
             "references": p.references, "cited_by": p.cited_by} for p in listed]
    human = "\n".join(f"{p['paper_id']:26} {p['year'] or '':4}  {p['title']}"
                      + (f" — {byline(p['authors'], None)}" if p["authors"] else "")
                      + (f" ({p['venue']})" if p["venue"] else "")
                      + f"  [{p['passages']} passages, {p['references']} refs, cited by {p['cited_by']}]"
                      + (" [read by the layout model]" if p["reader"] == "layout model" else "") for p in rows)
    papers = f"{total} paper{'' if total == 1 else 's'}"
    matching = f"{papers} match{'es' if total == 1 else ''}" if args.filter else f"{papers} in the library"
    _print({"papers": rows, "total": total}, args.json, f"{human}\n{matching}".lstrip())
    return 0


def _paper_named(library: LibraryService, paper_id: str) -> PaperRow | None:
    """The library's paper with this id, or None after saying on stderr that there is none."""
    from service.errors import UnknownPaperError

    try:
        return library.paper(paper_id)
    except UnknownPaperError:
        print(f"scisynth: no paper {paper_id} in the library ('scisynth library' lists them)", file=sys.stderr)
        return None


def cmd_refs(args: argparse.Namespace) -> int:
    library = _services(args, needs_model=False).library
    if (paper := _paper_named(library, args.paper_id)) is None:
        return 2
    if args.cited_by:
        rows = [{"paper_id": p.paper_id, "title": p.title, "year": p.year} for p in library.cited_by(paper.paper_id)]
        human = "\n".join(f"{p['paper_id']:26} {p['year'] or '':4}  {p['title']}" for p in rows)
        _print({"paper_id": paper.paper_id, "cited_by": rows}, args.json,
               f"{human}\n{len(rows)} library papers cite {paper.paper_id}".lstrip())
        return 0
    references = library.references(paper.paper_id)
    human = "\n".join(f"[{r['position']}] {r['title']} ({r['year'] or 'n.d.'})"
                      + (f"  -> in library: {r['in_library']}" if r["in_library"] else "") for r in references)
    linked = sum(r["in_library"] is not None for r in references)
    _print({"paper_id": paper.paper_id, "references": references}, args.json,
           f"{human}\n{len(references)} references, {linked} of them in the library".lstrip())
    return 0


def cmd_contents(args: argparse.Namespace) -> int:
    library = _services(args, needs_model=False).library
    if (paper := _paper_named(library, args.paper_id)) is None:
        return 2
    contents = library.contents(paper.paper_id).as_dict()
    sections, gaps = contents["sections"], contents["open_questions"]
    human = [f"{paper.title}", *(f"  {s['section']}" + (f"  (p. {s['page']})" if s["page"] else "") for s in sections),
             f"{len(sections)} section{'' if len(sections) == 1 else 's'}; the reference list: scisynth refs "
             f"{paper.paper_id}" if sections else "no text was read for this paper (a reference without its PDF or "
             "abstract?): add its PDF with scisynth ingest PATH"]
    if gaps:
        human += ["open questions it states:", *(f"  [{g['kind']}] {g['text']} ({g['section']}"
                                                 + (f", p. {g['page']})" if g["page"] else ")") for g in gaps)]
    _print({"paper_id": paper.paper_id, "title": paper.title, **contents}, args.json, "\n".join(human))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from service.errors import NoPagesError, UnknownPaperError
    from service.pages import PageService
    from tools.page_render import MAX_ZOOM, MIN_ZOOM

    if not MIN_ZOOM <= args.zoom <= MAX_ZOOM:
        raise ValueError(f"--zoom must be between {MIN_ZOOM} and {MAX_ZOOM}")
    pages = PageService(_services(args, needs_model=False).runtime)
    try:
        view = pages.quote(args.paper_id, args.quote, args.page, draw=False) if args.quote.strip() else None
        page = args.page or (view.page if view else None)
        if args.output and view is not None and not view.has_pdf and view.passage is not None:
            # a paper read from JATS, TEI or an abstract has no page to draw: its passage, marked
            print(f"scisynth: {args.paper_id} has no PDF pages to draw (nothing written to {args.output}); the "
                  "passage with the quote marked follows", file=sys.stderr)
        elif args.output:
            if page is None:
                raise ValueError("the quote is not in this paper's text: copy it as printed (scisynth search "
                                 "finds the passage), or say which page to draw (--page N)"
                                 if args.quote.strip() else "say which page (--page N) or give --quote TEXT")
            return _write_pages(pages.pages(args.paper_id, page, args.quote, args.zoom), Path(args.output))
    except UnknownPaperError:
        print(f"scisynth: no paper {args.paper_id} in the library ('scisynth library' lists them)", file=sys.stderr)
        return 2
    except NoPagesError as error:
        print(f"scisynth: {error}", file=sys.stderr)
        return 2
    if view is None:
        raise ValueError("give --quote TEXT to see the passage holding it, or -o FILE.png to draw a page")
    passage = view.passage
    if passage is None:
        print(f"scisynth: the quote is not a verbatim span of {args.paper_id}'s text", file=sys.stderr)
        return 2
    text, start, end = passage.text, passage.start, passage.end
    marked = f"{text[:start]}>>>{text[start:end]}<<<{text[end:]}"
    where = f"{passage.section}" + (f", page {passage.page}" if passage.page else "")
    _print(view.public(), args.json, f"{view.title}\n{where}\n\n{marked}")
    return 0


def _write_pages(pictures: list, output: Path) -> int:
    """Write the cited page to `output` and a page the quote runs on to beside it; say what was found."""
    _writable(output)
    for i, picture in enumerate(pictures):
        target = output if i == 0 else output.with_name(f"{output.stem}-p{picture.page}{output.suffix}")
        target.write_bytes(picture.png)
        print(f"wrote page {picture.page} of {picture.page_count} ({picture.width}x{picture.height}) to {target}",
              file=sys.stderr)
    location = pictures[0].location
    if location.coverage or location.found:
        print("quote highlighted" + ("" if location.coverage == 1 else f" ({location.coverage:.0%} of its words "
                                     "found in order)") if location.found else
              "the quote was not found on this page as printed (a figure, or text read differently): nothing is "
              "highlighted", file=sys.stderr)
    return 0


def cmd_map(args: argparse.Namespace) -> int:
    from retrieval.map_files import map_html, map_png
    from store.watches import WatchError

    output = Path(args.output)
    if output.suffix.lower() not in (".html", ".png"):
        raise ValueError(f"cannot tell the format of {output}: name it .html or .png")
    _writable(output)
    services = _services(args, needs_model=False)
    if args.conversation and services.runtime.conversations.get(args.conversation) is None:
        raise ValueError(f"no conversation {args.conversation!r}: 'scisynth ask --conversation ID' starts one")
    try:
        library = services.maps.build(args.watch, args.conversation, None, args.recompute)
    except WatchError as error:
        raise ValueError(f"{error} ('scisynth watch list' shows the watches)") from error
    if not library.points:
        raise ValueError("the library has no papers with passages to map: 'scisynth ingest' adds some")
    if output.suffix.lower() == ".png":
        map_png(library, output)
    else:
        urls = {row.paper_id: row.url or (f"https://doi.org/{row.doi}" if row.doi else "")
                for row in services.runtime.catalog.papers(limit=None)}
        output.write_text(map_html(library, {paper: url for paper, url in urls.items() if url}), encoding="utf-8")
    marked = f", {len(library.highlighted)} marked" if library.highlighted else ""
    print(f"wrote the map of {library.counts}{marked} (layout {library.layout} in {library.seconds:.1f} s) to "
          f"{output}", file=sys.stderr)
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    from service.errors import UnknownPaperError

    library, missing = _services(args, needs_model=False).library, []
    for paper_id in args.paper_ids:
        try:
            library.delete(paper_id)  # the operator may delete any paper
        except UnknownPaperError:
            missing.append(paper_id)
    _print({"deleted": [p for p in args.paper_ids if p not in missing], "missing": missing}, args.json,
           "\n".join(f"no paper {p}" if p in missing else f"deleted {p}" for p in args.paper_ids))
    return 2 if missing else 0


def cmd_search(args: argparse.Namespace) -> int:
    from retrieval.search import SearchFilter

    library = _services(args, needs_model=False).library
    where = SearchFilter(paper_ids=args.paper, year_from=args.year_from, year_to=args.year_to, sources=args.source)
    passages = library.search(args.query, k=args.k, retriever=args.retriever, where=where, mmr_balance=args.mmr)
    human = "\n\n".join(
        f"{i}. {p.title} — {p.section}{f', p. {p.page}' if p.page else ''} (score {p.score:.3f})\n   {p.text[:300]}"
        for i, p in enumerate(passages, start=1)
    ) or "No passages found. Is the library empty? Add papers with 'scisynth ingest PATH'."
    _print({"results": [p.public() for p in passages]}, args.json, human)
    return 0


def _turn(args: argparse.Namespace, text: str, mode: str, n: int = 3) -> int:
    from agent.turn import TurnRequest
    from api.answers import format_result
    from store.conversations import CONVERSATION_ID

    if not text.strip():
        raise ValueError("the question is empty: write it in quotes, e.g. scisynth ask \"How does SPECTER use "
                         "citations?\"")
    services = _services(args)
    if args.conversation:
        if not re.fullmatch(CONVERSATION_ID, args.conversation):
            raise ValueError(f"{args.conversation!r} is not a conversation id: use letters, digits, '.', '_' and "
                             "'-' (at most 64)")
        services.runtime.conversations.ensure(args.conversation, text)  # a new name starts a conversation
    result = services.turns.run(TurnRequest(question=text, mode=mode, n=n, conversation_id=args.conversation))
    _print(result.model_dump(mode="json"), args.json, format_result(result))
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    return _turn(args, args.question, "ask")


def cmd_hypothesize(args: argparse.Namespace) -> int:
    return _turn(args, args.topic, "hypothesize", args.n)


def cmd_check(args: argparse.Namespace) -> int:
    from api.answers import format_check
    from retrieval.search import SearchFilter

    where = SearchFilter(paper_ids=args.paper, year_from=args.year_from, year_to=args.year_to)
    result = _services(args).claims.check(args.claim, where=None if where.is_empty() else where, papers=args.papers,
                                          arxiv=args.arxiv)
    if args.arxiv and not args.json:  # what arXiv gave (JSON carries it in its trace)
        print(result.trace[0], file=sys.stderr)
    _print(result.model_dump(mode="json"), args.json, format_check(result))
    return 0


def cmd_contradictions(args: argparse.Namespace) -> int:
    from api.answers import format_contradictions

    result = _services(args, needs_model=False).contradictions.find(args.topic, papers=args.papers)
    _print(result.model_dump(mode="json"), args.json, format_contradictions(result))
    return 0


def cmd_table(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from api.table_formats import write

    fmt = "json" if args.json else args.format
    if fmt == "xlsx" and not args.output:
        raise ValueError("an Excel table is written to a file: add -o table.xlsx")
    if args.output:
        _writable(Path(args.output))
    tables = _services(args).tables
    if args.arxiv:
        print(tables.read_arxiv(args.query), file=sys.stderr)
    papers = tables.papers(args.papers, args.query, args.n, args.conversation, args.watch)
    with tqdm(total=len(papers), desc="table", unit="paper", file=sys.stderr,
              disable=None if fmt != "json" else True) as bar:
        table = tables.build(papers, args.column, args.preset, on_row=lambda _row: bar.update())
    data = write(table, fmt)
    if fmt != "json":  # what was reported, not read, or left to the model's budget (JSON carries it)
        print("\n".join(table.trace), file=sys.stderr)
    if args.output:
        Path(args.output).write_bytes(data)
        print(f"wrote {len(table.rows)} papers x {len(table.columns)} columns to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(data.decode("utf-8"))
    return 0


HANDLERS = {"serve": cmd_serve, "ingest": cmd_ingest, "library": cmd_library, "refs": cmd_refs,
            "contents": cmd_contents, "show": cmd_show,
            "map": cmd_map, "delete": cmd_delete,
            "search": cmd_search, "arxiv": cmd_arxiv, "fetch": cmd_fetch, "import": cmd_import, "export": cmd_export,
            "zotero": cmd_zotero, "watch": cmd_watch, "reindex": cmd_reindex, "ask": cmd_ask,
            "hypothesize": cmd_hypothesize, "check": cmd_check, "contradictions": cmd_contradictions,
            "table": cmd_table, "slack": cmd_slack, "keys": cmd_keys,
            "models": cmd_models_pull, "eval": cmd_eval, "train": cmd_train, "db": cmd_db}


def main(argv: list[str] | None = None) -> int:
    args = build_parser(HANDLERS, RECOMMENDED_GGUF).parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)  # store.schema logs the migrations it applies
    try:
        status = args.handler(args)
        sys.stdout.flush()  # inside the try: a reader gone by now is a broken pipe too
        return status
    except (ValueError, IndexMismatchError, UnusableDatabaseError) as error:
        print(f"scisynth: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader stopped early (`scisynth refs ID | head`): not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error when Python flushes
        return 0


if __name__ == "__main__":
    sys.exit(main())
