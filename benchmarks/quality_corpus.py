"""Quality flags on the real corpus, each article judged as of its own snapshot date.

Reads an index of ../shared/corpora/ms-support (run on a copy: Chroma may write to its folder),
computes every flag with kb's default policy (date rules as of each article's
``snapshot_date`` from the manifest), and reports: counts per kind and per sub-kind, the time it
took, the two checks of the issue (every article without an H2 carries an unstructured flag;
every ``ms.reviwer`` typo carries a metadata flag), and random samples of 20 flagged and 20
unflagged articles for obsolete, unstructured and duplicate, with what is needed to judge them
by reading (written to ``--samples``).

    python benchmarks/quality_corpus.py --data-dir /tmp/msflags \\
        --corpus ../shared/corpora/ms-support --out benchmarks/results/quality_corpus.json \\
        --samples benchmarks/results/quality_samples.md
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter
from datetime import date
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SAMPLED_KINDS = ("obsolete", "partly-obsolete", "unstructured", "duplicate")


def snapshot_dates(corpus: Path) -> dict[str, date]:
    out = {}
    for line in (corpus / "manifest.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        out[row["article_path"]] = date.fromisoformat(row["snapshot_date"][:10])
    return out


def compute(data_dir: Path, corpus: Path) -> tuple[list, list, dict, float]:
    from core.paths import live_index
    from core.store import catalog
    from ingest.quality.dates import bulk_review_dates, date_flags
    from ingest.quality.duplicates import article_vectors
    from ingest.quality.lifecycle import load_lifecycle
    from ingest.quality.policy import DATE_KINDS, QualityPolicy
    from ingest.quality.rules import kb_flags
    from ingest.quality.run import declared_anchors
    from ingest.vectors import open_collection

    paths = live_index(data_dir, create=False)
    conn = catalog.open_readonly(paths.catalog)
    started = time.perf_counter()
    articles = list(catalog.iter_articles(conn))
    chunks = catalog.chunk_articles(conn)
    vectors = article_vectors(open_collection(paths.chroma), chunks)
    policy = QualityPolicy(lifecycle=load_lifecycle())
    snaps = snapshot_dates(corpus)
    latest = max(snaps.values())
    anchors = declared_anchors([("", corpus)], articles)
    flags = [f for f in kb_flags(articles, vectors, policy, latest, anchors)
             if f.kind not in DATE_KINDS]
    bulk = bulk_review_dates((a.last_reviewed for a in articles), policy)
    for article in articles:
        flags += date_flags(article, policy, snaps.get(article.path, latest), bulk)
    return articles, flags, vectors, time.perf_counter() - started


def checks(corpus: Path, articles: list, flags: list) -> dict:
    manifest = [json.loads(x) for x in (corpus / "manifest.jsonl").read_text().splitlines()]
    unstructured = {f.article_id for f in flags if f.kind == "unstructured"}
    by_path = {a.path: a.id for a in articles}
    no_h2 = [r["article_path"] for r in manifest if not r["h2_sections"]]
    missed = [p for p in no_h2 if by_path.get(p) not in unstructured]
    typos = [a.id for a in articles if any(str(k).lower() == "ms.reviwer" for k in a.raw_meta)]
    typo_flagged = {f.article_id for f in flags if f.evidence.get("key") == "typo:ms.reviwer"}
    return {"no_h2_articles": len(no_h2), "no_h2_without_unstructured_flag": missed,
            "ms_reviwer_articles": len(typos),
            "ms_reviwer_without_flag": sorted(set(typos) - typo_flagged)}


def nearest(article_id: str, vectors: dict, by_id: dict) -> str:
    """The most similar other article, its cosine similarity and shared words."""
    from ingest.quality.duplicates import overlap, shingles

    if article_id not in vectors:
        return "(no vector)"
    ids = [i for i in vectors if i != article_id]
    sims = np.vstack([vectors[i] for i in ids]) @ vectors[article_id]
    best = ids[int(np.argmax(sims))]
    shared, _ = overlap(shingles(by_id[article_id].text), shingles(by_id[best].text))
    return f"{best} ('{by_id[best].title}'): similarity {sims.max():.3f}, {shared:.0%} words"


def describe(article, flags: list, kind: str, near: str | None = None) -> str:
    """What a reader needs to judge ``kind`` for this article."""
    heads = [b.text for b in article.blocks if b.kind == "heading" and b.level == 2]
    lines = [f"### {article.id}", f"- title: {article.title}",
             f"- products: {', '.join(article.products) or '(none)'}",
             f"- words: {len(article.text.split())}; H2: {heads[:12]}"]
    if near:
        lines.append(f"- nearest: {near}")
    for flag in flags:
        if flag.kind == kind:
            lines.append(f"- FLAG {flag.evidence.get('key')}: {flag.reason}")
    return "\n".join(lines)


def samples(articles: list, flags: list, vectors: dict, seed: int) -> str:
    rng = random.Random(seed)
    by_article: dict[str, list] = {}
    for flag in flags:
        by_article.setdefault(flag.article_id, []).append(flag)
    out = [f"# Quality flag samples (seed {seed})\n"]
    for kind in SAMPLED_KINDS:
        flagged = sorted({f.article_id for f in flags if f.kind == kind})
        clean = sorted(a.id for a in articles if a.id not in set(flagged))
        by_id = {a.id: a for a in articles}
        for label, pool in (("flagged", flagged), ("not flagged", clean)):
            picked = rng.sample(pool, min(20, len(pool)))
            out.append(f"\n## {kind}: {len(picked)} of {len(pool)} {label}\n")
            out += [describe(by_id[i], by_article.get(i, []), kind,
                             nearest(i, vectors, by_id) if kind == "duplicate" else None) + "\n"
                    for i in picked]
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--corpus", type=Path, default=ROOT / ".." / "shared" / "corpora"
                        / "ms-support")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results"
                        / "quality_corpus.json")
    parser.add_argument("--samples", type=Path, default=None)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    articles, flags, vectors, seconds = compute(args.data_dir, args.corpus)
    kinds = Counter(f.kind for f in flags)
    subkinds = Counter(f"{f.kind}/{str(f.evidence.get('key', '')).split(':')[0]}"
                       for f in flags if f.kind not in ("duplicate", "broken-link"))
    flagged_articles = Counter()
    for kind in kinds:
        flagged_articles[kind] = len({f.article_id for f in flags if f.kind == kind})
    report = {
        "command": " ".join(["python", *sys.argv]),
        "articles": len(articles), "flags": len(flags), "seconds": round(seconds, 1),
        "flags_per_kind": dict(sorted(kinds.items())),
        "articles_per_kind": dict(sorted(flagged_articles.items())),
        "flags_per_subkind": dict(sorted(subkinds.items())),
        "duplicate_pairs": kinds["duplicate"] // 2,
        "checks": checks(args.corpus, articles, flags),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    if args.samples:
        args.samples.write_text(samples(articles, flags, vectors, args.seed), encoding="utf-8")
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
