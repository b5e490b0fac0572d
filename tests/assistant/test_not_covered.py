"""What an agent gets when kb cannot answer, and what a cited article's flags tell them:
related articles only above a floor, the configured next step, access gaps kept apart from
content gaps (and never revealed), trust signals on citations, answers focused on the case."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from assistant.answer import NOT_COVERED, Escalation
from assistant.review_queue import open_report_flag
from assistant.service import Assistant, ask
from assistant.types import Answer, Citation, Viewer
from assistant.usage import get_answer, log_answer, record_report
from core.store import catalog
from tests.assistant.helpers import REFERENCE_DATE, RESTRICTED, gap_questions, with_state

pytestmark = pytest.mark.integration
OUTSIDER = Viewer()
FIREWALL = "network/firewall-change-request.md"  # security-team only
FIREWALL_QUESTION = "how do I request a firewall rule change to open a port"


def gaps(state) -> list[tuple[str, str]]:  # noqa: ANN001
    return [tuple(r) for r in state.execute("SELECT question, reason FROM gaps ORDER BY id")]


def test_a_question_only_a_hidden_article_answers_is_an_access_gap_told_as_not_covered(
        sample_assistant: Assistant, tmp_path: Path) -> None:
    assert RESTRICTED[FIREWALL] == "security-team"
    kb = with_state(sample_assistant, tmp_path / "state.sqlite")
    member = ask(kb, FIREWALL_QUESTION, Viewer(frozenset({"security-team"})), REFERENCE_DATE)
    assert member.answered and member.citations[0].article_id == FIREWALL
    answer = ask(kb, FIREWALL_QUESTION, OUTSIDER, REFERENCE_DATE, asked_by="agent7")
    assert (answer.answered, answer.answer) == (False, NOT_COVERED)
    shown = answer.answer + repr(answer.related) + repr(answer.other_cases)
    assert FIREWALL not in shown and "irewall change" not in shown
    assert gaps(kb.state) == [(FIREWALL_QUESTION, "access")]
    ask(kb, "what is the recipe for sourdough bread", OUTSIDER, REFERENCE_DATE)
    assert gaps(kb.state)[-1] == ("what is the recipe for sourdough bread", "not_covered")
    assert gap_questions(kb.state) == [FIREWALL_QUESTION, "what is the recipe for sourdough bread"]


def test_not_covered_gives_the_configured_next_step_and_no_noise(
        sample_assistant: Assistant, tmp_path: Path) -> None:
    kb = replace(with_state(sample_assistant, tmp_path / "state.sqlite"),
                 escalation=Escalation("Assign to Service Desk L2",
                                       {"network": "Assign to Network-L2"}))
    bread = ask(kb, "what is the recipe for sourdough bread", OUTSIDER, REFERENCE_DATE)
    assert (bread.answered, bread.related, bread.escalation) == (
        False, (), "Assign to Service Desk L2")
    network = ask(kb, "what is the recipe for sourdough bread",
                  Viewer(category="Network"), REFERENCE_DATE)
    assert network.escalation == "Assign to Network-L2"
    assert replace(kb, escalation=Escalation()).escalation.line("network") is None


def test_a_reported_article_carries_the_report_on_its_citation(
        sample_assistant: Assistant, tmp_path: Path) -> None:
    kb = with_state(sample_assistant, tmp_path / "state.sqlite")
    first = ask(kb, "VPN fails with error 809 at a hotel", OUTSIDER, REFERENCE_DATE)
    assert first.answered and all(c.warning is None for c in first.citations)
    vpn = first.citations[0].article_id
    cite = Citation(1, vpn, "t", "Resolution", "/a", None, False, "s")
    logged = get_answer(kb.state, log_answer(kb.state, Answer("q", True, "a [1]", 0.9, (cite,)),
                                              "agent"))
    assert logged is not None
    record_report(kb.state, logged, vpn, "outdated", "SSTP is gone", "agent")
    article = catalog.get_article(kb.index.conn, vpn)
    assert article is not None
    open_report_flag(kb.state, article, "outdated", "agent", "SSTP is gone")
    again = ask(kb, "VPN fails with error 809 at a hotel", OUTSIDER, REFERENCE_DATE)
    warned = {c.article_id: c.warning for c in again.citations}
    assert warned[vpn] is not None
    assert warned[vpn].startswith("Reported outdated by an agent on ")
    assert warned[vpn].endswith(", under review")


def test_an_error_code_question_is_answered_with_its_own_case_first(
        sample_assistant: Assistant) -> None:
    answer = ask(sample_assistant, "VPN fails with error 809 at a hotel", OUTSIDER,
                 REFERENCE_DATE, record=False)
    assert answer.answered and answer.citations[0].article_id == "network/vpn-cannot-connect.md"
    steps = [line for line in answer.answer.split("\n") if line[:2].rstrip(".").isdigit()]
    assert "Error 809" in steps[0]
    assert not any(code in answer.answer for code in ("Error 691", "Error 812", "Error 13801"))
    assert {c["title"] for c in answer.other_cases} == {"Error 691", "Error 812", "Error 13801"}
    sections = [(c.article_id, c.section) for c in answer.citations]
    assert len(sections) == len(set(sections))  # one citation per cited section
