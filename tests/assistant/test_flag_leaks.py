"""What users are shown of flags names only articles they may see (issue 11): a duplicate flag
on a public article names its restricted twin, a broken link names a restricted target; such a
flag is left out for users outside the twin's groups, in the article view (any agent) and in
the review queue (owners), and shown to insiders and admins.

The small KB here (restricted articles carry unique markers in title and body) is also the
one tests/assistant/web/test_permission_matrix.py serves."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from assistant.users import add_user, issue_token
from core.paths import live_index, state_db
from core.settings import Settings
from core.store import state as state_store
from ingest.embed import HashingEmbedder
from ingest.update import update_index
from tests.assistant.helpers import front_matter, write_articles
from tests.assistant.web.fast_app import PASSWORD, FastKb, fast_app

FIN = "ZQX-FINANCE-7731"  # in the finance-only twin's title and body
HR = "ZQX-HR-4410"  # in the hr-only article's title and body
TYPO = "ZQX-TYPO-5520"  # in an article whose groups key is misspelt (access unclear)
MARKERS = (FIN, HR, TYPO)

PUBLIC = "network/vpn-setup.md"
TWIN = "finance/vpn-setup-finance.md"
LINKS = "network/vpn-links.md"
HR_ARTICLE = "hr/leaver-process.md"
UNCLEAR = "finance/payroll-run.md"

_META = {"owner": "net@northwind.example", "category": "Network",
         "last_reviewed": date.today().isoformat(), "status": "published"}
_VPN_STEPS = """\
## Steps

1. Install the Northwind VPN client from the software portal on the company laptop.
2. Open the client, enter vpn.northwind.example as the server and press Connect.
3. Sign in with your network account and approve the prompt on your phone.
4. Wait for the shield icon to turn green before you open internal sites.
5. If the client says the certificate is not trusted, restart the laptop and try again.
"""
LEAK_ARTICLES = {
    PUBLIC: front_matter(title="Set up the company VPN on a laptop", **_META)
    + "# Set up the company VPN on a laptop\n\n" + _VPN_STEPS,
    TWIN: front_matter(title=f"{FIN} Set up the company VPN on a laptop", groups=["finance"],
                       **_META)
    + f"# {FIN} Set up the company VPN on a laptop\n\n" + _VPN_STEPS
    + f"\nFinance vault code {FIN}.\n",
    LINKS: front_matter(title="VPN troubleshooting links", **_META) + """\
# VPN troubleshooting links

## Where to look

