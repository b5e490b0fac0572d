"""Article quality flags: rules that turn articles into :class:`~core.types.Flag` s.

Per-article rules live in ``dates``, ``structure``, ``metadata_rules`` and ``injection``;
whole-KB rules in ``links`` and ``duplicates``; ``rules`` composes them, ``run`` computes and
stores them after an ingest, ``queue`` orders them for owners, ``report`` renders HTML.

The answer stage uses one function from here (whether an article may answer at all is
``core.visibility``'s)::

    stale_info(article, as_of, policy)      # (True, "last reviewed ... days ago") or (False, None)
"""

from ingest.quality.dates import stale_info
from ingest.quality.policy import KINDS, QualityPolicy, policy_from_settings

__all__ = ["KINDS", "QualityPolicy", "policy_from_settings",
           "stale_info"]
