"""Does fine-tuning the embedding model on pairs mined from the KB itself (no labels) help?

Issue 15's lever for paraphrased questions. Pairs: an article's description (boilerplate
stripped) and the first sentence of its Symptoms section, each paired with the article's fix
chunk (first chunk of a Resolution/Solution/Workaround/Method/Steps section, else its first),
as the index embeds it. Training: in-batch negatives (multiple-negatives ranking loss, scale
20), AdamW 2e-5, batch 32, plain PyTorch (sentence-transformers' trainer needs packages kb does
not ship), stopped at a time budget. Then dense-only hit@1 and MRR of the base and adapted models
on the corpus question sets, both over the same candidate pool (the union of each question's
top 100 chunks by the base model and by BM25; re-embedding all 48k chunks takes ~20 min):

    python benchmarks/adapt_probe.py --data-dir DIR_WITH_THE_CORPUS --budget-s 540
    python benchmarks/adapt_probe.py --data-dir DIR --budget-s 540 --hard-negatives

``--hard-negatives`` adds, per pair, the chunk of another article that BM25 ranks first for its
question (the sibling the misses mostly were), as an extra negative in the softmax.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SETS = ("ms_support_dev", "ms_support_honest", "ms_support_long")
FIX = ("resolution", "solution", "workaround", "fix", "method", "steps")


def mine_pairs(index) -> list[tuple[str, str, str]]:  # noqa: ANN001
    """(question-like text, the article's fix chunk as embedded, the article's id)."""
    from assistant.pseudo_questions import _SYMPTOM, _words, from_description
    from core.store import catalog

    titles = {a.id: a.title for a in index.articles}
    chunks: dict[str, list[tuple[int, str, tuple[str, ...]]]] = {}
    for cid, (article_id, position, section, _anchor, _text) in index.chunk_rows.items():
        chunks.setdefault(article_id, []).append((position, cid, tuple(section)))
    pairs = []
    for article in catalog.iter_articles(index.conn):
        own = sorted(chunks.get(article.id, []))
        if not own:
            continue
        fix = next((cid for _, cid, section in own
                    if any(w in " ".join(section).lower() for w in FIX)), own[0][1])
        passage = embed_text(index, titles, index.chunk_row[fix])
        description = article.raw_meta.get("description")
        question = from_description(description) if isinstance(description, str) else None
        if question:
            pairs.append((question, passage, article.id))
        for block in article.blocks:
            if block.kind in ("text", "list_item") and block.section \
                    and _SYMPTOM.search(block.section[0]):
                symptom = _words(" ".join(block.text.split()[:40]), 40)
                if len(symptom.split()) >= 6:
                    pairs.append((symptom, passage, article.id))
                break
    return pairs


def hard_negatives(index, pairs: list[tuple[str, str, str]]) -> list[str]:  # noqa: ANN001
    """For each pair, the chunk of *another* article that BM25 ranks first for its question
    (a sibling the lexical signal confuses with the right one), as the index embeds it."""
    from ingest.lexical import tokenize

    titles = {a.id: a.title for a in index.articles}
    out = []
    for question, _passage, article_id in pairs:
        scores = np.asarray(index.bm25.get_scores(tokenize(question)))
        for row in np.argsort(-scores)[:20]:
            if index.chunk_rows[index.chunk_ids[row]][0] != article_id:
                out.append(embed_text(index, titles, int(row)))
                break
        else:
            out.append(embed_text(index, titles, random.randrange(len(index.chunk_ids))))
    return out


def embed_text(index, titles: dict[str, str], row: int) -> str:  # noqa: ANN001
    """The chunk at ``row`` as the index embedded it."""
    from core.types import embed_text as chunk_embed_text

    article_id, _, section, _, text = index.chunk_rows[index.chunk_ids[row]]
    return chunk_embed_text(titles[article_id], tuple(section), text)


def train(pairs: list[tuple[str, str, str]], out: Path, budget_s: float,
          negatives: list[str] | None = None) -> int:
    import torch
    import torch.nn.functional as F  # noqa: N812
    from sentence_transformers import SentenceTransformer

    from ingest.embed import default_model_path

    model = SentenceTransformer(default_model_path(), device="cpu")
    model.train()
    optimiser = torch.optim.AdamW(model.parameters(), lr=2e-5)
    started, steps, batch_size = time.monotonic(), 0, 32
    for i in range(0, len(pairs) - batch_size + 1, batch_size):
        batch = pairs[i:i + batch_size]
        queries = F.normalize(model(model.tokenize([q for q, _, _ in batch]))["sentence_embedding"])
        texts = [p for _, p, _ in batch] + (negatives[i:i + batch_size] if negatives else [])
        passages = F.normalize(model(model.tokenize(texts))["sentence_embedding"])
        loss = F.cross_entropy(queries @ passages.T * 20.0, torch.arange(len(batch)))
        loss.backward()
        optimiser.step()
        optimiser.zero_grad()
        steps += 1
        if time.monotonic() - started > budget_s:
            break
    model.eval()
    model.save(str(out))
    return steps


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--budget-s", type=float, default=540)
    parser.add_argument("--model-out", type=Path, default=Path("/tmp/kb-adapted-model"))
    parser.add_argument("--hard-negatives", action="store_true",
                        help="add, per pair, another article's chunk that BM25 ranks first")
    args = parser.parse_args()
    from sentence_transformers import SentenceTransformer

    from assistant.service import open_index
    from core.paths import live_index
    from evals.dataset import load_dataset
    from ingest.embed import default_model_path
    from ingest.lexical import tokenize

    index = open_index(live_index(args.data_dir, create=False))
    pairs = mine_pairs(index)
    random.Random(7).shuffle(pairs)
    started = time.monotonic()
    negatives = hard_negatives(index, pairs) if args.hard_negatives else None
    steps = train(pairs, args.model_out, args.budget_s, negatives)
    print(f"{len(pairs)} pairs mined; trained {steps} steps ({steps * 32} pairs) in "
          f"{time.monotonic() - started:.0f} s")
    sets = {n: load_dataset(ROOT / "evals" / "datasets" / f"{n}.jsonl") for n in SETS}
    questions = [q for qs in sets.values() for q in qs]
    base = SentenceTransformer(default_model_path(), device="cpu")
    adapted = SentenceTransformer(str(args.model_out), device="cpu")
    q_base = base.encode([q.question for q in questions], normalize_embeddings=True)
    q_adapted = adapted.encode([q.question for q in questions], normalize_embeddings=True)
    pool: set[int] = set()
    for q, vec in zip(questions, q_base, strict=True):
        pool.update(np.argpartition(-(index.vectors @ vec), 100)[:100].tolist())
        lexical = np.asarray(index.bm25.get_scores(tokenize(q.question)))
        pool.update(np.argpartition(-lexical, 100)[:100].tolist())
    rows = sorted(pool)
    titles = {a.id: a.title for a in index.articles}
    p_adapted = adapted.encode([embed_text(index, titles, r) for r in rows],
                               normalize_embeddings=True, batch_size=64)
    p_base = index.vectors[rows]
    owner = [index.chunk_rows[index.chunk_ids[r]][0] for r in rows]

    def ranked(scores: np.ndarray) -> list[str]:
        out: list[str] = []
        for j in np.argsort(-scores):
            if owner[j] not in out:
                out.append(owner[j])
            if len(out) == 10:
                break
        return out

    position = 0
    for name, qs in sets.items():
        tally: dict[tuple[str, str], list[float]] = {}
        for q in qs:
            qb, qa = q_base[position], q_adapted[position]
            position += 1
            if not q.answerable:
                continue
            for label, got in (("base", ranked(p_base @ qb)), ("adapted", ranked(p_adapted @ qa))):
                rank = next((i for i, a in enumerate(got) if a in q.gold_articles), None)
                for key in ("all", q.style or "-"):
                    t = tally.setdefault((label, key), [0, 0, 0.0])
                    t[0] += 1
                    t[1] += rank == 0
                    t[2] += 1 / (rank + 1) if rank is not None else 0.0
        for key in sorted({k for _, k in tally}):
            b, a = tally[("base", key)], tally[("adapted", key)]
            print(f"{name:18s} {key:10s} n={b[0]:3.0f} dense hit@1 {b[1] / b[0]:.3f} -> "
                  f"{a[1] / a[0]:.3f}  MRR {b[2] / b[0]:.3f} -> {a[2] / a[0]:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
