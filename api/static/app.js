// SciSynth web page. Every string from the server is untrusted: it reaches the page only as text nodes
// (textContent), never as HTML, and only http(s) URLs become links. The server's Content-Security-Policy
// allows no inline script, so this file is the page's only code.
"use strict";

const $ = (id) => document.getElementById(id);
let conversation = null;
let citations = {};

// el("a", {className: "cite", href: "#"}, "text", childNode, ...): children are text or nodes, never HTML.
function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "dataset") Object.assign(node.dataset, value);
    else node[key] = value;
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// A URL fit for href: absolute http(s) only, so "javascript:" or attribute-breaking text never becomes a link.
function safeUrl(url) {
  if (typeof url !== "string") return null;
  try {
    const parsed = new URL(url);
    return parsed.protocol === "https:" || parsed.protocol === "http:" ? parsed.href : null;
  } catch (error) {
    return null;
  }
}

function externalLink(url, label) {
  const href = safeUrl(url);
  return href ? el("a", { href, target: "_blank", rel: "noopener noreferrer" }, label) : null;
}

// Answer text with each [n] as a clickable citation: a list of text nodes and anchors.
function withCitations(text) {
  const parts = String(text || "").split(/(\[\d+\])/);
  return parts.map((part) => {
    const match = /^\[(\d+)\]$/.exec(part);
    return match ? el("a", { className: "cite", href: "#", dataset: { n: match[1] } }, part) : document.createTextNode(part);
  });
}

const apiKey = () => $("apikey").value;
const headers = (extra = {}) => (apiKey() ? { ...extra, Authorization: `Bearer ${apiKey()}` } : extra);

async function api(path, options = {}) {
  const response = await fetch(path, { ...options, headers: headers(options.headers || {}) });
  if (!response.ok) {
    const problem = await response.json().catch(() => ({}));
    throw new Error(problem.detail || response.statusText);
  }
  return response.status === 204 ? null : response.json();
}

// A file from the API, fetched with the key: {file, name} (the name the server gives it, if any).
async function fetchFile(path) {
  const response = await fetch(path, { headers: headers({}) });
  if (!response.ok) throw new Error((await response.json().catch(() => ({}))).detail || response.statusText);
  const name = (response.headers.get("content-disposition") || "").match(/filename="([^"]+)"/);
  return { file: await response.blob(), name: name ? name[1] : null };
}

// A download from the API saved as the file the server names; null when it is empty (`isEmpty(blob)`).
async function download(path, fallbackName, isEmpty = (file) => file.size === 0) {
  const { file, name } = await fetchFile(path);
  if (isEmpty(file)) return null;
  const link = el("a", { href: URL.createObjectURL(file), download: name || fallbackName });
  document.body.append(link);
  link.click();
  link.remove();
  return link.download;
}

// A passage with text[start:end] marked (start < 0: nothing marked).
function markedPassage(text, start, end) {
  if (start < 0) return el("div", { className: "passage" }, text);
  return el("div", { className: "passage" }, text.slice(0, start), el("mark", {}, text.slice(start, end)),
    text.slice(end));
}

// Where a quote is printed: for a PDF the page(s) with its words highlighted and a link to the PDF at that page,
// otherwise its passage with the quote marked. Appended to `container`. Object URLs of the previous view are
// revoked (a page is megabytes).
let evidenceUrls = [];

function keepUrl(file) {
  const url = URL.createObjectURL(file);
  evidenceUrls.push(url);
  return url;
}

async function showEvidence(container, paperId, quote, page) {
  evidenceUrls.forEach((url) => URL.revokeObjectURL(url));
  evidenceUrls = [];
  const query = new URLSearchParams({ text: quote });
  if (page) query.set("page", page);
  const status = el("div", { className: "status" }, "Loading the page…");
  container.append(status);
  let view;
  try {
    view = await api(`/v1/papers/${encodeURIComponent(paperId)}/quote?${query}`);
  } catch (error) {
    status.textContent = `The page cannot be shown: ${error.message}`;
    return;
  }
  const parts = [];
  if (view.highlight) {
    if (!view.highlight.found) parts.push(el("p", { className: "status" }, "The quote's words were not found on "
      + "this page as printed (a figure, or text read differently), so nothing is highlighted."));
    for (const image of view.highlight.images) {
      const img = el("img", { className: "page-image", alt: `Page ${image.page} of ${view.title}` });
      img.dataset.page = image.page;
      img.addEventListener("click", () => img.classList.toggle("enlarged"));
      parts.push(el("div", { className: "status" }, `Page ${image.page} of ${view.page_count}`), img);
      fetchFile(image.url).then(({ file }) => { img.src = keepUrl(file); })
        .catch((error) => img.replaceWith(el("p", { className: "status" }, `Page not drawn: ${error.message}`)));
    }
  } else if (view.note) {
    parts.push(el("p", { className: "status" }, view.note));
  }
  if (view.pdf_url) {
    const open = el("a", { href: "#", className: "open-pdf" }, "Open the PDF at this page");
    open.addEventListener("click", (event) => {
      event.preventDefault();
      const tab = window.open("", "_blank");  // opened now, while the click counts: a pop-up blocker allows it
      fetchFile(view.pdf_url).then(({ file }) => { tab.location.href = `${keepUrl(file)}#page=${view.page || 1}`; })
        .catch((error) => { tab.close(); open.textContent = `The PDF cannot be opened: ${error.message}`; });
    });
    parts.push(open);
  }
  if (!view.highlight && view.passage) parts.push(markedPassage(view.passage.text, view.passage.start,
    view.passage.end));
  status.replaceWith(...parts);
}

