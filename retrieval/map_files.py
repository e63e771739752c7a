"""The library map as a file: a self-contained HTML page (an SVG with a tooltip per paper and a link to each paper
that has an address; no script) or a PNG figure (matplotlib)."""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from pathlib import Path

from retrieval.library_map import LibraryMap

COLOURS = ["#2f5bea", "#e8590c", "#2b8a3e", "#c2255c", "#5f3dc4", "#0b7285", "#a61e4d", "#5c940d", "#d9480f",
           "#1864ab", "#862e9c", "#495057"]  # the web page's cluster colours
WIDTH, HEIGHT, PAD = 1200, 800, 50


def _scaler(library: LibraryMap) -> Callable[[float, float], tuple[float, float]]:
    """Layout coordinates -> the SVG's, the whole map inside its margins."""
    xs, ys = [p.x for p in library.points] or [0.0], [p.y for p in library.points] or [0.0]
    x0, y0 = min(xs), min(ys)
    scale = min((WIDTH - 2 * PAD) / ((max(xs) - x0) or 1), (HEIGHT - 2 * PAD) / ((max(ys) - y0) or 1))
    return lambda x, y: (PAD + (x - x0) * scale, PAD + (y - y0) * scale)


def map_html(library: LibraryMap, urls: dict[str, str], title: str = "SciSynth library map") -> str:
    """The map as one HTML file; `urls` links papers to their pages (arXiv, DOI). Every text is escaped."""
    scale = _scaler(library)
    at = {p.paper_id: scale(p.x, p.y) for p in library.points}
    lines = [f'<line x1="{at[a][0]:.1f}" y1="{at[a][1]:.1f}" x2="{at[b][0]:.1f}" y2="{at[b][1]:.1f}" class="link"/>'
             for a, b in library.links]
    dots = []
    for p in library.points:
        x, y = at[p.paper_id]
        marked = library.highlighted.get(p.paper_id)
        circle = (f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{7 if marked else 4}" fill="{COLOURS[p.cluster % 12]}"'
                  f'{" class=" + chr(34) + "marked" + chr(34) if marked else ""}><title>'
                  f'{escape(p.title)}{f" ({p.year})" if p.year else ""}</title></circle>')
        url = urls.get(p.paper_id, "")
        url = url if url.startswith(("https://", "http://")) else ""  # never javascript: from a paper's metadata
        dots.append(f'<a href="{escape(url)}" target="_blank" rel="noopener">{circle}</a>' if url else circle)
    labels = [f'<text x="{scale(c.x, c.y)[0]:.1f}" y="{scale(c.x, c.y)[1]:.1f}" fill="{COLOURS[c.cluster % 12]}">'
              f'{escape(c.label)}</text>' for c in library.clusters]
    summary = f"{library.counts} between them. Hover a point for its title; a point with an address opens it."
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<style>
body {{ font: 14px system-ui, sans-serif; margin: 1rem; color: #1d2330; }}
svg {{ width: 100%; height: auto; border: 1px solid #e4e7ec; border-radius: 8px; background: #fff; }}
.link {{ stroke: #adb5bd; stroke-width: .6; stroke-opacity: .6; }}
circle {{ fill-opacity: .8; }} circle:hover, .marked {{ stroke: #111; stroke-width: 2; fill-opacity: 1; }}
text {{ font-size: 14px; font-weight: 600; paint-order: stroke; stroke: #fff; stroke-width: 3px; text-anchor: middle;
        pointer-events: none; }}
</style></head><body>
<h1>{escape(title)}</h1><p>{escape(summary)}</p>
<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(summary)}">
{chr(10).join(lines)}
{chr(10).join(dots)}
{chr(10).join(labels)}
</svg></body></html>
"""


def map_png(library: LibraryMap, path: Path, title: str = "SciSynth library map") -> None:
    """The map as a PNG figure: points by cluster, citation lines, cluster labels, marked papers ringed."""
    import matplotlib

    matplotlib.use("Agg")  # no display: files only
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection

    figure, axes = plt.subplots(figsize=(12, 8), dpi=110)
    where = {p.paper_id: (p.x, p.y) for p in library.points}
    if library.links:
        axes.add_collection(LineCollection([[where[a], where[b]] for a, b in library.links], colors="#adb5bd",
                                           linewidths=0.5, alpha=0.6, zorder=1))
    axes.scatter([p.x for p in library.points], [p.y for p in library.points], s=9, zorder=2, alpha=0.8,
                 c=[COLOURS[p.cluster % 12] for p in library.points])
    marked = [p for p in library.points if p.paper_id in library.highlighted]
    if marked:
        axes.scatter([p.x for p in marked], [p.y for p in marked], s=60, facecolors="none", edgecolors="#111",
                     linewidths=1.5, zorder=3, label="marked")
        axes.legend(loc="lower right")
    for cluster in library.clusters:
        axes.annotate(cluster.label, (cluster.x, cluster.y), ha="center", fontsize=9, weight="bold", zorder=4,
                      color=COLOURS[cluster.cluster % 12],
                      bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none", "alpha": 0.75})
    axes.set_title(f"{title}: {library.counts}")
    axes.set_xticks([])
    axes.set_yticks([])
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