See [the finance VPN guide](../finance/vpn-setup-finance.md#no-such-heading) for the vault and
[the public VPN guide](vpn-setup.md) for everyone else. Both explain the client settings.
""",
    # no owner: a flag of its own for the queue
    HR_ARTICLE: front_matter(title=f"{HR} Confidential leaver process", groups=["hr"],
                             **{**_META, "category": "HR", "owner": ""}) + f"""\
# {HR} Confidential leaver process

## Steps

1. Revoke the leaver's badge {HR} on the last working day before noon.
2. Ask the payroll team to stop salary payments after the final month.
3. Archive the leaver's mailbox and hand the files to the line manager.
""",
    UNCLEAR: front_matter(title=f"{TYPO} Monthly payroll run", group=["finance"],
                          **{**_META, "category": "Finance"}) + f"""\
# {TYPO} Monthly payroll run

## Steps

1. Export the timesheets {TYPO} from the HR system on the twentieth.
2. Check the overtime totals against the approved requests.
3. Send the payroll file to the bank before the twenty-fifth.
""",
}

#: user name -> (role, groups)
LEAK_USERS: dict[str, tuple[str, frozenset[str]]] = {
    "agent": ("agent", frozenset()),
    "fin-agent": ("agent", frozenset({"finance"})),
    "hr-agent": ("agent", frozenset({"hr"})),
    "owner": ("owner", frozenset()),
    "fin-owner": ("owner", frozenset({"finance"})),
    "hr-owner": ("owner", frozenset({"hr"})),
    "lead": ("lead", frozenset()),
    "fin-lead": ("lead", frozenset({"finance"})),
    "admin": ("admin", frozenset()),
}


def build_leak_kb(root: Path) -> FastKb:
    """LEAK_ARTICLES ingested with the HashingEmbedder (flags as of today), LEAK_USERS added."""
    source = write_articles(root / "kb", LEAK_ARTICLES)
    data_dir = root / "data"
    update_index(live_index(data_dir), state_db(data_dir), source, HashingEmbedder(),
                 Settings(data_dir=data_dir, embedder="hashing"), date.today())
    with closing(state_store.connect(state_db(data_dir))) as conn:
        for name, (role, groups) in LEAK_USERS.items():
            add_user(conn, name, role, groups, PASSWORD)
        return FastKb(data_dir, {name: issue_token(conn, name) for name in LEAK_USERS})


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, FastKb]]:
    kb = build_leak_kb(tmp_path_factory.mktemp("flag-leaks"))
    with TestClient(fast_app(kb.data_dir), follow_redirects=False) as client:
        yield client, kb


def get(served: tuple[TestClient, FastKb], who: str, path: str) -> Any:
    client, kb = served
    response = client.get(path, headers=kb.auth(who))
    assert response.status_code == 200, response.text[:300]
    return response.json()


def flag_keys(flags: list[dict]) -> set[tuple[str, str, str]]:
    return {(f["article_id"], f["kind"], f["evidence"].get("key", "")) for f in flags}


def test_the_kb_has_the_flags_that_could_leak(served: tuple[TestClient, FastKb]) -> None:
    keys = flag_keys(get(served, "admin", "/api/flags?state=")["items"])
    assert {(PUBLIC, "duplicate", TWIN), (TWIN, "duplicate", PUBLIC),
            (LINKS, "broken-link", "../finance/vpn-setup-finance.md#no-such-heading"),
            (UNCLEAR, "metadata", "access-unclear")} <= keys


@pytest.mark.parametrize("who", ["agent", "hr-agent", "lead", "owner", "hr-owner"])
def test_article_view_flags_name_no_hidden_twin(served: tuple[TestClient, FastKb],
                                                who: str) -> None:
    for article in (PUBLIC, LINKS):
        body = get(served, who, f"/api/articles/{article}")
        text = str(body["flags"])
        assert FIN not in text and TWIN not in text, (who, article, body["flags"])


@pytest.mark.parametrize("who", ["fin-agent", "fin-owner", "admin"])
def test_insiders_see_the_twin_in_the_flags(served: tuple[TestClient, FastKb], who: str) -> None:
    public = get(served, who, f"/api/articles/{PUBLIC}")["flags"]
    assert (PUBLIC, "duplicate", TWIN) in flag_keys(public)
    assert FIN in str(public)
    links = get(served, who, f"/api/articles/{LINKS}")["flags"]
    assert any(f["kind"] == "broken-link" and f["evidence"]["target"] == TWIN for f in links)


@pytest.mark.parametrize("who", ["owner", "hr-owner"])
def test_review_queue_names_no_hidden_twin(served: tuple[TestClient, FastKb], who: str) -> None:
    listed = get(served, who, "/api/flags?state=")
    assert FIN not in str(listed) and TWIN not in str(listed)
    # the rest of the queue stays: the high flag of the article whose groups key is misspelt
    assert (UNCLEAR, "metadata", "access-unclear") in flag_keys(listed["items"])


def test_review_queue_shows_the_twin_to_its_group(served: tuple[TestClient, FastKb]) -> None:
    keys = flag_keys(get(served, "fin-owner", "/api/flags?state=")["items"])
    assert (PUBLIC, "duplicate", TWIN) in keys and (TWIN, "duplicate", PUBLIC) in keys
