"""The `scisynth` command line's arguments: commands grouped by task, each with a one-line purpose and an
example, every option with a help text and its default. cli/main.py holds what each command does."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import date
from pathlib import Path

from store.sorts import LIBRARY_SORTS

# task -> [(command, what it does, an example)]; the order of `scisynth --help` and of the README's list.
COMMAND_GROUPS: dict[str, list[tuple[str, str, str]]] = {
    "library": [
        ("ingest", "add papers: PDF files, JATS or GROBID TEI XML, JSONL records, or folders of them",
         "scisynth ingest ../shared/data/papers/"),
        ("library", "list the papers in the library", "scisynth library --limit 20"),
        ("search", "find passages in the library", 'scisynth search "citation graph" -k 3'),
        ("arxiv", "search arXiv (metadata only; fetch adds papers)", 'scisynth arxiv "protein folding" --max 5'),
        ("fetch", "download papers from arXiv by id and add them", "scisynth fetch 2104.12255"),
        ("import", "add the papers of a BibTeX or RIS export (Zotero, Mendeley, JabRef): arXiv entries fetched, "
                   "linked PDFs read, the rest kept as references", "scisynth import my-library.bib"),
        ("zotero", "sync a Zotero library or collection in: items with their PDFs (key in ZOTERO_API_KEY); later "
                   "syncs fetch only what changed", "scisynth zotero sync --library user:123456"),
        ("export", "the library's papers, or those a conversation cites, as BibTeX, RIS or CSL-JSON",
         "scisynth export --conversation lab-1 --format bibtex"),
        ("watch", "literature watches: saved arXiv queries with standing questions, run on a schedule; each run "
                  "adds the new papers and writes a digest (posted to Slack, listed on the web page)",
         'scisynth watch add "retrieval" --query "dense retrieval" --category cs.IR --question "Does it beat BM25?"'),
        ("refs", "a paper's reference list, and which library papers it cites or that cite it",
         "scisynth refs PAPER_ID --cited-by"),
        ("contents", "a paper's sections as they were read, each with the page it starts on, and the open questions "
                     "it states: check that a PDF was read right before you rely on it",
         "scisynth contents PAPER_ID"),
        ("show", "see a quote where it is printed: the PDF page as PNG with the quote highlighted (and the next page "
                 "when it runs on), or for a paper without a PDF the passage with the quote marked",
         'scisynth show PAPER_ID --quote "we release all the datasets" -o page.png'),
        ("map", "the library as a map: papers placed by subject in labelled clusters, citations drawn between them, "
                "a watch's or a conversation's papers marked; HTML (hover, click) or PNG",
         "scisynth map -o map.html"),
        ("delete", "remove papers with their passages and vectors", "scisynth delete PAPER_ID"),
        ("reindex", "rebuild the indexes from the catalog (new embedding model, lost index)", "scisynth reindex"),
    ],
    "asking": [
        ("ask", "answer a question from the library, with citations to the page",
         'scisynth ask "How does SPECTER use citations?"'),
        ("hypothesize", "the open questions your papers state on a topic, then testable hypotheses checked "
                        "for novelty",
         'scisynth hypothesize "citation-informed embeddings" -n 2'),
        ("check", "check a claim against the library: each paper that bears on it with its stance (supports, "
                  "contradicts) and the sentences quoted with their pages, then the consensus",
         'scisynth check "SPECTER outperforms SciBERT on citation prediction"'),
        ("contradictions", "findings of two library papers on a topic that disagree, each side quoted with its page, "
                           "the most confident first", 'scisynth contradictions "aspirin and stroke"'),
        ("table", "an evidence table: papers as rows, your questions (or a preset's) as columns, every cell quoted "
                  "with its page or 'not reported'",
         'scisynth table --query "citation embeddings" -n 5 --column "Which dataset?" --format csv -o table.csv'),
    ],
    "service": [
        ("serve", "start the HTTP service: API and web page", "scisynth serve --port 8000"),
        ("slack", "run the Slack bot in Socket Mode (no public URL needed)", "scisynth slack"),
        ("keys", "manage API keys", "scisynth keys create --name alice --role member"),
        ("models", "download a local language model", "scisynth models pull"),
        ("db", "the database's schema revision and the migrations still to apply (every command applies them "
               "itself; this shows and applies them on their own, e.g. before starting replicas)",
         "scisynth db status"),
    ],
    "evaluation": [
        ("eval", "run a scored eval suite (baselines beside every result)", "scisynth eval pubmedqa --limit 50"),
        ("train", "fine-tune the embedding model on SciFact train claims and PubMedQA questions outside its test "
                  "split; switch to it with SCISYNTH_EMBEDDINGS=FOLDER and 'scisynth reindex'",
         "scisynth train retriever"),
    ],
}


def _watch_commands(watch: argparse.ArgumentParser, handler: Callable[[argparse.Namespace], int]) -> None:
    actions = watch.add_subparsers(dest="watch_command", required=True, metavar="ACTION",
                                   help="add, list, remove, run or digests")

    def action(name: str, description: str) -> argparse.ArgumentParser:
        sub = actions.add_parser(name, description=description, formatter_class=HelpFormatter)
        json_flag(sub)
        sub.set_defaults(handler=handler)
        return sub

    add = action("add", "save a watch; the service runs it every --every hours ('scisynth watch run' runs it now)")
    add.add_argument("name", help="a name for the watch, e.g. 'dense retrieval'")
    add.add_argument("--query", default="", help="arXiv search words (or fielded, e.g. abs:\"protein folding\")")
    add.add_argument("--title", help="words in the title")
    add.add_argument("--author", help="an author name")
    add.add_argument("--category", action="append", metavar="CAT", help="an arXiv category, e.g. cs.CL "
                     "(repeatable: any of them)")
    add.add_argument("--question", action="append", metavar="Q", help="a standing question each digest answers "
                     "from the new papers (repeatable, at most 5)")
    add.add_argument("--every", type=float, default=24.0, metavar="HOURS", help="hours between runs")
    add.add_argument("--max", type=int, default=20, help="newest papers looked at per run")
    add.add_argument("--abstract-only", action="store_true", help="ingest abstracts, skip the PDFs")
    action("list", "the saved watches, their queries and next runs")
    remove = action("remove", "remove a watch (its digests stay readable)")
    remove.add_argument("watch_ids", nargs="+", metavar="WATCH_ID")
    run = action("run", "run watches now (default: every due watch) and print their digests; exit code 2 when "
                        "arXiv could not be searched")
    run.add_argument("watch_ids", nargs="*", metavar="WATCH_ID")
    digests = action("digests", "the latest digests, newest first")
    digests.add_argument("--watch", metavar="WATCH_ID", help="only this watch's digests")
    digests.add_argument("--limit", type=int, default=5, help="how many")


def at_least(least: int) -> Callable[[str], int]:
    """An argparse type: a whole number no smaller than `least`, else a usage error saying so."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < least:
            raise argparse.ArgumentTypeError(f"{value} is below the least allowed, {least}")
        return value

    return parse


