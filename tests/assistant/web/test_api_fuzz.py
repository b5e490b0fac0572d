"""The JSON API fuzzed from its own OpenAPI schema by Schemathesis, against a real uvicorn
server on a loopback port (configured as ``kb serve`` configures it), signed in as an admin
with a bearer token: no request may get a 5xx, and every 4xx carries a JSON ``detail``.

Bounded for ``make test``: ``KB_FUZZ_EXAMPLES`` examples per operation (default 30, derandomized
so a run is repeatable); raise it for a longer hunt, e.g. ``KB_FUZZ_EXAMPLES=500``.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from assistant.web.app import create_app
from core.settings import Settings
from ingest.embed import HashingEmbedder
from tests.assistant.web.conftest import serve_app
from tests.assistant.web.fast_app import add_users, build_data_dir, fast_app

pytestmark = pytest.mark.slow
EXAMPLES = int(os.environ.get("KB_FUZZ_EXAMPLES", "30"))
#: (method path, status) -> responses seen; printed at the end of the module (pytest -s)
SEEN: Counter[tuple[str, int]] = Counter()


@pytest.fixture(scope="module")
def fuzz_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict]]:
    """The server's URL and an admin's Authorization header."""
    kb = add_users(build_data_dir(tmp_path_factory.mktemp("web-fuzz")))
    url, server, thread = serve_app(fast_app(kb.data_dir))
    yield url, kb.auth("admin")
    server.should_exit = True
    thread.join(timeout=10)
    print("\nfuzzed responses (operation, status: count):")
    for (operation, status), count in sorted(SEEN.items()):
        print(f"  {operation} {status}: {count}")


def openapi() -> dict[str, Any]:
    """The app's own OpenAPI schema, built without opening anything (no lifespan)."""
    return create_app(Settings(data_dir=Path("unused"), embedder="hashing"),
                      HashingEmbedder()).openapi()


# loaded when the module is collected: Schemathesis's lazy `from_fixture` loader does not run
# under pytest 9 (it sets the item's `_nodeid`, which pytest 9 no longer has)
schema = schemathesis.openapi.from_dict(openapi())


def test_the_fuzzed_schema_is_the_served_one(fuzz_target: tuple[str, dict]) -> None:
    assert httpx.get(f"{fuzz_target[0]}/openapi.json").json() == openapi()


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_api_has_no_5xx_and_every_4xx_says_why(case: Any,
                                                fuzz_target: tuple[str, dict]) -> None:
    response = case.call(base_url=fuzz_target[0], headers=fuzz_target[1], timeout=30)
    SEEN[(f"{case.method} {case.path}", response.status_code)] += 1
    assert response.status_code < 500, (case.as_curl_command(), response.text[:500])
    if response.status_code >= 400:
        assert response.headers.get("content-type", [""])[0].startswith("application/json")
        detail = response.json().get("detail")
        assert isinstance(detail, str) and detail, (case.as_curl_command(), response.text[:500])