// The references the conversation's answers cite, saved as a file (BibTeX, RIS or CSL-JSON).
async function exportReferences() {
  if (!conversation) { $("export-status").textContent = "Ask a question first: its cited papers are exported."; return; }
  const format = $("export-format").value;
  const saved = await download(`/v1/conversations/${encodeURIComponent(conversation)}/references?format=${format}`,
    "references", (file) => file.size === 0 || (format === "csl-json" && file.size <= 2));
  $("export-status").textContent = saved ? `Saved ${saved}` : "No answer in this conversation cites a paper yet.";
}

function showPassage(n) {
  const c = citations[n];
  if (!c) return;
  const where = `${c.section || ""}${c.page ? `, page ${c.page}` : ""}`;
  const evidence = el("div", { className: "evidence" });
  const show = (quote, page) => {
    evidence.replaceChildren();
    if (c.paper_id && quote) showEvidence(evidence, c.paper_id, quote, page);
  };
  // the passage's other cited sentences: each can be shown on its own page, highlighted, as the first is
  const quotes = [{ quote: c.quote || "", page: c.page }, ...(c.also || [])];
  const lines = quotes.map((q, i) => {
    const line = el("div", { className: i ? "quote also" : "quote" }, q.quote);
    if (c.also && c.also.length && c.paper_id) {
      const link = el("a", { href: "#", className: "show-quote" }, q.page ? `show on page ${q.page}` : "show it");
      link.addEventListener("click", (event) => { event.preventDefault(); show(q.quote, q.page); });
      return el("div", {}, line, link);
    }
    return line;
  });
  const card = el("div", { className: "card", id: "passage-card" },
    el("h4", {}, `[${n}] ${c.title || ""}${c.byline ? ` (${c.byline})` : ""}`),
    el("div", { className: "status" }, where), ...lines, externalLink(c.url, "Open the paper"), evidence);
  $("passage").replaceChildren(card);
  show(c.quote, c.page);
}

document.addEventListener("click", (event) => {
  const target = event.target;
  if (target instanceof Element && target.classList.contains("cite")) {
    event.preventDefault();
    showPassage(target.dataset.n);
  }
});

function addMessage(role, text) {
  const div = el("div", { className: `msg ${role}` });
  div.append(...(role === "assistant" ? withCitations(text) : [document.createTextNode(text)]));
  $("messages").append(div);
  return div;
}

function score(label, value) {
  return typeof value === "number" ? el("span", {}, `${label} ${value.toFixed(2)}`) : null;
}

// What a hypothesize turn adds beside the answer: the open questions the papers state (grouped, each quoted
// with its citation), then the hypotheses, or the reason there are none.
function showResearch(data) {
  const questions = data.open_questions || [];
  const groups = [...new Set(questions.map((q) => q.group))];
  const open = questions.length ? [el("div", { className: "card open-questions" },
    el("h4", {}, "Open questions in your library (stated by the papers' authors)"),
    ...groups.flatMap((group) => [el("div", { className: "status" }, group),
      ...questions.filter((q) => q.group === group).map((q) => el("div", {},
        `(${q.kind}) `, ...withCitations(`“${q.text}” [${q.n}]`),
        el("span", { className: "status" }, ` ${q.title}, ${q.section}${q.page ? `, p. ${q.page}` : ""}`)))]))]
    : [];
  const cards = (data.hypotheses || []).map((h, i) => el("div", { className: "card hypothesis" },
    el("h4", {}, h.kind === "template" ? `Template hypothesis ${i + 1} (no model)` : `Hypothesis ${i + 1}`),
    el("div", {}, ...withCitations(h.statement)),
    el("div", { className: "scores" }, score("novelty", h.novelty), score("feasibility", h.feasibility),
      score("testability", h.testability)),
    el("div", { className: "status" }, `Prediction: ${h.prediction || ""}`),
    ...(h.prior_work || []).slice(0, 2).map((w) => el("div", { className: "status" },
      `Closest prior work: ${w.title} (similarity ${Number(w.similarity).toFixed(2)})`)),
    // a novelty measured over the library alone says so: 1.00 over eight papers is not 1.00 over arXiv
    ...(h.novelty_searched && h.novelty_searched.includes("only")
      ? [el("div", { className: "status" }, `Novelty checked against ${h.novelty_searched}` +
        ((h.prior_work || []).length ? "" : "; no close work found there"))] : [])));
  const note = data.hypotheses_note ? [el("div", { className: "card status" }, data.hypotheses_note)] : [];
  $("hypotheses").replaceChildren(...open, ...cards, ...note);
}

