// The API reference, drawn from /openapi.json as text nodes (no third-party script, no CDN).
"use strict";

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text) node.textContent = text;
  if (className) node.className = className;
  return node;
}

async function render() {
  const schema = await (await fetch("/openapi.json")).json();
  const root = document.getElementById("operations");
  for (const [path, methods] of Object.entries(schema.paths)) {
    for (const [method, operation] of Object.entries(methods)) {
      const card = el("div", "", "card");
      card.append(el("h4", `${method.toUpperCase()} ${path}`));
      if (operation.description || operation.summary) card.append(el("p", operation.description || operation.summary));
      const statuses = Object.entries(operation.responses || {}).map(([code, r]) => `${code} ${r.description || ""}`);
      card.append(el("div", `responses: ${statuses.join(" · ")}`, "status"));
      root.append(card);
    }
  }
}

render().catch((error) => { document.getElementById("operations").textContent = error.message; });
