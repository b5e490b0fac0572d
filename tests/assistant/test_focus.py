"""Passages read as steps (code whole), and answers kept to the question's own case."""

from __future__ import annotations

from assistant.focus import case_labels, elements, focus, lead, steps, units

VPN = """1. Check the basics: the user has working internet.
2. **Error 809** - the hotel network is blocking UDP 500/4500 (IKEv2).
  - Ask the user to try a phone hotspot.
  - Switch the profile to SSTP.
3. **Error 691** - the password is wrong or expired.
4. **Error 13801** - the device certificate is missing. Run:
```cmd
gpupdate /force
certutil -pulse
```
5. After any change, flush DNS and retry:
```cmd
ipconfig /flushdns
```"""


def test_code_blocks_are_one_element_verbatim_and_closed() -> None:
    text = "Run this:\n  ```powershell\n  $e = $_.Properties[1].Value\n  Get-Item x\n  ```\nDone."
    assert elements(text) == ["Run this:",
                              "```powershell\n$e = $_.Properties[1].Value\nGet-Item x\n```",
                              "Done."]
    assert elements("```\nnet stop bits") == ["```\nnet stop bits\n```"]  # cut off: closed


def test_steps_gather_nested_lines_and_code_under_their_step() -> None:
    grouped = steps(VPN)
    assert [g[0][:2] for g in grouped] == ["1.", "2.", "3.", "4.", "5."]
    assert grouped[1][1:] == ["  - Ask the user to try a phone hotspot.",
                              "  - Switch the profile to SSTP."]
    assert grouped[3][1] == "```cmd\ngpupdate /force\ncertutil -pulse\n```"


def test_units_keep_steps_and_code_whole_and_split_long_paragraphs() -> None:
    long_step = "1. " + "Open the tray and remove every sheet. " * 8
    paragraph = ("The spooler stops when a job is corrupt. " * 4
                 + "Delete the job. Restart the spooler service.").strip()
    assert len(long_step) > 200 and len(paragraph) > 200
    assert units([long_step, "  - a nested bullet", "```\nnet stop spooler\n```", paragraph]) \
        == [long_step.strip(), "  - a nested bullet", "```\nnet stop spooler\n```",
            "The spooler stops when a job is corrupt.",
            "The spooler stops when a job is corrupt.",
            "The spooler stops when a job is corrupt.",
            "The spooler stops when a job is corrupt.", "Delete the job.",
            "Restart the spooler service."]


def test_leads_and_which_of_them_name_cases() -> None:
    labels = [lead(g[0]) for g in steps(VPN)]
    assert labels == ["Check the basics", "Error 809", "Error 691", "Error 13801",
                      "After any change, flush DNS and retry"]
    assert case_labels(labels) == [None, "Error 809", "Error 691", "Error 13801", None]
    # a family by its first word, without digits
    assert case_labels(["Method one", "Method two", "Restart"]) == ["Method one",
                                                                     "Method two", None]
    assert lead("Plain sentence without a label.") is None


def test_focus_keeps_the_named_case_and_the_general_steps() -> None:
    labels = [lead(g[0]) for g in steps(VPN)]
    chosen = focus("VPN fails with error 809 at a hotel", labels)
    assert chosen.named and chosen.keep == [True, True, False, False, True]


def test_focus_keeps_everything_when_no_case_or_every_case_is_named() -> None:
    labels = [lead(g[0]) for g in steps(VPN)]
    assert focus("vpn will not connect", labels).keep == [True] * 5
    assert not focus("error 809 691 13801", labels).named
    # "error" is in every lead: it names no case
    assert not focus("vpn error", labels).named


def test_a_label_shared_by_several_steps_is_one_label_not_a_family() -> None:
    """Three steps under one sub-section share its label: that makes no family of cases."""
    labels = ["Request access"] * 2 + ["Agent: grant the permission"] * 3 + ["User: see it"]
    assert case_labels(labels) == [None] * 6
    assert not focus("give someone send as on the mailbox", labels).named


def test_alternatives_keep_the_first_unless_the_question_names_one() -> None:
    labels = ["Method 1: Use the registry", "Method 1: Use the registry",
              "Method 2: Use Group Policy", None]
    assert focus("mapped drives disconnect", labels).keep == [True, True, False, True]
    assert focus("can I do it with group policy", labels).keep == [False, False, True, True]