// A quote as plain text (its own "[12]" stays text) and then its citation link [n].
function quoteWithLink(text, n) {
  return el("div", { className: "quote" }, `“${text}” `,
    el("a", { className: "cite", href: "#", dataset: { n: String(n) } }, `[${n}]`));
}

// A claim checked against the library: the verdict and consensus, then each paper that bears on it with its
// stance and quoted rationale (each quote a citation: click it to see it beside), then the papers that do not.
// With "also read arXiv's papers on it", arXiv's papers the library lacks are read into it first (the trace says
// which).
async function checkClaim(claim) {
  const arxiv = $("check-arxiv").checked;
  addMessage("user", `Check: ${claim}`);
  const status = el("div", { className: "status" },
    arxiv ? "reading arXiv's papers on the claim, then checking it…" : "checking the claim against the library…");
  $("messages").append(status);
  let result;
  try {
    result = await api("/v1/check", { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ claim, arxiv }) });
  } finally {
    status.remove();
  }
  citations = {};
  const counts = result.counts;
  const bearing = result.papers.filter((p) => p.stance !== "insufficient");
  const silent = result.papers.filter((p) => p.stance === "insufficient");
  const card = el("div", { className: `msg assistant check verdict-${result.verdict}` },
    el("h4", {}, `Verdict: ${result.verdict}`),
    el("div", { className: "status" }, `${counts.supports} support, ${counts.contradicts} contradict, `
      + `${counts.insufficient} do not address it`),
    arxiv ? el("div", { className: "status arxiv-read" }, result.trace[0]) : null,
    ...bearing.map((p) => el("div", { className: `paper-stance ${p.stance}` },
      el("strong", {}, `${p.stance}${typeof p.confidence === "number" ? ` (${p.confidence.toFixed(2)})` : ""}: `),
      `${p.title} (${p.byline || p.year || "n.d."})`,
      ...p.rationale.map((q) => {
        citations[q.n] = { ...q, title: p.title, paper_id: p.paper_id };
        return quoteWithLink(q.quote, q.n);
      }))),
    silent.length ? el("div", { className: "status" }, `Do not address it: ${silent.map((p) => p.title).join("; ")}`)
      : null,
    result.papers.length ? null : el("div", {}, "No paper in the library matches the claim."));
  $("messages").append(card);
}

// Findings of two papers on a topic that disagree: each pair with both sides quoted (click [n] to see one beside).
async function findContradictions(topic) {
  addMessage("user", `Contradictions: ${topic}`);
  const status = el("div", { className: "status" }, "comparing the papers' findings…");
  $("messages").append(status);
  const result = await api("/v1/contradictions", { method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ topic }) });
  status.remove();
  citations = {};
  let n = 0;
  const side = (s) => {
    n += 1;
    citations[n] = s;
    const block = quoteWithLink(s.quote, n);
    block.append(el("div", { className: "status" }, `${s.title} (${s.year || "n.d."})`));
    return block;
  };
  const card = el("div", { className: "msg assistant contradictions" },
    el("h4", {}, result.pairs.length ? `${result.pairs.length} disagreement(s)` : "No disagreement found"),
    el("div", { className: "status" }, result.trace.join(" ")),
    ...result.pairs.map((pair) => el("div", { className: "pair" },
      el("strong", {}, `disagreement ${pair.confidence.toFixed(2)} (findings ${pair.similarity.toFixed(2)} alike)`),
      side(pair.first), side(pair.second))));
  $("messages").append(card);
}

async function loadConversations() {
  const { conversations } = await api("/v1/conversations");
  $("conversations").replaceChildren(...conversations.map((c) => {
    const button = el("button", { className: `conv${c.id === conversation ? " active" : ""}` }, c.title || "Untitled");
    button.addEventListener("click", () => openConversation(c.id));
    return button;
  }));
}

async function openConversation(id) {
  conversation = id;
  citations = {};
  const data = await api(`/v1/conversations/${encodeURIComponent(id)}`);
  $("messages").replaceChildren();
  for (const m of data.messages) {
    for (const c of m.citations || []) citations[c.n] = c;
    addMessage(m.role === "user" ? "user" : "assistant", m.content);
  }
  loadConversations();
}

function parseEvent(block) {
  const event = /^event: (\w+)/m.exec(block)?.[1];
  const data = /^data: (.*)$/ms.exec(block)?.[1];
  return { event, data: data ? JSON.parse(data) : {} };
}

