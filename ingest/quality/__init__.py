"""Article quality flags: rules that turn articles into :class:`~core.types.Flag` s.

Per-article rules live in ``dates``, ``structure``, ``metadata_rules`` and ``injection``;
whole-KB rules in ``links`` and ``duplicates``; ``rules`` composes them, ``run`` computes and
stores them after an ingest, ``queue`` orders them for owners, ``report`` renders HTML.

The answer stage uses two functions from here::

    is_answerable_status(article, as_of)    # False for draft, retired, expired
    stale_info(article, as_of, policy)      # (True, "last reviewed ... days ago") or (False, None)
"""

from ingest.quality.dates import is_answerable_status, stale_info
from ingest.quality.policy import KINDS, QualityPolicy, policy_from_settings

__all__ = ["KINDS", "QualityPolicy", "is_answerable_status", "policy_from_settings",
           "stale_info"]
