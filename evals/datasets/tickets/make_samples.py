"""Writes the sample ticket exports about kb_samples/ (run from the repo root):

    .venv/bin/python evals/datasets/tickets/make_samples.py

``kb_samples_servicenow.csv`` (ServiceNow incident CSV, UTF-8 with a BOM, multi-line quoted
descriptions), ``kb_samples_jira.json`` (Jira REST search shape, the same tickets under Jira
keys, some descriptions in Atlassian Document Format) and ``kb_samples_topics.json`` (each
ticket's intended topic: ``covered:<article id>`` or ``uncovered:<topic>``, to score coverage
and clusters against). 52 tickets: 29 answerable by kb_samples, 19 in four topics the KB does
not cover (expense receipts, laptop batteries, new Teams/SharePoint sites, Adobe Acrobat),
4 one-offs (one about the retired AnyConnect client).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

HERE = Path(__file__).parent

# (topic, category, subcategory, assignment group, short description, description)
TICKETS = [
    # --- answerable by kb_samples ---
    ("covered:network/vpn-cannot-connect.md", "Network", "VPN", "Network Operations",
     "VPN error 809 when connecting from home",
     "Since this morning the Northwind VPN fails with error 809.\nI am working from home on my "
     "laptop, the internet works fine."),
    ("covered:network/vpn-cannot-connect.md", "Network", "VPN", "Network Operations",
     "VPN will not connect, error 691",
     "User gets error 691 when connecting to the VPN. Password was changed last week."),
    ("covered:network/vpn-disconnects-frequently.txt", "Network", "VPN", "Network Operations",
     "VPN drops every few minutes",
     "The VPN connection keeps dropping every 5-10 minutes on hotel Wi-Fi, Teams calls cut out."),
    # the AnyConnect article is retired: kb must not answer from it
    ("uncovered:other", "Network", "VPN", "Service Desk",
     "How do I install Cisco AnyConnect on my laptop?",
     "New contractor needs to install and connect with AnyConnect."),
    ("covered:accounts/account-locked-out.md", "Access", "Account", "Service Desk",
     "Account keeps getting locked out",
     "My account is locked out again, third time today. I reset my password on Monday, "
     "I think my phone still has the old password."),
    ("covered:accounts/account-locked-out.md", "Access", "Account", "Service Desk",
     "Repeated lockouts, event 4740",
     "Security log shows event ID 4740 for user jdoe every hour. Account locked out repeatedly."),
    ("covered:accounts/password-reset-self-service.md", "Access", "Password", "Service Desk",
     "Forgot my password",
     "I forgot my Windows password and cannot log in, how do I reset it myself?"),
    ("covered:accounts/mfa-new-phone-authenticator.md", "Access", "MFA", "Service Desk",
     "New phone - move Microsoft Authenticator",
     "I got a new iPhone and need to move the Microsoft Authenticator app to it."),
    ("covered:accounts/mfa-prompts-not-received.html", "Access", "MFA", "Service Desk",
     "MFA push notifications not arriving",
     "I don't get the Authenticator push notification on my phone when signing in."),
    ("covered:email/mailbox-full.md", "Email", "Mailbox", "Messaging",
     "Mailbox full, cannot send",
     "Outlook says \"Your mailbox is almost full\" and I cannot send emails any more."),
    ("covered:email/outlook-search-not-working.md", "Email", "Outlook", "Messaging",
     "Outlook search returns no results",
     "Searching in Outlook returns no results for emails I know are there."),
    ("covered:email/shared-mailbox-access.md", "Email", "Mailbox", "Messaging",
     "Access to the finance shared mailbox",
     "Please give me access to the shared mailbox accounts-payable@ and show it in Outlook."),
    ("covered:email/out-of-office-setup.md", "Email", "Outlook", "Service Desk",
     "Set out of office for a colleague on sick leave",
     "Manager asks to set up automatic replies for an employee who is off sick."),
    ("covered:email/outlook-profile-rebuild.md", "Email", "Outlook", "Messaging",
     "Outlook keeps asking for password",
     "Outlook keeps prompting for my password and will not open, it hangs on \"Loading profile\"."),
    ("covered:printing/print-queue-stuck.txt", "Hardware", "Printer", "End User Computing",
     "Print jobs stuck in queue",
     "Documents stay in the print queue with status \"Error - Printing\", nothing comes out."),
    ("covered:printing/add-network-printer.md", "Hardware", "Printer", "Service Desk",
     "Add the printer on floor 3",
     "How do I add the network printer on the third floor to my laptop?"),
    ("covered:printing/badge-release-printing.docx", "Hardware", "Printer", "Service Desk",
     "FollowMe printing - job not released with badge",
     "I printed to FollowMe but when I tap my badge at the printer my job is not there."),
    ("covered:storage/onedrive-sync-issues.md", "Software", "OneDrive", "End User Computing",
     "OneDrive not syncing, red X",
     "OneDrive shows a red X and \"sync pending\" on my Documents folder, error 0x8004de40."),
    ("covered:storage/restore-deleted-file.md", "Storage", "File share", "End User Computing",
     "Restore a deleted file on the S: drive",
     "I deleted an Excel file on the department share yesterday, can it be restored?"),
    ("covered:storage/map-network-drive.md", "Storage", "File share", "Service Desk",
     "Map the H: drive",
     "My H: drive is missing after the laptop was replaced, how do I map it again?"),
    ("covered:collaboration/teams-audio-camera-problems.md", "Software", "Teams",
     "Collaboration", "Others cannot hear me in Teams",
     "In Teams meetings nobody can hear me, my headset microphone works in other apps."),
    ("covered:collaboration/teams-audio-camera-problems.md", "Software", "Teams",
     "Collaboration", "Camera not working in Teams",
     "Camera shows a black image in Teams calls."),
    ("covered:endpoint/bitlocker-recovery-key.md", "Hardware", "Laptop", "End User Computing",
     "Laptop asks for BitLocker recovery key",
     "After a BIOS update my laptop asks for the BitLocker recovery key at startup."),
    ("covered:endpoint/windows-update-errors.md", "Software", "Windows", "End User Computing",
     "Windows Update fails with 0x80070005",
     "Windows Update keeps failing with error 0x80070005, tried restarting twice."),
    ("covered:endpoint/docking-station-monitors.html", "Hardware", "Docking station",
     "End User Computing", "External monitors not working on dock",
     "My two external monitors stay black when I plug the laptop into the docking station."),
    ("covered:endpoint/usb-storage-blocked.md", "Hardware", "Laptop", "Service Desk",
     "USB stick blocked",
     "My USB memory stick is blocked, I need to copy files for a customer presentation."),
    ("covered:software/software-center-install-fails.pdf", "Software", "Install",
     "End User Computing", "Software Center install fails 0x87D00607",
     "Installing from Software Center fails with 0x87D00607."),
    ("covered:software/office-activation-licence.docx", "Software", "Office", "Service Desk",
     "Office says Unlicensed Product",
     "Word and Excel show \"Unlicensed Product\" in the title bar and ask me to activate."),
    ("covered:network/wifi-guest-access.txt", "Network", "Wi-Fi", "Service Desk",
     "Guest Wi-Fi for a visitor",
     "A visitor tomorrow needs Wi-Fi access, how do they get a guest code?"),
    ("covered:mobile/mobile-device-enrolment.md", "Mobile", "Phone", "End User Computing",
     "Work email on my new Android phone",
     "How do I enrol my phone in Intune Company Portal to get work email?"),
    # --- not covered: expense receipts (SAP Concur) ---
    ("uncovered:expenses", "Software", "Concur", "Finance Applications",
     "Concur receipt upload fails",
     "When I upload a receipt photo in the Concur app it says \"upload failed\". Expense "
     "report is due Friday."),
    ("uncovered:expenses", "Software", "Concur", "Finance Applications",
     "Expense report stuck in approval",
     "My Concur expense report has been \"pending approval\" for three weeks, my manager left "
     "the company."),
    ("uncovered:expenses", "Software", "Concur", "Finance Applications",
     "Cannot attach receipts to expense report",
     "Receipts emailed to receipts@concur.com do not show up in my Concur expense report."),
    ("uncovered:expenses", "Software", "Concur", "Finance Applications",
     "Concur mobile app login error",
     "The Concur mobile app will not log in with SSO, it loops back to the login page, so I "
     "cannot photograph my receipts."),
    ("uncovered:expenses", "Software", "Concur", "Finance Applications",
     "Corporate card transactions missing in Concur",
     "My corporate card transactions from last month are missing in Concur, I cannot file "
     "my expenses."),
    # --- not covered: laptop battery ---
    ("uncovered:battery", "Hardware", "Laptop", "End User Computing",
     "Laptop battery not charging",
     "Laptop shows \"plugged in, not charging\", battery at 12%."),
    ("uncovered:battery", "Hardware", "Laptop", "End User Computing",
     "Battery swollen, touchpad lifting",
     "The battery of my laptop looks swollen, the touchpad is pushed up and the case bends."),
    ("uncovered:battery", "Hardware", "Laptop", "End User Computing",
     "Battery drains very fast",
     "My laptop battery lasts only about one hour now, it used to last a full day."),
    ("uncovered:battery", "Hardware", "Laptop", "End User Computing",
     "Need a replacement laptop charger",
     "My laptop charger (USB-C, 65 W) stopped working, the battery is almost empty. "
     "Can I get a replacement power adapter?"),
    ("uncovered:battery", "Hardware", "Laptop", "End User Computing",
     "Battery health warning",
     "Windows warns \"consider replacing your battery\". Laptop is 3 years old."),
    # --- not covered: new Teams team / SharePoint site ---
    ("uncovered:new-site", "Software", "SharePoint", "Collaboration",
     "Request a new SharePoint site for our project",
     "We need a SharePoint site for the Atlas project with a document library for 15 people."),
    ("uncovered:new-site", "Software", "Teams", "Collaboration",
     "Create a new Teams team for the marketing department",
     "Please create a Microsoft Teams team for Marketing EMEA, owners: Anna Müller and "
     "José García."),
    ("uncovered:new-site", "Software", "SharePoint", "Collaboration",
     "New SharePoint site with external sharing",
     "Can you set up a SharePoint site that we can share with an external partner company?"),
    ("uncovered:new-site", "Software", "Teams", "Collaboration",
     "Create a Teams team and channels for a new project",
     "Requesting a Teams team with channels General, Design and Finance for the new "
     "warehouse project."),
    ("uncovered:new-site", "Software", "SharePoint", "Collaboration",
     "Archive old SharePoint site and create new one",
     "Our department SharePoint site is outdated, please archive it and create a new site."),
    # --- not covered: Adobe Acrobat ---
    ("uncovered:acrobat", "Software", "Adobe", "End User Computing",
     "Adobe Acrobat asks to sign in",
     "Adobe Acrobat Pro asks me to sign in with an Adobe ID and then says I have no licence "
     "to edit PDFs."),
    ("uncovered:acrobat", "Software", "Adobe", "End User Computing",
     "Cannot edit PDF in Acrobat",
     "The Edit PDF tool in Adobe Acrobat is greyed out, I need to change a contract PDF."),
    ("uncovered:acrobat", "Software", "Adobe", "End User Computing",
     "Acrobat crashes when opening PDFs",
     "Adobe Acrobat crashes every time I open a PDF from Outlook attachments."),
    ("uncovered:acrobat", "Software", "Adobe", "End User Computing",
     "Adobe Acrobat licence for new starter",
     "New starter in legal needs an Adobe Acrobat Pro licence to edit and sign PDFs."),
    # --- one-offs ---
    ("uncovered:other", "Hardware", "Peripherals", "Service Desk",
     "Privacy screen filter for laptop",
     "I work on the train a lot, can I get a privacy screen filter for my 14 inch laptop?"),
    ("uncovered:other", "Inquiry", "General", "Service Desk",
     "Change my display name",
     "I got married and my surname changed, please update my display name in the address book."),
    ("uncovered:other", "Hardware", "Peripherals", "Service Desk",
     "Ergonomic keyboard",
     "My doctor recommends a split ergonomic keyboard, how can I order one?"),
]
CLOSE_NOTES = {"covered": "Resolved with the KB article steps.", "uncovered": "Resolved by L2."}


def opened(n: int) -> str:
    month = 9 + n % 3
    return f"2026-{month:02d}-{1 + (n * 7) % 27:02d} {8 + n % 9:02d}:{(n * 13) % 60:02d}:00"


def resolved(n: int) -> str:
    day, time = opened(n).split(" ")
    return f"{day} {int(time[:2]) + 3:02d}{time[2:]}"


def write_servicenow(path: Path) -> None:
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        out = csv.writer(f)
        out.writerow(["number", "short_description", "description", "category", "subcategory",
                      "assignment_group", "opened_at", "resolved_at", "close_notes"])
        for n, (topic, cat, sub, group, short, desc) in enumerate(TICKETS, start=1):
            out.writerow([f"INC00{10000 + n}", short, desc, cat, sub, group, opened(n),
                          resolved(n), CLOSE_NOTES[topic.split(":")[0]]])


def adf(text: str) -> dict:
    """Jira Cloud's Atlassian Document Format (REST v3) for plain paragraphs."""
    return {"type": "doc", "version": 1, "content": [
        {"type": "paragraph", "content": [{"type": "text", "text": line}]}
        for line in text.split("\n")]}