async function ask(question, mode) {
  if (!conversation) {
    const created = await api("/v1/conversations", { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ title: question.slice(0, 80) }) });
    conversation = created.id;
  }
  addMessage("user", question);
  const status = el("div", { className: "status" });
  $("messages").append(status);
  const answer = addMessage("assistant", "");
  let text = "";
  citations = {};
  const response = await fetch(`/v1/conversations/${encodeURIComponent(conversation)}/messages`, {
    method: "POST", headers: headers({ "Content-Type": "application/json", Accept: "text/event-stream" }),
    body: JSON.stringify({ content: question, mode }),
  });
  if (!response.ok) {
    status.textContent = (await response.json().catch(() => ({}))).detail || response.statusText;
    return;
  }
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer = (buffer + decoder.decode(value, { stream: true })).replace(/\r\n?/g, "\n");  // SSE allows CRLF and CR
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const { event, data } = parseEvent(buffer.slice(0, cut));
      buffer = buffer.slice(cut + 2);
      if (event === "status") status.textContent = `${data.node}: ${data.detail}`;
      if (event === "token") { text += data.text; answer.replaceChildren(...withCitations(text)); }
      if (event === "revised") { text = data.answer; answer.replaceChildren(...withCitations(text)); }
      if (event === "citation") citations[data.n] = data;
      if (event === "done") {
        status.textContent = data.answered === false
          ? "not answered: the library holds related passages, none that answers this"
          : `answered by ${data.provider}`;
        text = data.answer ?? text;
        answer.replaceChildren(...withCitations(text));
        showResearch(data);
      }
      if (event === "error") status.textContent = data.detail;
    }
  }
  loadConversations();
}

// A new library says how to add papers (the same words as the assistant's empty-library answer).
async function showFirstRun() {
  const { total, hint } = await api("/v1/papers?limit=1");
  document.querySelectorAll(".first-run").forEach((node) => node.remove());
  if (total === 0 && hint) {
    $("messages").prepend(el("div", { className: "card first-run" }, hint));
    $("library-view").prepend(el("div", { className: "card first-run" }, hint));
  }
}

// The Library tab: papers with their metadata and counts, sorted by a clicked column header, filtered as you type.
const librarySort = { sort: "added", order: "asc" };

function authorsText(authors) {
  if (!authors || !authors.length) return "";
  return authors.length > 3 ? `${authors.slice(0, 3).join(", ")} et al.` : authors.join(", ");
}

let papersAsked = 0;  // answers to an older filter that arrive late are dropped

async function loadPapers() {
  const asked = ++papersAsked;
  const query = new URLSearchParams({ limit: 200, sort: librarySort.sort, order: librarySort.order });
  if ($("library-filter").value.trim()) query.set("q", $("library-filter").value.trim());
  const { papers, total } = await api(`/v1/papers?${query}`);
  if (asked !== papersAsked) return;
  $("library-count").textContent = `${total} paper${total === 1 ? "" : "s"}${total > papers.length ? `, the first ${papers.length} shown` : ""}`;
  document.querySelectorAll("#library-table th[data-sort]").forEach((th) => {
    th.dataset.order = th.dataset.sort === librarySort.sort ? librarySort.order : "";
  });
  $("papers").replaceChildren(...papers.map((p) => el("tr", {},
    el("td", {}, el("button", { className: "link", onclick: () => showPaper(p) }, p.title),
      p.doi ? el("div", { className: "venue" }, externalLink(`https://doi.org/${p.doi}`, `doi:${p.doi}`)) : null),
    el("td", { className: "authors" }, authorsText(p.authors)),
    el("td", {}, p.year || ""),
    el("td", {}, p.venue || ""),
    el("td", {}, p.source, p.has_pdf && p.source !== "pdf" ? el("div", { className: "venue" }, "with PDF") : null),
    el("td", { className: "number" }, p.passages ?? ""),
    el("td", { className: "number" }, p.references ?? ""),
    el("td", { className: "number" }, p.cited_by ?? ""),
    el("td", {}, externalLink(p.url, "Open")))));
}

