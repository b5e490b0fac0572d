"""kb_samples/ with the real model: exactly its deliberate defects are flagged (its README)."""

from __future__ import annotations

from datetime import date

import pytest

from core.store import state as state_store
from ingest.quality.lifecycle import load_lifecycle
from ingest.quality.policy import QualityPolicy
from ingest.quality.run import refresh_flags
from ingest.run import IngestOptions, ingest_folder
from tests.ingest.helpers import KB_SAMPLES

#: kb_samples/README.md "Deliberate defects", as (article, kind, key); reference date 2026-11-25
EXPECTED = {
    ("network/wifi-guest-access.txt", "stale", "review-age"),
    ("mobile/desk-phone-voicemail.txt", "stale", "review-age"),
    ("printing/add-network-printer.md", "stale", "review-age"),
    ("storage/onedrive-sync-issues.md", "stale", "no-review-date"),
    ("network/vpn-certificate-change-june-2026.md", "expired", "valid-until"),
    ("email/mailbox-full.md", "expiring", "valid-until"),
    ("endpoint/ie11-enterprise-mode.md", "obsolete", "products"),
    # Windows 10 (retired 2025-10-14) next to a print server the lifecycle table does not know;
    # its steps are Windows 10's Settings path (issue 15: unknown products are not "supported")
    ("printing/add-network-printer.md", "partly-obsolete", "products"),
    ("endpoint/usb-storage-blocked.md", "unstructured", "no-sections"),
    ("endpoint/usb-storage-blocked.md", "unstructured", "wall-of-text"),
    ("accounts/password-reset-self-service.md", "duplicate", "accounts/reset-your-password.md"),
    ("accounts/reset-your-password.md", "duplicate", "accounts/password-reset-self-service.md"),
    ("storage/restore-deleted-file.md", "broken-link", "../storage/recycle-bin-retention.md"),
    ("endpoint/laptop-slow-performance.md", "metadata", "no-owner"),
    ("email/outlook-search-not-working.md", "unstructured", "missing-sections"),
    ("email/out-of-office-setup.md", "metadata", "typo:ownr"),
    ("email/out-of-office-setup.md", "metadata", "no-owner"),
    ("accounts/mfa-prompts-not-received.html", "suspicious-instructions", "hidden-text"),
}


@pytest.mark.integration
def test_kb_samples_defects_and_nothing_else(tmp_path, index, real_embedder):
    ingest_folder(KB_SAMPLES, index.conn, index.collection, real_embedder, index.paths.bm25,
                  IngestOptions())
    state = state_store.connect(tmp_path / "state.sqlite")
    run = refresh_flags(index.conn, index.collection, state, QualityPolicy(
        lifecycle=load_lifecycle()), date(2026, 11, 25))
    assert {(f.article_id, f.kind, f.evidence["key"]) for f in run.flags} == EXPECTED
    rewrite = next(f for f in run.flags if f.kind == "duplicate")
    assert rewrite.evidence["match"] == "rewrite"  # paraphrased: similarity ~0.86
    assert run.seconds < 10