def write_jira(path: Path) -> None:
    issues = []
    for n, (_topic, cat, sub, group, short, desc) in enumerate(TICKETS, start=1):
        day, time = opened(n).split(" ")
        fields = {"summary": short, "description": adf(desc) if n % 4 == 0 else desc,
                  "components": [{"name": cat}, {"name": sub}],
                  "labels": [group.lower().replace(" ", "-")],
                  "created": f"{day}T{time}.000+0000",
                  "resolutiondate": f"{resolved(n).replace(' ', 'T')}.000+0000"}
        issues.append({"id": str(20000 + n), "key": f"ITSD-{100 + n}", "fields": fields})
    doc = {"expand": "schema,names", "startAt": 0, "maxResults": len(issues),
           "total": len(issues), "issues": issues}
    path.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def write_topics(path: Path) -> None:
    topics = {}
    for n, (topic, *_rest) in enumerate(TICKETS, start=1):
        topics[f"INC00{10000 + n}"] = topics[f"ITSD-{100 + n}"] = topic
    path.write_text(json.dumps(topics, indent=1, sort_keys=True) + "\n", encoding="utf-8")


if __name__ == "__main__":
    write_servicenow(HERE / "kb_samples_servicenow.csv")
    write_jira(HERE / "kb_samples_jira.json")
    write_topics(HERE / "kb_samples_topics.json")
