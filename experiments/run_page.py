#!/usr/bin/env python3
"""Writes RUN_DIR/index.html: one page for a sweep run, readable in any browser
from the folder itself (no server, no JavaScript).

    python3 experiments/run_page.py RUN_DIR

The page holds the run's machine.txt (the machine, the command, the commit),
the summary (per thread count, for every workload and size distribution, the
best npool strategy against the best peer, coloured ahead / behind /
within the repeats' spread: experiments/sweep_cells.py) and every figure in
RUN_DIR/figures/ (the SVGs drawn, each with its PNG linked). The sweep writes
it after the figures; paper/make_figures.sh rewrites it for the runs it draws.
Exit 1 with a message, writing nothing, when RUN_DIR has no readable sweep.csv.
"""
import html
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sweep_cells import Error, best_vs_peer, cell_keys, load  # noqa: E402

COLOUR = {"ahead": "#d9f0d3", "behind": "#f8d7d7", "within spread": "#eeeeee"}
STYLE = """body { font-family: sans-serif; margin: 2em; max-width: 80em; }
pre { background: #f6f6f6; padding: 1em; overflow-x: auto; font-size: 85%; }
table { border-collapse: collapse; margin-bottom: 1.5em; }
th, td { border: 1px solid #bbb; padding: 0.2em 0.6em; }
td.n { text-align: right; }
figure { margin: 1.5em 0; }
figure img { max-width: 100%; border: 1px solid #ddd; }"""


def summary_tables(cells, order):
    out = []
    for t in sorted({k[2] for k in cells}):
        rows = []
        for w, d in cell_keys(cells, order, t):
            b = best_vs_peer(cells[(w, d, t)])
            if b is None:
                continue
            rows.append(
                f'<tr style="background: {COLOUR[b.verdict]}"><td>{html.escape(w)}</td>'
                f"<td>{html.escape(d)}</td><td>{html.escape(b.npool)}</td>"
                f'<td class="n">{b.npool_ops / 1e6:.2f}</td><td>{html.escape(b.peer)}</td>'
                f'<td class="n">{b.peer_ops / 1e6:.2f}</td><td class="n">{b.ratio:.2f}</td>'
                f"<td>{b.verdict}</td></tr>")
        if not rows:
            continue
        ahead = sum("ahead</td>" in r for r in rows)
        behind = sum("behind</td>" in r for r in rows)
        out.append(f"<h3>{t} thread{'s' if t != 1 else ''}: npool ahead in {ahead}, behind in "
                   f"{behind}, within the spread in {len(rows) - ahead - behind} of {len(rows)} cells</h3>")
        out.append("<table><tr><th>workload</th><th>sizes</th><th>best npool</th><th>Mops/s</th>"
                   "<th>best peer</th><th>Mops/s</th><th>npool / peer</th>"
                   "<th>beyond the repeats' spread?</th></tr>")
        out += rows
        out.append("</table>")
    return out


def figures(run_dir):
    fig_dir = os.path.join(run_dir, "figures")
    kinds = ("throughput_", "relative_", "latency_", "memory_", "rss_over_live_", "where_", "rss_")
    def key(n):  # throughput first, as plot.sh lists them; alphabetical within a kind
        return (next((i for i, k in enumerate(kinds) if n.startswith(k)), len(kinds)), n)
    names = sorted(os.listdir(fig_dir), key=key) if os.path.isdir(fig_dir) else []
    out = []
    for n in names:
        if not n.endswith(".svg"):
            continue
        png = n[:-4] + ".png"
        link = f' (<a href="figures/{html.escape(png)}">{html.escape(png)}</a>)' if png in names else ""
        out.append(f'<figure><img src="figures/{html.escape(n)}" alt="{html.escape(n)}">'
                   f"<figcaption>{html.escape(n)}{link}</figcaption></figure>")
    for n in names:  # what has no SVG beside it (summary.csv, a lone PNG)
        if not n.endswith(".svg") and not (n.endswith(".png") and n[:-4] + ".svg" in names):
            out.append(f'<p><a href="figures/{html.escape(n)}">{html.escape(n)}</a></p>')
    return out


def page(run_dir):
    cells, order = load(run_dir)
    try:
        with open(os.path.join(run_dir, "machine.txt")) as f:
            machine = f.read()
    except OSError:
        machine = "(no machine.txt in this run)"
    name = os.path.basename(os.path.abspath(run_dir))
    lines = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             f"<title>npool sweep: {html.escape(name)}</title><style>{STYLE}</style></head><body>",
             f"<h1>npool sweep: {html.escape(name)}</h1>",
             "<p>Results: <a href=\"sweep.csv\">sweep.csv</a> (one row per run), "
             "<a href=\"machine.txt\">machine.txt</a>.</p>",
             "<h2>Machine, command, commit</h2>", f"<pre>{html.escape(machine)}</pre>",
             "<h2>Summary: the best npool strategy against the best peer</h2>",
             "<p>Medians of alloc+free pairs per second over the repeats that ran; "
             "green: npool ahead beyond the repeats' spread (their min..max ranges do not "
             "overlap), red: behind, grey: within the spread.</p>"]
    lines += summary_tables(cells, order)
    lines.append("<h2>Figures</h2>")
    lines += figures(run_dir) or ["<p>No figures in this run (made with --no-figures?).</p>"]
    lines.append("</body></html>")
    return "\n".join(lines) + "\n"


def main(argv):
    if len(argv) != 1:
        print("usage: run_page.py RUN_DIR", file=sys.stderr)
        return 2
    run_dir = argv[0].rstrip("/") or "/"
    try:
        text = page(run_dir)
    except Error as e:
        print(f"run_page: error: {e}", file=sys.stderr)
        return 1
    out = os.path.join(run_dir, "index.html")
    with open(out, "w") as f:
        f.write(text)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
