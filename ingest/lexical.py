"""The BM25 index over chunks (``bm25s``), with a tokenizer that keeps exact tokens whole.

Error codes (``0x80070005``), KB numbers (``KB3035936``, also found as ``3035936``) and event
ids stay single tokens; words are lower-cased, stop words dropped, plurals folded. The saved
score arrays are ``.npy`` files that :func:`load` memory-maps read-only, so server workers on
one machine share them in the page cache.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
from pathlib import Path

import bm25s

logging.getLogger("bm25s").setLevel(logging.WARNING)

_STOP_WORDS = """a an and are as at be but by can do does for from has have how i if in into
is it its me my not of on or our so that the their then there these this to was we what when
where which while who why will with you your after before get got cant can't dont don't"""
STOP = frozenset(_STOP_WORDS.split())
_WORD = re.compile(r"[a-z0-9]+(?:[.\-_][a-z0-9]+)*")
_PREFIXED_NUMBER = re.compile(r"^([a-z]+)(\d{3,})$")


def _fold(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def tokenize(text: str) -> list[str]:
    tokens: list[str] = []
    for match in _WORD.finditer(text.lower()):
        word = match.group(0)
        parts = re.split(r"[.\-_]", word) if re.search(r"[.\-_]", word) else []
        for token in [word, *parts]:
            if token in STOP or (len(token) < 2 and not token.isdigit()):
                continue
            tokens.append(_fold(token))
            prefixed = _PREFIXED_NUMBER.match(token)
            if prefixed:
                tokens.append(prefixed.group(2))
    return tokens


def build(chunk_ids: list[str], texts: list[str], out_dir: Path, fingerprint: str) -> None:
    """Build and save atomically: a reader sees the old index or the new one, never half."""
    retriever = bm25s.BM25()
    corpus = [tokenize(t) or ["_empty_"] for t in texts]
    if corpus:
        retriever.index(corpus, show_progress=False)
    tmp = out_dir.with_name(out_dir.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    if corpus:
        retriever.save(str(tmp / "bm25"))
    (tmp / "ids.json").write_text(json.dumps({"fingerprint": fingerprint, "ids": chunk_ids}))
    old = out_dir.with_name(out_dir.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if out_dir.exists():
        out_dir.rename(old)
    tmp.rename(out_dir)
    shutil.rmtree(old, ignore_errors=True)


def load(out_dir: Path) -> tuple[bm25s.BM25 | None, list[str], str]:
    """The saved index (score arrays memory-mapped, read-only), its chunk ids and fingerprint."""
    meta = json.loads((out_dir / "ids.json").read_text())
    retriever = bm25s.BM25.load(str(out_dir / "bm25"), mmap=True) if meta["ids"] else None
    return retriever, meta["ids"], meta["fingerprint"]


def load_ids(out_dir: Path) -> list[str]:
    return list(json.loads((out_dir / "ids.json").read_text())["ids"])
