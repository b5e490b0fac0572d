"""What the quality rules consider acceptable: one frozen :class:`QualityPolicy`, built from
Settings at the entry point and passed to every rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from core.settings import Settings
from core.types import Article
from ingest.metadata import known_keys
from ingest.quality.lifecycle import LifecycleEntry, load_lifecycle

SEVERITIES = ("high", "medium", "low")
KINDS = ("suspicious-instructions", "expired", "expiring", "stale", "obsolete", "partly-obsolete",
         "broken-link", "duplicate", "metadata", "unstructured")
#: kinds whose truth depends on the reference date; recomputed for ``--as-of``
DATE_KINDS = frozenset({"stale", "expiring", "expired", "obsolete", "partly-obsolete"})

#: section groups a required-sections rule can name, with the headings that count for each
#: (compared after lower-casing, dropping punctuation and a plural "s"): a heading counts when it
#: starts with one of them, or contains one of the phrases of two words or more. An
#: introduction of 15 words or more before the first heading counts as the "issue" section.
SECTION_SYNONYMS: dict[str, tuple[str, ...]] = {
    "issue": ("issue", "symptom", "problem", "error", "error message", "summary",
              "description", "scenario", "the issue", "the problem", "what happen",
              "observed behavior", "issue description", "symptoms and cause",
              "why did i get"),
    "resolution": ("resolution", "solution", "fix", "workaround", "resolve", "resolving",
                   "how to fix", "how to resolve", "to resolve", "to fix", "steps", "step",
                   "procedure", "what to do", "resolution step", "mitigation", "method",
                   "troubleshooting step", "troubleshooting", "more information", "action",
                   "status", "how do i fix", "how can i fix", "fix it", "fix this", "remediation"),
    "cause": ("cause", "root cause", "why this happen", "reason"),
    "steps": ("steps", "step", "procedure", "instructions", "how to", "method"),
    # FAQs: also met by headings or lines phrased as questions, or Q:/QUESTION markers
    "question": ("question", "faq", "frequently asked question", "common question", "q a",
                 "questions and answer"),
    # bulletins and advisories: "affected" is also met by an applies-to list or line
    "affected": ("affected product", "affected software", "affected version",
                 "affected component", "affected system", "affected platform", "applies to",
                 "who is affected", "products affected", "vulnerable version",
                 "impacted product", "affected"),
    "remediation": ("remediation", "resolution", "solution", "fix", "mitigation", "workaround",
                    "security update", "update", "patch", "recommended action",
                    "recommendation", "what should i do", "what to do", "action", "steps",
                    "how to get", "status"),
}

#: the article types kb knows, and the sections each needs (``KB_REQUIRED_SECTIONS`` replaces
#: this table; an FAQ or a bulletin it does not list is then not judged at all, never judged
#: as a troubleshooting article)
DEFAULT_REQUIRED_SECTIONS: dict[str, tuple[str, ...]] = {
    "troubleshooting": ("issue", "resolution"),
    "faq": ("question",),
    "bulletin": ("affected", "remediation"),
}


@dataclass(frozen=True)
class QualityPolicy:
    """Thresholds and lists the rules apply; defaults are kb's documented policy."""

    stale_days: int = 365
    stale_days_by_category: Mapping[str, int] = field(default_factory=dict)
    stale_days_by_product: Mapping[str, int] = field(default_factory=dict)
    expiring_days: int = 30
    required_sections: Mapping[str, tuple[str, ...]] = field(
        default_factory=lambda: dict(DEFAULT_REQUIRED_SECTIONS))
    wall_of_text_words: int = 250
    min_article_words: int = 50
    max_article_words: int = 5000
    duplicate_similarity: float = 0.90
    duplicate_overlap: float = 0.45
    known_meta_keys: frozenset[str] = frozenset()
    lifecycle: tuple[LifecycleEntry, ...] = ()
    #: a review date shared by at least this share of the KB's articles, and by at least
    #: ``bulk_review_min`` of them, is a date of record (a migration, a bulk edit), not a review
    bulk_review_share: float = 0.01
    bulk_review_min: int = 50

    def stale_limit(self, article: Article) -> tuple[int, str]:
        """Days allowed since the last review, and where that limit comes from.

        The strictest matching override wins: category (case-insensitive), then any product.
        """
        limits: list[tuple[int, str]] = []
        by_cat = {k.lower(): v for k, v in self.stale_days_by_category.items()}
        if article.category and article.category.lower() in by_cat:
            limits.append((by_cat[article.category.lower()], f"category {article.category}"))
        by_prod = {k.lower(): v for k, v in self.stale_days_by_product.items()}
        for product in article.products:
            if product.lower() in by_prod:
                limits.append((by_prod[product.lower()], f"product {product}"))
        if not limits:
            return self.stale_days, "default"
        return min(limits)

    def all_known_keys(self) -> frozenset[str]:
        return known_keys(more=self.known_meta_keys)


def section_alternatives(required: str) -> tuple[str, ...]:
    """``"issue"`` -> its synonyms; ``"a|b"`` -> exactly those headings."""
    if "|" in required or required.lower() not in SECTION_SYNONYMS:
        return tuple(p.strip().lower() for p in required.split("|") if p.strip())
    return SECTION_SYNONYMS[required.lower()]


def policy_from_settings(settings: Settings) -> QualityPolicy:
    """Build the policy from Settings, reading the lifecycle table (kb's plus the user's file)."""
    required = {k.lower(): tuple(v) for k, v in settings.required_sections.items()}
    return QualityPolicy(
        stale_days=settings.stale_days,
        stale_days_by_category=dict(settings.stale_days_by_category),
        stale_days_by_product=dict(settings.stale_days_by_product),
        expiring_days=settings.expiring_days,
        bulk_review_share=settings.bulk_review_share,
        bulk_review_min=settings.bulk_review_min,
        required_sections=required or dict(DEFAULT_REQUIRED_SECTIONS),
        wall_of_text_words=settings.wall_of_text_words,
        min_article_words=settings.min_article_words,
        max_article_words=settings.max_article_words,
        duplicate_similarity=settings.duplicate_similarity,
        duplicate_overlap=settings.duplicate_overlap,
        known_meta_keys=frozenset(settings.known_meta_keys),
        lifecycle=load_lifecycle(settings.lifecycle_file))
