"""Tabulate bench/results/*.json into the figures section of docs/performance.md.

    python -m bench.report

The hand-written part of docs/performance.md (targets, analysis, profiles) stays; only the part
between the two markers is replaced.
"""

from __future__ import annotations

import json
import sys

from portal.config import ROOT

RESULTS = ROOT / "bench" / "results"
DOC = ROOT / "docs" / "performance.md"
START, END = "<!-- figures:start -->", "<!-- figures:end -->"


def table(result: dict) -> str:
    lines = [
        f"### {result['backend']}, {result['cases']:,} cases ({result['disclosed']:,} disclosed)"
        f" — {result['when']}",
        "",
        f"gunicorn {result['workers']} sync workers, {result['concurrency']} concurrent "
        f"keep-alive clients for {result['duration']:.0f} s per endpoint, on {result['machine']}."
        f" Worker RSS after the run: "
        f"{', '.join(f'{r:.0f} MB' for r in result['worker_rss_mb'])}.",
        "",
        "| endpoint | req/s | × baseline | p50 ms | p99 ms | errors | notes |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for f in result["figures"]:
        lines.append(f"| {f['name']} | {f['rps']:.1f} | {f['rps_ratio']:.2f} | "
                     f"{f['p50_ms']:.1f} | {f['p99_ms']:.1f} | {f['errors']} | {f['notes']} |")
    return "\n".join(lines)


def main() -> int:
    results = [json.loads(p.read_text()) for p in sorted(RESULTS.glob("*.json"))]
    results.sort(key=lambda r: (r["backend"], r["cases"]))
    body = "\n\n".join(table(r) for r in results) or "_No results yet: run `make bench`._"
    doc = DOC.read_text(encoding="utf-8") if DOC.exists() else f"{START}\n{END}\n"
    head, _, rest = doc.partition(START)
    _, _, tail = rest.partition(END)
    DOC.write_text(f"{head}{START}\n{body}\n{END}{tail}", encoding="utf-8")
    print(f"wrote {len(results)} result tables to {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
