"""The ``metadata`` rules: no owner, no title, values kb cannot read, keys that look like typos,
and (high) access that is unclear: groups or status unreadable or misspelt, which keeps the
article out of service until fixed (``core.visibility``)."""

from __future__ import annotations

from core.types import Article, Flag
from core.visibility import access_problems
from ingest.metadata import access_typos, edit_distance, typo_of
from ingest.quality.flag import make_flag
from ingest.quality.policy import QualityPolicy
from ingest.quality.structure import has_own_title

__all__ = ["edit_distance", "metadata_flags", "typo_of"]

ACCESS_UNCLEAR = "access-unclear"


def access_flag(article: Article) -> Flag | None:
    """One high flag while the article's groups or status cannot be read: nobody but its
    owners and admins sees it, in answers or as a page, until it is fixed."""
    problems = access_problems(article.meta_problems)
    if not problems:
        return None
    return make_flag(article, "metadata", "high",
                     "who may see this article is unclear, so kb hides it from answers and "
                     f"from everyone but owners until fixed: {'; '.join(problems)}",
                     ACCESS_UNCLEAR, problems=list(problems),
                     fields=sorted({p.split(":", 1)[0] for p in problems}))


def metadata_flags(article: Article, policy: QualityPolicy, fragment: bool = False) -> list[Flag]:
    flags: list[Flag] = []
    known = policy.all_known_keys()
    access = access_typos(article.raw_meta, known)  # reported by the access flag
    for key in article.raw_meta:
        meant = typo_of(str(key), known)
        if meant and str(key) not in access:
            flags.append(make_flag(article, "metadata", "medium",
                                   f"front-matter key '{key}' looks like a typo of '{meant}'; "
                                   "kb ignores it", f"typo:{key}", field=str(key),
                                   probably=meant, value=str(article.raw_meta[key])[:200]))
    unclear = access_flag(article)
    if unclear is not None:
        flags.append(unclear)
    if not fragment and not article.owner:
        flags.append(make_flag(article, "metadata", "medium",
                               "no owner: nobody is asked to keep it right", "no-owner"))
    if not fragment and not has_own_title(article):
        flags.append(make_flag(article, "metadata", "low",
                               f"no title: shown as '{article.title}' (from the file name)",
                               "no-title"))
    for problem in article.meta_problems:
        field = problem.split(":", 1)[0]
        if field == "last_reviewed" or problem in access_problems([problem]):
            continue  # the stale rule reports it / the access flag does
        flags.append(make_flag(article, "metadata", "medium", f"unreadable value: {problem}",
                               f"bad-value:{field}", field=field, problem=problem))
    return flags