// A paper's page: its metadata, table of contents, the open questions it states, its references (entries that are
// library papers open their own page) and the library papers citing it.
async function showPaper(paper) {
  const path = `/v1/papers/${encodeURIComponent(paper.paper_id)}`;
  const [{ references }, { cited_by: citing }, contents] = await Promise.all([api(`${path}/references`),
    api(`${path}/cited-by`), api(`${path}/contents`)]);
  const open = (id, label) => el("button", { className: "link", onclick: () =>
    api(`/v1/papers/${encodeURIComponent(id)}`).then(showPaper) }, label);
  const linked = references.filter((r) => r.in_library).length;
  const facts = [authorsText(paper.authors), paper.year, paper.venue, paper.source,
    paper.pages ? `${paper.pages} pages` : null, paper.passages ? `${paper.passages} passages` : null]
    .filter(Boolean).join(" · ");
  const page = (n) => (n ? ` (p. ${n})` : "");
  $("paper-view").replaceChildren(
    el("h3", {}, paper.title),
    el("div", { className: "status" }, facts),
    el("div", {}, paper.doi ? externalLink(`https://doi.org/${paper.doi}`, `doi:${paper.doi}`) : null, " ",
      externalLink(paper.url, "Open"), " ", el("span", { className: "venue" }, paper.paper_id)),
    el("h4", {}, "Contents"),
    contents.sections.length ? el("ol", { className: "contents" }, ...contents.sections.map((s) => el("li", {},
      `${s.section}${page(s.page)}`))) : el("p", { className: "status" }, "No sections were read."),
    el("h4", {}, `Open questions it states (${contents.open_questions.length})`),
    contents.open_questions.length ? el("ul", {}, ...contents.open_questions.map((q) => el("li", {},
      el("strong", {}, `${q.kind}: `), q.text, el("span", { className: "venue" }, ` — ${q.section}${page(q.page)}`))))
      : el("p", { className: "status" }, "It states none that SciSynth recognises."),
    el("h4", {}, `References (${references.length}, ${linked} in your library)`),
    references.length ? el("ol", {}, ...references.map((r) => el("li", {},
      `${r.title}${r.year ? ` (${r.year})` : ""} `, r.in_library ? open(r.in_library, "in library") : null)))
      : el("p", { className: "status" }, "No reference list was found in this paper."),
    el("h4", {}, `Cited by ${citing.length} library paper${citing.length === 1 ? "" : "s"}`),
    el("ul", {}, ...citing.map((p) => el("li", {}, open(p.paper_id, p.title)))));
  $("paper-view").classList.remove("hidden");
  $("paper-view").scrollIntoView();
}

// "3 added, 1 skipped (line 12: ...)" for a job of several entries (an import); nothing for a single paper.
function jobSummary(results) {
  if (!results || results.length < 2) return "";
  const counts = {};
  for (const r of results) counts[r.status] = (counts[r.status] || 0) + 1;
  const problems = results.filter((r) => r.status === "skipped" || r.status === "failed")
    .slice(0, 3).map((r) => `${r.path}: ${r.error}`);
  return ` (${Object.entries(counts).map(([status, n]) => `${n} ${status}`).join(", ")})`
    + (problems.length ? `; ${problems.join("; ")}` : "");
}