def json_flag(parser: argparse.ArgumentParser, on_action: bool = True) -> None:
    """--json; on an action (`scisynth keys create --json`) it leaves the command's own (`scisynth keys --json
    create`) in place."""
    parser.add_argument("--json", action="store_true", default=argparse.SUPPRESS if on_action else False,
                        help="print machine-readable JSON")


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Descriptions as written, and an option's default after its help unless the help already says it (or
    there is none to say: a flag, or no default)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default in (None, False) or "default" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


def _epilog() -> str:
    lines = []
    for group, commands in COMMAND_GROUPS.items():
        lines.append(f"{group}:")
        lines += [f"  {name:<12} {purpose}\n  {'':<12} e.g. {example}" for name, purpose, example in commands]
        lines.append("")
    return "\n".join(lines) + "\nRun 'scisynth COMMAND --help' for a command's options."


def build_parser(handlers: dict[str, Callable[[argparse.Namespace], int]], recommended_gguf: str
                 ) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="scisynth", formatter_class=HelpFormatter, epilog=_epilog(),
        description="SciSynth: find papers, read them, answer with citations you can check down to the page.\n"
                    "Configuration comes from SCISYNTH_* environment variables (see README.md).")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details to stderr")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                     help="one of the commands listed below")
    purposes = {name: (purpose, example) for group in COMMAND_GROUPS.values() for name, purpose, example in group}

    def command(name: str) -> argparse.ArgumentParser:
        purpose, example = purposes[name]
        sub = commands.add_parser(name, description=f"{purpose}.\n\nexample: {example}", formatter_class=HelpFormatter)
        json_flag(sub, on_action=False)
        if name in handlers:
            sub.set_defaults(handler=handlers[name])
        return sub

    serve = command("serve")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on")

    ingest = command("ingest")
    ingest.description += ("\n\nExit code: 0 when every readable paper was ingested (unreadable files found in a "
                           "folder are named on stderr); 2 when nothing could be ingested, or a file named on the "
                           "command line could not be read.")
    ingest.add_argument("paths", nargs="+", metavar="PATH", help="files or folders to ingest")
    ingest.add_argument("--show", type=int, default=50, metavar="N", help="list at most N papers")
    ingest.add_argument("--ray", metavar="ADDRESS",
                        help="parse and encode on a Ray cluster this machine is a node of (see 'ray start'): "
                             "'auto', or HOST:PORT of its head. Every node must read the PATHs at the same place "
                             "(a shared filesystem) and have scisynth with the same embedding model")
    ingest.add_argument("--ray-workers", type=int, metavar="N",
                        help="with --ray: encoding workers, each holding the model (default: one per cluster CPU)")

    library = command("library")
    library.add_argument("--offset", type=int, default=0, help="skip this many papers (in the order listed)")
    library.add_argument("--limit", type=int, default=100, help="list at most this many papers")
    library.add_argument("--filter", metavar="TEXT", help="only papers whose title, authors, venue, DOI or id contain "
                         "TEXT (any case)")
    library.add_argument("--sort", choices=LIBRARY_SORTS, default="added",
                         help="order by: when added, title, year, venue, source, passages read, reference list "
                              "entries, or library papers citing it")
    library.add_argument("--desc", action="store_true", help="largest, latest or last first")

    refs = command("refs")
    refs.add_argument("paper_id", metavar="PAPER_ID", help="an id as 'scisynth library' shows it")
    refs.add_argument("--cited-by", action="store_true", help="list the library papers citing it instead")

    contents = command("contents")
    contents.add_argument("paper_id", metavar="PAPER_ID", help="an id as 'scisynth library' shows it")

    show = command("show")
    show.add_argument("paper_id", metavar="PAPER_ID", help="an id as 'scisynth library' shows it")
    show.add_argument("--page", type=int, metavar="N", help="the page (1 for the first); default: where the quote is")
    show.add_argument("--quote", default="", metavar="TEXT", help="text of the paper to highlight, verbatim")
    show.add_argument("--zoom", type=float, default=1.5, help="pixels per PDF point, 0.5 to 3")
    show.add_argument("-o", "--output", metavar="FILE.png", help="write the page as PNG; a quote running on to the "
                      "next page writes FILE-pN.png too (without -o: the passage holding the quote is printed)")

    library_map = command("map")
    library_map.add_argument("-o", "--output", required=True, metavar="FILE",
                             help="map.html (a page: hover a point for its title, click to open the paper) or map.png")
    library_map.add_argument("--watch", metavar="ID", help="mark the papers this watch added")
    library_map.add_argument("--conversation", metavar="ID", help="mark the papers this conversation cites")
    library_map.add_argument("--recompute", action="store_true", help="lay the whole library out again (otherwise "
                             "papers added since the last map are placed among their nearest neighbours)")

    delete = command("delete")
    delete.add_argument("paper_ids", nargs="+", metavar="PAPER_ID", help="ids as 'scisynth library' shows them")

    search = command("search")
    search.add_argument("query", help="what to look for")
    search.add_argument("-k", type=int, default=10, help="number of passages")
    search.add_argument("--retriever", choices=["bm25", "dense", "hybrid"], default="hybrid",
                        help="ranking: BM25, embeddings, or both fused")
    search.add_argument("--paper", action="append", metavar="PAPER_ID", help="only these papers (repeatable)")
    search.add_argument("--year-from", type=int, metavar="YEAR", help="only papers from this year on")
    search.add_argument("--year-to", type=int, metavar="YEAR", help="only papers up to this year")
    search.add_argument("--source", action="append", choices=["pdf", "jats", "tei", "jsonl", "unarxive", "arxiv",
                                                                      "bibliography"],
                        help="only papers from this kind of source (repeatable)")
    search.add_argument("--mmr", type=float, metavar="BALANCE", help="diversify with MMR (0..1: the weight of "
                        "relevance; e.g. 0.7); off when not given")

    arxiv = command("arxiv")
    arxiv.add_argument("query", nargs="?", default="", help="free-text search words (or fielded, e.g. ti:graph)")
    arxiv.add_argument("--max", type=int, default=10, help="number of results")
    arxiv.add_argument("--title", help="words in the title")
    arxiv.add_argument("--author", help="an author name")
    arxiv.add_argument("--category", help="an arXiv category, e.g. cs.CL")
    arxiv.add_argument("--since", type=date.fromisoformat, metavar="YYYY-MM-DD", help="submitted on or after")
    arxiv.add_argument("--until", type=date.fromisoformat, metavar="YYYY-MM-DD", help="submitted on or before")
    arxiv.add_argument("--sort", choices=["relevance", "submitted", "updated"], default="relevance",
                       help="order of the results")

    fetch = command("fetch")
    fetch.add_argument("ids", nargs="+", metavar="ARXIV_ID", help="arXiv ids, e.g. 2104.12255 or hep-th/9901001")
    fetch.add_argument("--abstract-only", action="store_true", help="ingest the abstract, skip the PDF")

    bib = command("import")
    bib.description += ("\n\nImporting again changes nothing: entries already in the library are left alone. An entry "
                        "that cannot be read is named with its line on stderr and skipped; the rest are imported. "
                        "Exit code 2 when nothing could be read.")
    bib.add_argument("file", metavar="FILE", help="a .bib or .ris file")

    export = command("export")
    export.add_argument("--conversation", metavar="ID", help="only the papers this conversation's answers cite "
                        "(default: the whole library)")
    export.add_argument("--format", choices=["bibtex", "ris", "csl-json"], default="bibtex",
                        help="BibTeX (keys like cohan2020specter, stable across exports), RIS or CSL-JSON")
    export.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of standard output")

    zotero = command("zotero")
    zotero_actions = zotero.add_subparsers(dest="zotero_command", required=True, metavar="ACTION", help="sync")
    sync = zotero_actions.add_parser("sync", formatter_class=HelpFormatter, description=(
        "bring a Zotero library's items in: the PDF attachment when there is one, else the arXiv paper, else the "
        "reference. The library version is remembered, so the next sync fetches only what changed; an item deleted "
        "in Zotero leaves the library if a sync added it. Exit code 2 when Zotero could not be read."))
    sync.add_argument("--library", required=True, metavar="user:ID|group:ID",
                      help="the numeric user id (zotero.org/settings/keys) or group id")
    sync.add_argument("--collection", metavar="KEY", help="only this collection's items")
    json_flag(sync)
    sync.set_defaults(handler=handlers["zotero"])

    _watch_commands(command("watch"), handlers["watch"])

    reindex = command("reindex")
    reindex.description += "\n\nNeeded after changing SCISYNTH_EMBEDDINGS; cached embeddings make unchanged text free."

    for name in ("ask", "hypothesize"):
        turn = command(name)
        turn.add_argument("question" if name == "ask" else "topic", help="a research question" if name == "ask"
                          else "the topic to propose hypotheses about")
        turn.add_argument("--llm", help="LLM spec, e.g. extractive or llamacpp:PATH (default: SCISYNTH_LLM, "
                          "else auto)")
        turn.add_argument("--conversation", metavar="ID", help="continue (or start) this conversation and store "
                          "the turn in it: letters, digits, '.', '_', '-'")
        if name == "hypothesize":
            turn.add_argument("-n", type=int, default=3, choices=range(1, 11), metavar="N",
                              help="how many hypotheses (1-10)")

    check = command("check")
    check.description += ("\n\nThe papers are the best-ranked for the claim; each is judged on its retrieved "
                          "passages by the configured model, else by the stance classifier trained on SciFact "
                          "(agent/stance.json; SCISYNTH_STANCE_MODEL for another). Verdict: supported, contradicted, "
                          "mixed (both) or insufficient (no paper bears on it).")
    check.add_argument("claim", help="one claim, e.g. 'Aspirin lowers the risk of stroke'")
    check.add_argument("--papers", type=at_least(1), default=10, metavar="N", help="judge the N best-ranked papers")
    check.add_argument("--paper", action="append", metavar="ID", help="only these papers (repeatable)")
    check.add_argument("--year-from", type=int, metavar="YEAR", help="only papers from this year on")
    check.add_argument("--year-to", type=int, metavar="YEAR", help="only papers up to this year")
    check.add_argument("--arxiv", action="store_true", help="first search arXiv for the claim (within the years "
                       "given) and read the papers the library lacks into it, where they stay (at most "
                       "SCISYNTH_PAPERS_PER_TURN, default 2; each a PDF download)")
    check.add_argument("--llm", help="LLM spec, e.g. extractive or llamacpp:PATH (default: SCISYNTH_LLM, else auto; "
                       "extractive: the classifier judges)")

    contradictions = command("contradictions")
    contradictions.description += ("\n\nFindings (sentences stating a result) of the best-ranked papers that make "
                                   "the same point (similar) are read against each other by the stance classifier; "
                                   "how well it reads disagreement: docs/evals.md.")
    contradictions.add_argument("topic", help="the topic, e.g. 'aspirin and stroke'")
    contradictions.add_argument("--papers", type=at_least(2), default=10, metavar="N", help="compare the findings "
                                "of the N best-ranked papers")

    table = command("table")
    table.description += ("\n\nRows: the papers given, a search's best-ranked papers, the papers a conversation's "
                          "answers cite, or a watch's new papers (any together, in that order). Each cell quotes the "
                          "paper's sentence or table row that best answers the column, with page and section, and a "
                          "short value read off it (a number, a count, a name), or says 'not reported'. With a "
                          "configured model (--llm), the model writes the values from the quotes, checked against "
                          "them. Presets: clinical (population, intervention, comparator, outcome, sample size, "
                          "design), ml (task, dataset, model, metric, result).")
    table.add_argument("--papers", nargs="+", metavar="ID", help="these papers as rows ('scisynth library' lists ids)")
    table.add_argument("--query", metavar="TEXT", help="the best-ranked papers for this search as rows")
    table.add_argument("-n", type=at_least(1), default=10, metavar="N", help="with --query: this many papers")
    table.add_argument("--arxiv", action="store_true", help="with --query: first search arXiv for it and read the "
                       "papers the library lacks into it, where they stay (at most SCISYNTH_PAPERS_PER_TURN, default "
                       "2; each a PDF download)")
    table.add_argument("--conversation", metavar="ID", help="the papers this conversation's answers cite as rows")
    table.add_argument("--watch", metavar="ID", help="the papers this watch has added as rows")
    table.add_argument("--column", action="append", metavar="QUESTION", help="a column: a question each paper is "
                       "asked, e.g. 'Sample size?' (repeatable; after the preset's)")
    table.add_argument("--preset", choices=["clinical", "ml"], help="a preset's columns")
    table.add_argument("--format", choices=["markdown", "csv", "xlsx", "json"], default="markdown",
                       help="Markdown to read, CSV or Excel for a spreadsheet (quotes in their own columns, or as "
                            "cell comments and a Quotes sheet), JSON (--json is the same)")
    table.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of standard output (xlsx needs "
                       "a file)")
    table.add_argument("--llm", help="LLM spec that writes the cells' values, e.g. llamacpp:PATH (default: "
                       "SCISYNTH_LLM; extractive: values read off the quotes)")

    command("slack")

    keys = command("keys")
    key_commands = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION", help="create")
    create_key = key_commands.add_parser("create", description="create an API key (printed once, stored hashed)",
                                         formatter_class=HelpFormatter)
    create_key.add_argument("--name", default="", help="a label for the key, e.g. the lab member's name")
    create_key.add_argument("--role", choices=["reader", "member", "admin"], default="member",
                            help="reader: search and converse; member: also add papers and delete their own; "
                                 "admin: everything")
    json_flag(create_key)
    create_key.set_defaults(handler=handlers["keys"])

    models = command("models")
    model_commands = models.add_subparsers(dest="models_command", required=True, metavar="ACTION", help="pull")
    pull = model_commands.add_parser("pull", description="download a GGUF model into the home folder's models/, "
                                     "where SCISYNTH_LLM=auto finds it", formatter_class=HelpFormatter)
    pull.add_argument("spec", nargs="?", default=recommended_gguf, help="hf:OWNER/REPO/FILE.gguf")
    json_flag(pull)
    pull.set_defaults(handler=handlers["models"])

    db = command("db")
    db_actions = db.add_subparsers(dest="db_command", required=True, metavar="ACTION", help="status or upgrade")
    for action, description in (("status", "the database, its schema revision, the newest this SciSynth knows, "
                                           "and the migrations an upgrade would apply"),
                                ("upgrade", "apply the pending migrations (under a lock: one process at a time)")):
        sub = db_actions.add_parser(action, description=description, formatter_class=HelpFormatter)
        json_flag(sub)
        sub.set_defaults(handler=handlers["db"])

    train = command("train")
    train_actions = train.add_subparsers(dest="train_command", required=True, metavar="WHAT",
                                         help="retriever, judge or stance")
    retriever = train_actions.add_parser("retriever", formatter_class=HelpFormatter, description=(
        "fine-tune the bundled all-MiniLM-L6-v2 bi-encoder (MultipleNegativesRankingLoss, one BM25-mined hard "
        "negative per pair, fixed seeds) on SciFact train claims and PubMedQA PQA-L questions outside its test "
        "split, cut into the passages an ingest indexes (title + chunk at SCISYNTH_CHUNK_TOKENS), into a model "
        "folder with a manifest. Interrupted? Run the same command again: it resumes from the "
        "last checkpoint. Nothing changes until you set SCISYNTH_EMBEDDINGS to the folder and run 'scisynth "
        "reindex'; compare first with 'scisynth eval scifact-retrieval --embeddings FOLDER'."))
    retriever.add_argument("--out", type=Path, metavar="FOLDER", help="model folder (default: the home folder's "
                           "models/retriever-seedSEED)")
    retriever.add_argument("--epochs", type=int, default=1, help="passes over the training pairs (one takes about "
                           "30 minutes on 2 cores)")
    retriever.add_argument("--batch-size", type=int, default=32, help="pairs per step (more: more in-batch negatives)")
    retriever.add_argument("--learning-rate", type=float, default=2e-5, help="peak learning rate")
    retriever.add_argument("--seed", type=int, default=13, help="seed for sampling, shuffling and initialisation")
    retriever.add_argument("--max-pairs", type=int, metavar="N", help="train on a seeded sample of N pairs")
    retriever.add_argument("--max-steps", type=int, default=-1, metavar="N", help="stop after N steps (-1: epochs)")
    retriever.add_argument("--pairs", type=Path, metavar="FILE.jsonl", help="train on your own field's pairs "
                           "instead: one {\"query\": ..., \"positive\": ...} JSON object a line")
    retriever.add_argument("--data-dir", type=Path, metavar="FOLDER", help="folder holding scifact/ and pubmedqa/ "
                           "(default ../shared/data, else downloaded into the home folder)")
    json_flag(retriever)
    retriever.set_defaults(handler=handlers["train"])
    def trained_file(name: str, default: str, description: str) -> argparse.ArgumentParser:
        """`scisynth train judge|stance`: a model written to one JSON file, from the shared data."""
        sub = train_actions.add_parser(name, formatter_class=HelpFormatter, description=description)
        sub.add_argument("--out", type=Path, metavar="FILE.json", help=f"where to write it (default: the home "
                         f"folder's models/{default})")
        sub.add_argument("--data-dir", type=Path, metavar="FOLDER", help="folder holding scifact/ and pubmedqa/ "
                         "(default ../shared/data, else downloaded into the home folder)")
        json_flag(sub)
        sub.set_defaults(handler=handlers["train"])
        return sub

    judge = trained_file("judge", "evidence_judge.json", (
        "train the evidence judge, which ranks the sentences answers quote by how likely they answer the question "
        "(a logistic regression over readable features, C chosen by 5-fold cross-validation grouped by question) on "
        "SciFact train rationales and PubMedQA PQA-L questions outside its test split; about 4 minutes on 2 cores. "
        "Prints the cross-validated P@1/P@3 beside cosine similarity and the weights. Use it with "
        "SCISYNTH_EVIDENCE_JUDGE=FILE; 'make judge' rebuilds the shipped agent/evidence_judge.json."))
    judge.add_argument("--max-questions", type=at_least(3), metavar="N", help="a seeded sample of N questions from "
                       "each source, at least 3 (a quick check; the shipped judge uses all)")
    stance = trained_file("stance", "stance.json", (
        "train the stance classifier 'scisynth check' and the claim evals use: evidence or not, then supports or "
        "contradicts (two logistic regressions over readable features, C and thresholds chosen by 5-fold "
        "cross-validation grouped by claim) on SciFact train and PubMedQA PQA-L yes/no questions outside its test "
        "split; under a minute with cached embeddings. Prints the cross-validated figures beside the majority and "
        "claim-only baselines. Use it with SCISYNTH_STANCE_MODEL=FILE; 'make stance' rebuilds the shipped "
        "agent/stance.json."))
    stance.add_argument("--max-claims", type=at_least(30), metavar="N", help="a seeded sample of N SciFact train "
                        "claims and N PubMedQA questions, at least 30 (a quick check; the shipped model uses all)")

    evaluate = command("eval")
    evaluate.add_argument("suite", choices=["scifact-retrieval", "scifact-verify", "pubmedqa", "citations",
                                            "abstention", "hypotheses", "pdf-structure", "open-questions",
                                            "tables", "quick"],
                          help="a suite, or 'quick': seeded stratified subsets of all, checked against "
                               "evals/thresholds.toml")
    evaluate.add_argument("--llm", help="LLM spec for suites that run the agent (default: SCISYNTH_LLM)")
    evaluate.add_argument("--embeddings", metavar="SPEC", help="embedding model: 'minilm' or a model folder such "
                          "as one 'scisynth train retriever' made (default: SCISYNTH_EMBEDDINGS); each model "
                          "gets its own eval libraries")
    evaluate.add_argument("--limit", type=int, metavar="N",
                          help="score a seeded sample of N queries, stratified by label (default: all)")
    evaluate.add_argument("--corpus-limit", type=int, metavar="N",
                          help="index the sampled queries' documents plus random others, N in all (SciFact; "
                               "default: the whole corpus)")
    evaluate.add_argument("--retriever", choices=["all", "bm25", "dense", "hybrid"], default="all",
                          help="scifact-retrieval: which retrievers to score")
    evaluate.add_argument("--reader", choices=["all", "quick", "shipped", "fonts-only", "layout-model-only",
                                               "baseline-plain-text"], default="all",
                          help="pdf-structure: which PDF readers to score ('quick': all but the slow layout model "
                               "alone)")
    evaluate.add_argument("--data-dir", type=Path, help="dataset folder (default ../shared/data/<dataset>, "
                          "else downloaded into the home folder; for 'tables', the shared data folder itself)")
    evaluate.add_argument("--out", type=Path, metavar="FILE", help="write the full JSON report here")
    evaluate.add_argument("--plot", type=Path, metavar="FILE.png", help="abstention: draw the trade-off curve "
                          "(answered with the evidence present against abstained without it, by threshold)")
    return parser
