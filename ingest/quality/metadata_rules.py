"""The ``metadata`` rules: no owner, no title, values kb cannot read, keys that look like typos."""

from __future__ import annotations

from core.types import Article, Flag
from ingest.quality.flag import make_flag
from ingest.quality.policy import QualityPolicy
from ingest.quality.structure import has_own_title


def edit_distance(a: str, b: str) -> int:
    """Optimal-string-alignment distance: insertions, deletions, substitutions, swaps."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, start=1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[-1]


def typo_of(key: str, known: frozenset[str]) -> str | None:
    """The known key this unknown key is probably a misspelling of, or None."""
    lowered = key.strip().lower()
    if lowered in known or lowered.startswith("_"):
        return None
    allowed = 1 if len(lowered) <= 5 else 2
    best = min(known, key=lambda k: (edit_distance(lowered, k), k))
    return best if edit_distance(lowered, best) <= allowed else None


def metadata_flags(article: Article, policy: QualityPolicy, fragment: bool = False) -> list[Flag]:
    flags: list[Flag] = []
    known = policy.all_known_keys()
    for key in article.raw_meta:
        meant = typo_of(str(key), known)
        if meant:
            flags.append(make_flag(article, "metadata", "medium",
                                   f"front-matter key '{key}' looks like a typo of '{meant}'; "
                                   "kb ignores it", f"typo:{key}", field=str(key),
                                   probably=meant, value=str(article.raw_meta[key])[:200]))
    if not fragment and not article.owner:
        flags.append(make_flag(article, "metadata", "medium",
                               "no owner: nobody is asked to keep it right", "no-owner"))
    if not fragment and not has_own_title(article):
        flags.append(make_flag(article, "metadata", "low",
                               f"no title: shown as '{article.title}' (from the file name)",
                               "no-title"))
    for problem in article.meta_problems:
        field = problem.split(":", 1)[0]
        if field == "last_reviewed":
            continue  # the stale rule reports it
        flags.append(make_flag(article, "metadata", "medium", f"unreadable value: {problem}",
                               f"bad-value:{field}", field=field, problem=problem))
    return flags