async function watchJob(job) {
  for (;;) {
    const state = await api(`/v1/jobs/${encodeURIComponent(job.id)}`);
    $("job").textContent = `job ${state.status}${state.error ? ": " + state.error : ""}${jobSummary(state.results)}`;
    if (state.status === "done" || state.status === "failed") { loadPapers(); showFirstRun(); return; }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

// A quote with its paper and page, the way the digest cites it.
function quoted(entry, quote) {
  return el("span", {}, el("q", {}, quote.text),
    ` (arXiv ${entry.arxiv_id}${quote.page ? `, p. ${quote.page}` : ""})`);
}

function digestCard(digest) {
  const when = new Date(digest.created_at).toLocaleString();
  const head = el("h4", {}, `${digest.watch_name}: ${digest.status === "failed" ? "failed"
    : `${digest.entries.length} new paper${digest.entries.length === 1 ? "" : "s"}`}`);
  const meta = el("div", { className: "status" }, `${when} · Slack: ${digest.delivery}`);
  if (digest.status === "failed") return el("div", { className: "card digest" }, head, meta, el("p", {}, digest.error));
  return el("div", { className: "card digest" }, head, meta, el("ul", {}, ...digest.entries.map((entry) => el("li", {},
    externalLink(entry.url, entry.title) || entry.title, ` (${entry.published || "undated"})`,
    entry.summary ? el("div", { className: "quote" }, quoted(entry, entry.summary))
      : el("div", { className: "status" }, entry.paper_id ? "added; no sentence of it reads as a summary"
        : `not added (${entry.note || "unknown reason"}); the next run tries again`),
    ...entry.bearings.map((b) => el("div", { className: "bearing" }, el("strong", {}, `Q: ${b.question} `),
      b.addresses ? quoted(entry, b.quote) : el("span", { className: "status" }, "does not address it")))))));
}

async function loadWatches() {
  const [{ watches }, { digests }] = await Promise.all([api("/v1/watches"), api("/v1/digests?limit=20")]);
  $("watches").replaceChildren(watches.length ? el("ul", {}, ...watches.map((w) => el("li", {},
    el("strong", {}, w.name), ` ${w.query} · every ${w.every_hours} h · last: ${w.last_status || "not run yet"} `,
    el("button", { className: "link", onclick: () => watchAction(runWatch, w.id) }, "run now"), " ",
    el("button", { className: "link", onclick: () => watchAction(removeWatch, w.id) }, "remove"))))
    : el("p", { className: "status" }, "No watches yet."));
  $("digests").replaceChildren(...(digests.length ? digests.map(digestCard)
    : [el("p", { className: "status" }, "No digests yet: a watch writes one when it finds new papers.")]));
}

async function runWatch(id) {
  const job = await api(`/v1/watches/${encodeURIComponent(id)}/run`, { method: "POST" });
  $("watch-status").textContent = "running…";
  for (;;) {
    const state = await api(`/v1/jobs/${encodeURIComponent(job.id)}`);
    if (state.status === "done" || state.status === "failed") break;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  $("watch-status").textContent = "";
  await loadWatches();
}

// Errors (another key's watch: 403) are shown beside the form, not lost in the console.
function watchAction(action, id) {
  action(id).catch((error) => { $("watch-status").textContent = error.message; });
}

async function removeWatch(id) {
  await api(`/v1/watches/${encodeURIComponent(id)}`, { method: "DELETE" });
  await loadWatches();
}

// Evidence tables: the job's rows are drawn as they are done; a cell opens its quote inside its passage.
let tableJob = null;

function cellText(cell) {
  if (!cell.reported) return cell.note ? "not read (needs a model)" : "not reported";
  return cell.value || cell.quote;
}

function showCell(row, cell, td) {
  document.querySelectorAll("#table-grid td.chosen").forEach((node) => node.classList.remove("chosen"));
  td.classList.add("chosen");
  const where = `${cell.section || ""}${cell.page ? `, page ${cell.page}` : ""}`;
  const passage = cell.passage || "";
  const at = cell.quote ? passage.indexOf(cell.quote) : -1;
  const context = markedPassage(passage, at, at < 0 ? at : at + cell.quote.length);
  $("table-cell").replaceChildren(
    el("h4", {}, `${row.title}: ${cell.column}`),
    cell.reported ? el("div", { className: "status" }, `${where} · confidence ${cell.confidence}`)
      : el("p", {}, cell.note ? `${cell.note[0].toUpperCase()}${cell.note.slice(1)}.`
        : `Not reported: no sentence of this paper answers it (confidence ${cell.confidence}).`),
    cell.value ? el("p", {}, el("strong", {}, "Value: "), cell.value) : null,
    cell.quote ? el("div", { className: "quote" }, cell.quote) : null,
    passage ? el("details", {}, el("summary", {}, "The passage"), context) : null);
  if (cell.quote && cell.page) showEvidence($("table-cell"), row.paper_id, cell.quote, cell.page);
}

function drawTable(rows) {
  if (!rows.length) { $("table-grid").replaceChildren(); return; }
  const columns = rows[0].cells.map((cell) => cell.column);
  const body = rows.map((row) => el("tr", {},
    el("th", {}, row.title, row.byline || row.year
      ? el("div", { className: "venue" }, row.byline || String(row.year)) : null),
    ...row.cells.map((cell) => {
      const td = el("td", { className: cell.reported ? "reported" : "not-reported" }, cellText(cell),
        cell.reported && cell.page ? el("div", { className: "where" }, `p. ${cell.page}`) : null);
      td.addEventListener("click", () => showCell(row, cell, td));
      return td;
    })));
  $("table-grid").replaceChildren(el("table", {}, el("thead", {}, el("tr", {}, el("th", {}, "Paper"),
    ...columns.map((name) => el("th", {}, name)))), el("tbody", {}, ...body)));
}

async function buildTable() {
  const columns = $("table-columns").value.split("\n").map((line) => line.trim()).filter(Boolean);
  const papers = $("table-papers").value.split(/\s+/).filter(Boolean);
  const body = { columns, n: Number($("table-n").value) || 10 };
  if ($("table-preset").value) body.preset = $("table-preset").value;
  if ($("table-query").value.trim()) body.query = $("table-query").value.trim();
  if ($("table-arxiv").checked) body.arxiv = true;  // read arXiv's papers on the query into the library first
  if (papers.length) body.papers = papers;
  if ($("table-conversation").checked && conversation) body.conversation_id = conversation;
  $("table-download").classList.add("hidden");
  $("table-grid").replaceChildren();
  $("table-status").textContent = body.arxiv ? "Reading arXiv's papers on the query…" : "Queued…";
  tableJob = await api("/v1/tables", { method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body) });
  const read = tableJob.note ? ` (${tableJob.note})` : "";
  for (;;) {
    const state = await api(`/v1/jobs/${encodeURIComponent(tableJob.id)}`);
    const rows = (state.results || []).filter((result) => result.status === "row");
    const skipped = (state.results || []).filter((result) => result.status !== "row");
    drawTable(rows);
    const left = skipped.length ? `; left out: ${skipped.map((r) => `${r.paper_id} (${r.error})`).join(", ")}` : "";
    $("table-status").textContent = (state.status === "done" ? `${rows.length} papers`
      : state.status === "failed" ? `The table failed: ${state.error}` : `Building: ${rows.length} papers done`) + left
      + read;
    if (state.status === "done") $("table-download").classList.remove("hidden");
    if (state.status === "done" || state.status === "failed") return;
    await new Promise((resolve) => setTimeout(resolve, 700));
  }
}

// The library map as SVG: a point per paper (colour: its cluster; ringed: marked), a line per citation, a label per
// cluster. Drag pans, the wheel zooms about the pointer, hovering shows title and year, a click opens the paper.
const CLUSTER_COLOURS = ["#2f5bea", "#e8590c", "#2b8a3e", "#c2255c", "#5f3dc4", "#0b7285", "#a61e4d", "#5c940d",
  "#d9480f", "#1864ab", "#862e9c", "#495057"];
const SVG_NS = "http://www.w3.org/2000/svg";

function svgNode(tag, attributes, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

async function openPaper(paperId) {
  $("tab-library").click();
  showPaper(await api(`/v1/papers/${encodeURIComponent(paperId)}`));
}

function drawMap(map) {
  const width = 1000, height = 640, pad = 40;
  const xs = map.papers.map((p) => p.x), ys = map.papers.map((p) => p.y);
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const scale = Math.min((width - 2 * pad) / ((x1 - x0) || 1), (height - 2 * pad) / ((y1 - y0) || 1));
  const at = (x, y) => [pad + (x - x0) * scale, pad + (y - y0) * scale];
  const where = Object.fromEntries(map.papers.map((p) => [p.paper_id, at(p.x, p.y)]));
  const lines = map.links.map((link) => {
    const [[ax, ay], [bx, by]] = [where[link.from], where[link.to]];
    return svgNode("line", { x1: ax, y1: ay, x2: bx, y2: by, class: "map-link" });
  });
  const points = map.papers.map((p) => {
    const [cx, cy] = where[p.paper_id];
    const dot = svgNode("circle", { cx, cy, r: p.highlight ? 6 : 3.5, fill: CLUSTER_COLOURS[p.cluster % 12],
      class: `map-paper${p.highlight ? ` marked ${p.highlight}` : ""}`, "data-paper": p.paper_id },
      svgNode("title", {}, `${p.title}${p.year ? ` (${p.year})` : ""}`));
    dot.addEventListener("click", () => openPaper(p.paper_id).catch((error) => {
      $("map-status").textContent = error.message; }));
    return dot;
  });
  const labels = map.clusters.map((c) => svgNode("text", { x: at(c.x, c.y)[0], y: at(c.x, c.y)[1],
    class: "map-label", fill: CLUSTER_COLOURS[c.cluster % 12] }, c.label));
  const view = [0, 0, width, height];
  const svg = svgNode("svg", { viewBox: view.join(" "), class: "map-svg", role: "img",
    "aria-label": `Map of ${map.papers.length} papers` }, ...lines, ...points, ...labels);
  const place = () => svg.setAttribute("viewBox", view.join(" "));
  svg.addEventListener("wheel", (event) => {
    event.preventDefault();
    const box = svg.getBoundingClientRect();
    const factor = event.deltaY > 0 ? 1.2 : 1 / 1.2;
    const px = view[0] + ((event.clientX - box.left) / box.width) * view[2];
    const py = view[1] + ((event.clientY - box.top) / box.height) * view[3];
    view[0] = px - (px - view[0]) * factor; view[1] = py - (py - view[1]) * factor;
    view[2] *= factor; view[3] *= factor;
    place();
  }, { passive: false });
  let drag = null;
  svg.addEventListener("pointerdown", (event) => { drag = [event.clientX, event.clientY]; });
  svg.addEventListener("pointerup", () => { drag = null; });
  svg.addEventListener("pointerleave", () => { drag = null; });
  svg.addEventListener("pointermove", (event) => {
    if (!drag) return;
    const box = svg.getBoundingClientRect();
    view[0] -= ((event.clientX - drag[0]) / box.width) * view[2];
    view[1] -= ((event.clientY - drag[1]) / box.height) * view[3];
    drag = [event.clientX, event.clientY];
    place();
  });
  $("map").replaceChildren(svg);
}

async function loadMap() {
  const query = new URLSearchParams();
  if ($("map-conversation").checked && conversation) query.set("conversation", conversation);
  if ($("map-watch").value.trim()) query.set("watch", $("map-watch").value.trim());
  if ($("map-recompute").checked) query.set("recompute", "true");
  $("map-status").textContent = "Drawing the map…";
  const map = await api(`/v1/library/map?${query}`);
  if (!map.papers.length) { $("map").replaceChildren(); $("map-status").textContent = "The library has no papers yet."; return; }
  drawMap(map);
  const marked = map.papers.filter((p) => p.highlight).length;
  $("map-status").textContent = `${map.papers.length} papers in ${map.clusters.length} clusters, `
    + `${map.links.length} citations between them${marked ? `, ${marked} marked` : ""}`
    + `${map.unplaced ? `; ${map.unplaced} without passages to place them by are left out` : ""} `
    + `(layout ${map.layout}, ${map.seconds} s)`;
}

function setUp() {
  $("apikey").value = localStorage.getItem("scisynth-key") || "";
  $("apikey").addEventListener("change", () => {
    localStorage.setItem("scisynth-key", apiKey());
    loadConversations().catch((error) => { $("conversations").textContent = error.message; });
    showFirstRun().catch(() => {});
  });
  $("ask-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const question = $("question").value.trim();
    if (question) {
      $("question").value = "";
      const mode = $("mode").value;
      const asked = mode === "check" ? checkClaim(question)
        : mode === "contradictions" ? findContradictions(question) : ask(question, mode);
      asked.catch((error) => addMessage("assistant", `Error: ${error.message}`));
    }
  });
  $("mode").addEventListener("change", () => {
    const hints = { check: "Write a claim to check against your papers…",
      contradictions: "A topic whose papers may disagree…" };
    $("question").placeholder = hints[$("mode").value] || "Ask a research question…";
    $("check-arxiv-label").classList.toggle("hidden", $("mode").value !== "check");
  });
  $("export").addEventListener("click", () => {
    exportReferences().catch((error) => { $("export-status").textContent = error.message; });
  });
  $("new-conv").addEventListener("click", () => {
    conversation = null;
    $("messages").replaceChildren();
    $("hypotheses").replaceChildren();
    loadConversations();
  });
  $("upload-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = new FormData();
    form.append("file", $("pdf").files[0]);
    try { watchJob(await api("/v1/papers", { method: "POST", body: form })); } catch (error) { $("job").textContent = error.message; }
  });
  $("import").addEventListener("click", async () => {
    const file = $("bibliography").files[0];
    if (!file) { $("job").textContent = "Choose a .bib or .ris file first."; return; }
    const form = new FormData();
    form.append("file", file);
    try { watchJob(await api("/v1/papers/import", { method: "POST", body: form })); } catch (error) { $("job").textContent = error.message; }
  });
  $("zotero-sync").addEventListener("click", async () => {
    const collection = $("zotero-collection").value.trim();
    try {
      watchJob(await api("/v1/zotero/sync", { method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ library: $("zotero-library").value.trim(), ...(collection ? { collection } : {}) }) }));
    } catch (error) { $("job").textContent = error.message; }
  });
  $("fetch").addEventListener("click", async () => {
    try {
      watchJob(await api("/v1/papers", { method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ arxiv_id: $("arxiv-id").value.trim() }) }));
    } catch (error) { $("job").textContent = error.message; }
  });
  $("watch-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const question = $("watch-question").value.trim();
    try {
      await api("/v1/watches", { method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ name: $("watch-name").value.trim(), query: $("watch-query").value.trim(),
          categories: $("watch-categories").value.split(/[\s,]+/).filter(Boolean),
          questions: question ? [question] : [] }) });
      $("watch-status").textContent = "Saved: the service runs it now and then on schedule.";
      await loadWatches();
    } catch (error) { $("watch-status").textContent = error.message; }
  });
  $("map-form").addEventListener("submit", (event) => {
    event.preventDefault();
    loadMap().catch((error) => { $("map-status").textContent = error.message; });
  });
  document.querySelectorAll("#library-table th[data-sort]").forEach((th) => th.addEventListener("click", () => {
    const again = librarySort.sort === th.dataset.sort;
    librarySort.order = again && librarySort.order === "asc" ? "desc" : again ? "asc"
      : ["passages", "references", "cited_by", "year"].includes(th.dataset.sort) ? "desc" : "asc";
    librarySort.sort = th.dataset.sort;
    loadPapers().catch((error) => { $("job").textContent = error.message; });
  }));
  let filtering = null;
  $("library-filter").addEventListener("input", () => {
    clearTimeout(filtering);
    filtering = setTimeout(() => loadPapers().catch((error) => { $("job").textContent = error.message; }), 250);
  });
  $("table-form").addEventListener("submit", (event) => {
    event.preventDefault();
    buildTable().catch((error) => { $("table-status").textContent = error.message; });
  });
  $("table-save").addEventListener("click", () => {
    if (!tableJob) return;
    download(`/v1/tables/${encodeURIComponent(tableJob.id)}?format=${$("table-format").value}`, "table")
      .then((saved) => { $("table-status").textContent = `Saved ${saved}`; })
      .catch((error) => { $("table-status").textContent = error.message; });
  });
  const views = [["tab-chat", "chat-view"], ["tab-library", "library-view"], ["tab-watches", "watches-view"],
    ["tab-tables", "tables-view"], ["tab-map", "map-view"]];
  for (const [tab, view] of views) {
    $(tab).addEventListener("click", () => {
      document.querySelectorAll("header nav button").forEach((b) => b.classList.toggle("active", b.id === tab));
      for (const [, other] of views) $(other).classList.toggle("hidden", other !== view);
      if (view === "library-view") loadPapers().catch((error) => { $("job").textContent = error.message; });
      if (view === "map-view") loadMap().catch((error) => { $("map-status").textContent = error.message; });
      if (view === "watches-view") loadWatches().catch((error) => { $("watch-status").textContent = error.message; });
    });
  }
  loadConversations().catch((error) => { $("conversations").textContent = error.message; });
  showFirstRun().catch(() => {});  // without a key yet, the API key box comes first
}

setUp();
