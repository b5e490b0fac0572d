"""Precision of the lifecycle flags and article types on read samples of the real corpus.

Loads every article of ../shared/corpora/ms-support (the loader only: no embeddings, no index),
judges each as of its own snapshot date (manifest ``snapshot_date``), and for ``obsolete``,
``partly-obsolete`` and the ``faq`` and ``bulletin`` article types draws 20 flagged and 20
unflagged articles (fixed seed) and prints what a reader needs to judge them: title, applies-to
and product lines, headings, the rule's evidence and the sentences that name products or ask
questions. With ``--judgements FILE`` it reads the verdicts a person recorded for those samples
(``right`` / ``wrong``), checks that they are for the same samples, and prints the figures:
precision (flagged and right / flagged) and miss rate (unflagged and wrong / unflagged). It also
prints the counts, the KB's dates of record (review dates shared in bulk) and the products the
lifecycle table does not know (what owners add with ``KB_LIFECYCLE_FILE``).

    python benchmarks/flag_precision.py --seed 7 > /tmp/flag_samples.md
    python benchmarks/flag_precision.py --seed 7 --judgements benchmarks/results/flag_precision.json
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.types import Article  # noqa: E402
from ingest.load import load_article  # noqa: E402
from ingest.quality.dates import bulk_review_dates, lifecycle_flag, stale_flag  # noqa: E402
from ingest.quality.lifecycle import (  # noqa: E402
    applies_to_line,
    load_lifecycle,
    product_mentions,
    unknown_products,
)
from ingest.quality.policy import QualityPolicy  # noqa: E402
from ingest.quality.structure import detect_type, is_fragment, questions  # noqa: E402

KINDS = ("obsolete", "partly-obsolete", "faq", "bulletin")
SAMPLE = 20


def load_corpus(corpus: Path) -> tuple[list[Article], dict[str, date]]:
    """Every article of the manifest, and its snapshot date (the reference date it is judged
    as of)."""
    articles, snapshots = [], {}
    for line in (corpus / "manifest.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        article = load_article(corpus / row["article_path"], corpus, 20_000_000)
        articles.append(article)
        snapshots[article.id] = date.fromisoformat(row["snapshot_date"][:10])
    return articles, snapshots


def verdicts(articles: list[Article], snapshots: dict[str, date], policy: QualityPolicy
             ) -> dict[str, dict[str, Any]]:
    """``kind -> {article id: evidence}`` for the articles each rule flags (or types)."""
    found: dict[str, dict[str, Any]] = {kind: {} for kind in KINDS}
    for article in articles:
        if is_fragment(article):
            continue
        flag = lifecycle_flag(article, policy, snapshots[article.id])
        if flag is not None:
            found[flag.kind][article.id] = {"reason": flag.reason, **flag.evidence}
        kind, signals = detect_type(article, policy)
        if kind in found:
            found[kind][article.id] = {"signals": signals}
    return found


def draw(articles: list[Article], found: dict[str, dict[str, Any]], seed: int
         ) -> dict[str, dict[str, list[str]]]:
    """The samples: per kind, up to 20 flagged and 20 unflagged article ids, each drawn by
    its own generator (seeded with the seed, the kind and the side), so that a change in one
    rule leaves the other samples as they were."""
    pool = sorted(a.id for a in articles if not is_fragment(a))
    out = {}
    for kind in KINDS:
        flagged = sorted(found[kind])
        clean = [i for i in pool if i not in found[kind]]
        out[kind] = {side: random.Random(f"{seed}:{kind}:{side}").sample(ids, min(SAMPLE, len(ids)))
                     for side, ids in (("flagged", flagged), ("unflagged", clean))}
    return out


def candidates(articles: list[Article], found: dict[str, dict[str, Any]], seed: int
               ) -> dict[str, list[str]]:
    """A harder miss test for the types: up to 20 untyped articles that look most like one
    (FAQ: a FAQ heading, a Q: marker or three question lines; bulletin: a CVE id, or
    "security bulletin/advisory" or "vulnerability" in the title)."""
    out = {}
    for kind in ("faq", "bulletin"):
        pool = []
        for article in articles:
            if article.id in found[kind] or is_fragment(article):
                continue
            if kind == "faq":
                heads, marked = questions(article)
                lines = [b for b in article.blocks if b.kind in ("text", "list_item")
                         and b.text.rstrip().endswith("?") and len(b.text.split()) <= 30]
                faq_head = any(re.search(r"(?i)frequently asked|\bFAQ", h.text)
                               for h in article.headings)
                hit = faq_head or marked or len(lines) >= 3
            else:
                hit = bool(re.search(r"CVE-\d{4}-\d{4,}", article.text)) or bool(re.search(
                    r"(?i)security (bulletin|advisory)|vulnerabilit", article.title))
            if hit:
                pool.append(article.id)
        pool.sort()
        out[kind] = random.Random(f"{seed}:{kind}:candidates").sample(pool, min(SAMPLE,
                                                                                 len(pool)))
    return out


def _product_sentences(article: Article, limit: int = 4) -> list[str]:
    lines = []
    for block in article.blocks:
        if block.kind != "code" and product_mentions(block.text):
            lines.append(f"[{block.kind}] {block.text[:220]}")
        if len(lines) >= limit:
            break
    return lines


def describe(article: Article, kind: str, evidence: dict[str, Any] | None, as_of: date) -> str:
    """What a reader needs to judge ``kind`` for this article."""
    heads = [h.text for h in article.headings if h.level == 2]
    lines = [f"### {article.id}", f"- title: {article.title}", f"- as of: {as_of.isoformat()}",
             f"- applies-to: {', '.join(article.products) or '(none)'}",
             f"- product line: {', '.join(applies_to_line(article)) or '(none)'}",
             f"- words: {len(article.text.split())}; H2: {heads[:10]}"]
    if evidence:
        if "reason" in evidence:
            lines.append(f"- FLAG: {evidence['reason']}")
            for group in ("products", "supported", "unknown"):
                rows = [f"{r['product']} ({r['where']})" for r in evidence.get(group, [])]
                lines.append(f"  - {group}: {', '.join(rows[:8]) or '-'}")
        else:
            lines.append(f"- TYPE {kind}: {'; '.join(evidence['signals'])}")
    if kind in ("obsolete", "partly-obsolete"):
        lines += [f"  > {s}" for s in _product_sentences(article)]
    else:
        heads_q, marked = questions(article)
        cves = sorted(set(re.findall(r"CVE-\d{4}-\d{4,}", article.text)))
        lines.append(f"- question headings: {len(heads_q)} {heads_q[:2]}; Q markers: "
                     f"{len(marked)}; CVE ids: {cves[:4]}")
        lines.append(f"  > {article.text[:300]!r}")
    return "\n".join(lines)


def figures(judged: dict[str, Any], samples: dict[str, dict[str, list[str]]]) -> dict[str, Any]:
    """Precision and miss rate from the recorded verdicts; refuses verdicts for other
    samples."""
    out = {}
    for kind in KINDS:
        entry = judged["kinds"].get(kind, {})
        got = {}
        for side in ("flagged", "unflagged"):
            rows = entry.get(side, [])
            ids = [r["id"] for r in rows]
            if ids != samples[kind][side]:
                raise SystemExit(f"{kind} {side}: the judged ids are not this seed's sample")
            right = sum(1 for r in rows if r["verdict"] == "right")
            got[side] = (right, len(rows))
        (fr, fn), (ur, un) = got["flagged"], got["unflagged"]
        out[kind] = {"precision": f"{fr}/{fn}" if fn else "n/a",
                     "miss_rate": f"{un - ur}/{un}" if un else "n/a"}
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpora"
                        / "ms-support")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--judgements", type=Path, default=None,
                        help="verdicts recorded for this seed's samples: print the figures")
    args = parser.parse_args()
    policy = QualityPolicy(lifecycle=load_lifecycle())
    articles, snapshots = load_corpus(args.corpus)
    found = verdicts(articles, snapshots, policy)
    samples = draw(articles, found, args.seed)
    by_id = {a.id: a for a in articles}
    print(f"# Flag precision samples (seed {args.seed}, {len(articles)} articles, each as of "
          "its snapshot date)\n")
    print("counts:", {kind: len(found[kind]) for kind in KINDS})
    bulk = bulk_review_dates((a.last_reviewed for a in articles), policy)
    print("dates of record (shared by >= max(50, 1% of articles)):",
          {d.isoformat(): n for d, n in sorted(bulk.items(), key=lambda kv: -kv[1])},
          f"= {sum(bulk.values())} articles")
    stale = [stale_flag(a, policy, snapshots[a.id], bulk) for a in articles]
    aged = [f for f in stale if f is not None and f.evidence["key"] == "review-age"]
    print(f"stale (as of each snapshot): {len(aged)} past the review limit, "
          f"{sum(1 for f in aged if f.evidence.get('date_of_record'))} of them on a date of "
          "record (a bulk change, not a review)")
    print("products the lifecycle table does not know (articles):",
          unknown_products(articles, policy.lifecycle).most_common(25))
    articles_judged = sum(1 for a in articles if not is_fragment(a))
    for kind in KINDS:
        for side in ("flagged", "unflagged"):
            picked = samples[kind][side]
            of = len(found[kind]) if side == "flagged" else articles_judged - len(found[kind])
            print(f"\n## {kind}: {len(picked)} {side} (of {of})\n")
            for article_id in picked:
                print(describe(by_id[article_id], kind, found[kind].get(article_id),
                               snapshots[article_id]) + "\n")
    for kind, picked in candidates(articles, found, args.seed).items():
        print(f"\n## {kind}: {len(picked)} candidates not typed {kind}\n")
        for article_id in picked:
            print(describe(by_id[article_id], kind, None, snapshots[article_id]) + "\n")
    if args.judgements:
        judged = json.loads(args.judgements.read_text(encoding="utf-8"))
        print(json.dumps(figures(judged, samples), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
