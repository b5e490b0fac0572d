# ruff: noqa: E501  (long string literals in the article data below)
"""Generate the DOCX and PDF sample articles of the kb sample knowledge base.

The article content lives in ARTICLES below as plain Python data. Running

    .venv/bin/python kb_samples/make_binary_samples.py

(re)writes, next to this script:

* each article as ``.docx`` (python-docx) or ``.pdf`` (fpdf2), and
* its sidecar metadata file ``NAME.meta.yaml``.

Output is deterministic (fixed timestamps, normalised zip entries), so the
generated files can be committed and regenerated without spurious diffs.
PDF text must stay latin-1/ASCII because only the core Helvetica font is used.
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

# Fixed timestamp used for document properties and zip entries.
FIXED_DATE = dt.datetime(2026, 11, 25, 9, 0, 0, tzinfo=dt.UTC)
ZIP_DATE = (2026, 11, 25, 9, 0, 0)

# A block is one of:
#   ("p", "paragraph text")
#   ("ol", ["step 1", "step 2", ...])   numbered steps
#   ("ul", ["item", ...])                bullets
#   ("code", "command line(s)")
# A section is (heading, level, [blocks]).

ARTICLES: list[dict[str, Any]] = [
    {
        "path": "printing/badge-release-printing.docx",
        "meta": {
            "title": "Badge-release printing (FollowMe): print and collect at any printer",
            "owner": "anna.kowalski@northwind.example",
            "products": ["PaperCut MF", "Ricoh IM C3000"],
            "category": "Printing",
            "status": "published",
            "last_reviewed": "2026-09-08",
            "valid_until": "2027-09-08",
            "tags": ["printing", "badge release", "followme", "papercut", "secure print"],
        },
        "subject": "How to print to the FollowMe queue and release jobs with your badge",
        "sections": [
            (
                "Overview",
                2,
                [
                    (
                        "p",
                        "All Northwind offices use secure badge-release printing. You print to one "
                        "queue called FollowMe, walk to any Ricoh printer in any office, tap your "
                        "building badge on the card reader and collect your pages. Jobs that are "
                        "not released within 24 hours are deleted automatically.",
                    ),
                ],
            ),
            (
                "Environment",
                2,
                [
                    (
                        "ul",
                        [
                            "PaperCut MF 23 with the print queue \\\\print01\\FollowMe",
                            "Ricoh IM C3000 and IM C4500 multifunction printers with HID card readers",
                            "Windows 11 laptops (queue installed automatically) and Macs (Jamf)",
                        ],
                    ),
                ],
            ),
            (
                "Steps",
                2,
                [
                    ("p", "Register your badge (first time only):"),
                    (
                        "ol",
                        [
                            "Tap your badge on the card reader of any Ricoh printer.",
                            "The screen says Card not registered. Enter your network username "
                            "(for example jsmith) and password, then press Register.",
                            "Your badge is now linked; you do not need to do this again.",
                        ],
                    ),
                    ("p", "Print and release a document:"),
                    (
                        "ol",
                        [
                            "In the application, choose File > Print and select the printer "
                            "FollowMe on print01. It is set as the default printer on Northwind laptops.",
                            "Check the options: the default is black and white, double-sided. "
                            "Choose Color under Printer Properties if needed.",
                            "At any Ricoh printer, tap your badge on the reader.",
                            "Select the jobs in the Print Release list and press Print. "
                            "Press Print All to release everything.",
                            "Press Log out (or tap your badge again) when you have finished.",
                        ],
                    ),
                ],
            ),
            (
                "Troubleshooting",
                2,
                [
                    (
                        "ul",
                        [
                            "My job is not in the list: check it went to FollowMe and not a direct "
                            "printer, and that you printed less than 24 hours ago. Jobs from home "
                            "only reach the queue when you are connected to VPN.",
                            "Card not recognised after getting a new badge: register again as above; "
                            "the old badge is removed automatically overnight.",
                            "Printing from a phone: use PaperCut Mobility Print from Company Portal, "
                            "then release at the printer as usual.",
                            "Printer shows an error (paper jam, toner): use another printer; your job "
                            "stays in the queue. Report the fault under Printing > Hardware fault "
                            "with the printer asset number on the front label.",
                        ],
                    ),
                ],
            ),
        ],
    },
    {
        "path": "software/office-activation-licence.docx",
        "meta": {
            "title": "Microsoft 365 Apps shows Unlicensed Product or asks to activate",
            "owner": "anna.kowalski@northwind.example",
            "products": ["Microsoft 365 Apps for enterprise", "Microsoft Entra ID"],
            "category": "Software",
            "status": "published",
            "last_reviewed": "2026-07-21",
            "valid_until": "2027-07-21",
            "tags": ["office", "activation", "licence", "unlicensed product", "microsoft 365"],
        },
        "subject": "Fixing Office activation and licence errors",
        "sections": [
            (
                "Symptoms",
                2,
                [
                    (
                        "ul",
                        [
                            "A red bar in Word, Excel or Outlook says Unlicensed Product or "
                            "Product Deactivated, and editing is disabled.",
                            "Sign-in prompt: Sign in to set up Office, appearing every time an app opens.",
                            "Error code 0x4004F00C (grace period) or 0xC004F074 in File > Account.",
                        ],
                    ),
                ],
            ),
            (
                "Environment",
                2,
                [
                    (
                        "ul",
                        [
                            "Microsoft 365 Apps for enterprise, Current Channel, on Windows 11",
                            "Licences assigned by group: LIC-M365-E3 (staff) and LIC-M365-F3 (frontline)",
                        ],
                    ),
                ],
            ),
            (
                "Resolution",
                2,
                [
                    (
                        "ol",
                        [
                            "Open any Office app and go to File > Account. Under Product Information "
                            "check which account is signed in. It must be the user's "
                            "@northwind.example account, not a personal Microsoft account.",
                            "Click Sign out, close all Office apps, reopen Word and sign in again "
                            "with the work account.",
                            "Check the user has a licence: in the Entra admin center, open the user > "
                            "Licenses. They should be a member of LIC-M365-E3. Leavers-returners and "
                            "contractors are often missing from the group.",
                            "Each user can activate Office on at most 5 PCs or Macs. Ask the user to "
                            "sign in to https://portal.office.com/account, open Apps & devices and "
                            "sign out of old devices.",
                            "Check the activation state from an administrator Command Prompt with "
                            'cscript "C:\\Program Files\\Microsoft Office\\Office16\\OSPP.VBS" /dstatus '
                            "and look for LICENSE STATUS: ---LICENSED---.",
                            "If activation still fails, close Office and delete the folder "
                            "%localappdata%\\Microsoft\\Office\\16.0\\Licensing, then sign in again.",
                            "Run the Microsoft Support and Recovery Assistant (in Software Center as "
                            "Microsoft SaRA) with the Office activation scenario, and attach its log "
                            "to the ticket if escalating to Software-L2.",
                        ],
                    ),
                ],
            ),
            (
                "Cause",
                2,
                [
                    (
                        "p",
                        "Office is signed in with the wrong account, the licence group "
                        "membership was removed (for example after a contract renewal), or the "
                        "5-device activation limit was reached.",
                    ),
                ],
            ),
        ],
    },
    {
        "path": "collaboration/meeting-room-system.docx",
        "meta": {
            "title": "Using and fixing the Teams Rooms system in meeting rooms",
            "owner": "tom.becker@northwind.example",
            "products": ["Microsoft Teams Rooms", "Logitech Tap", "Logitech Rally Bar"],
            "category": "Collaboration",
            "status": "published",
            "last_reviewed": "2026-10-12",
            "valid_until": "2027-10-12",
            "tags": ["meeting room", "teams rooms", "video conferencing", "logitech", "hdmi"],
        },
        "subject": "Joining meetings, sharing content and basic fixes for Teams Rooms",
        "sections": [
            (
                "Overview",
                2,
                [
                    (
                        "p",
                        "Bookable meeting rooms with a screen (for example LDN-2-Thames or "
                        "KRK-0-Wisla) have a Microsoft Teams Rooms system: a Logitech Rally Bar "
                        "camera and speaker above the screen and a Logitech Tap touch console on "
                        "the table. The room joins meetings that include the room as a resource.",
                    ),
                ],
            ),
            (
                "Steps",
                2,
                [
                    ("h3", "Join a meeting"),
                    (
                        "ol",
                        [
                            "Book the room by adding it to the Teams or Outlook meeting invitation "
                            "(Add a room or Room finder).",
                            "On the Tap console, press Join next to the meeting in the room's calendar.",
                            "For a meeting the room was not invited to, press Join with an ID and "
                            "enter the meeting ID and passcode from the invitation.",
                            "Zoom meetings: press Join with an ID and choose Zoom. Direct Guest Join "
                            "is enabled for Zoom and Webex.",
                        ],
                    ),
                    ("h3", "Share your laptop screen"),
                    (
                        "ol",
                        [
                            "Plug in the HDMI cable on the table, or join the meeting from your laptop "
                            "with audio turned off and select Share.",
                            "To avoid echo, keep your laptop microphone and speaker off when you are "
                            "in the room (choose Room audio when joining).",
                        ],
                    ),
                ],
            ),
            (
                "Troubleshooting",
                2,
                [
                    (
                        "ul",
                        [
                            "Screen says No signal: press Input on the screen remote and choose HDMI 1.",
                            "Console shows Signed out or a red banner: restart the system from the "
                            "console via More > Settings > Restart device, or switch off the power "
                            "socket labelled MTR under the table for 30 seconds.",
                            "Remote participants hear an echo: make sure nobody in the room has "
                            "joined with laptop audio on.",
                            "Camera is not framing people: on the console choose Camera controls and "
                            "turn on Auto framing.",
                        ],
                    ),
                    (
                        "p",
                        "If the room is still not working, call the service desk on ext. 4357 "
                        "(option 3) and log the ticket under Collaboration > Meeting rooms with "
                        "the room name. Rooms used for board meetings are P2.",
                    ),
                ],
            ),
        ],
    },
    {
        "path": "software/software-center-install-fails.pdf",
        "meta": {
            "title": "Software Center installation fails (0x87D00607, 0x80070643)",
            "owner": "raj.patel@northwind.example",
            "products": ["Microsoft Configuration Manager", "Software Center", "Windows 11"],
            "category": "Software",
            "status": "published",
            "last_reviewed": "2026-08-18",
            "valid_until": "2027-08-18",
            "tags": ["software center", "install failed", "0x87D00607", "0x80070643", "sccm"],
        },
        "subject": "Troubleshooting failed installations from Software Center",
        "sections": [
            (
                "Symptoms",
                2,
                [
                    (
                        "p",
                        "In Software Center the application shows Failed or Past due - will be "
                        "retried, with an error code under Installation status, for example:",
                    ),
                    (
                        "ul",
                        [
                            "0x87D00607 - content not found (cannot download the installer)",
                            "0x80070643 - fatal error during installation (MSI)",
                            "0x87D00324 - the application was not detected after installation",
                            "0x87D01106 - the installer returned an unexpected exit code",
                        ],
                    ),
                ],
            ),
            (
                "Environment",
                2,
                [
                    (
                        "p",
                        "Windows 11 laptops managed by Configuration Manager (co-managed with "
                        "Intune). Content comes from office distribution points or, off-site, "
                        "through the cloud management gateway.",
                    ),
                ],
            ),
            (
                "Resolution",
                2,
                [
                    (
                        "ol",
                        [
                            "Restart the laptop and retry the install from Software Center > "
                            "Installation status > Retry.",
                            "Refresh the client policies: open Control Panel > Configuration Manager > "
                            "Actions, select Machine Policy Retrieval & Evaluation Cycle and click "
                            "Run Now. Repeat for Application Deployment Evaluation Cycle.",
                            "For 0x87D00607, check internet access and free disk space (the client "
                            "cache needs at least 10 GB free), then retry. Large packages such as "
                            "AutoCAD download faster in the office.",
                            "For 0x80070643, close all open applications, make sure no other install "
                            "or Windows Update is running, reboot and retry.",
                            "Check the logs in C:\\Windows\\CCM\\Logs: AppEnforce.log shows the "
                            "install command and exit code, CAS.log and ContentTransferManager.log "
                            "show download problems.",
                            "If the error is 0x87D00324 or 0x87D01106, escalate to Software-L2 with "
                            "AppEnforce.log attached: the package needs repairing, not the laptop.",
                        ],
                    ),
                ],
            ),
            (
                "Cause",
                2,
                [
                    (
                        "p",
                        "Download failures, an installer blocked by another running "
                        "installation, or an incorrect detection rule in the package.",
                    ),
                ],
            ),
        ],
    },
    {
        "path": "onboarding/new-hire-checklist.pdf",
        "meta": {
            "title": "New starter IT checklist for managers",
            "owner": "helen.marsh@northwind.example",
            "products": ["Workday", "ServiceNow", "Microsoft Entra ID", "Intune"],
            "category": "Onboarding",
            "status": "published",
            "last_reviewed": "2026-05-05",
            "valid_until": "2027-05-05",
            "tags": ["new starter", "new hire", "onboarding", "joiner", "checklist", "laptop"],
        },
        "subject": "What managers and IT do before and on a new starter's first day",
        "sections": [
            (
                "Overview",
                2,
                [
                    (
                        "p",
                        "This checklist helps line managers make sure a new starter has a "
                        "working laptop, account and access on day one. The account is created "
                        "automatically from Workday; equipment and access must be requested.",
                    ),
                ],
            ),
            (
                "Before the first day",
                2,
                [
                    (
                        "ol",
                        [
                            "10 working days before the start date: HR completes the hire in Workday. "
                            "The account (first.last@northwind.example) is created 5 working days "
                            "before the start date.",
                            "Request equipment in the IT portal under Onboarding > New starter "
                            "equipment. The standard laptop is a Dell Latitude 5450 with a WD19S dock "
                            "and headset; building a laptop takes 5 working days.",
                            "Request a mobile phone only if the role needs one "
                            "(Onboarding > Mobile phone).",
                            "Request access to shared folders and business applications now, so "
                            "approvals are done before day one (Access > Shared folder access and "
                            "Access > Application access).",
                            "Tell the service desk the desk location if the starter needs a fixed "
                            "desk phone.",
                        ],
                    ),
                ],
            ),
            (
                "On the first day",
                2,
                [
                    (
                        "ol",
                        [
                            "The starter collects the laptop from the IT Bar (London 2nd floor, "
                            "Krakow ground floor) from 09:30, or it is couriered to remote starters.",
                            "IT gives the starter a Temporary Access Pass, valid for 8 hours, to sign "
                            "in for the first time.",
                            "The starter sets up Microsoft Authenticator and registers for self-service "
                            "password reset at https://aka.ms/mysecurityinfo.",
                            "The starter enrols their phone in Company Portal if they will use work "
                            "email on it.",
                            "The starter completes the Information Security Essentials course in the "
                            "LMS within 14 days; accounts are suspended if it is overdue by 30 days.",
                        ],
                    ),
                ],
            ),
            (
                "Common problems",
                2,
                [
                    (
                        "ul",
                        [
                            "Account not created: the Workday hire was not completed. HR must finish "
                            "it; IT cannot create accounts manually.",
                            "Temporary Access Pass expired: call the service desk on ext. 4357 for "
                            "a new one.",
                        ],
                    ),
                ],
            ),
        ],
    },
    {
        "path": "backup/onedrive-known-folder-backup.pdf",
        "meta": {
            "title": "Backing up your laptop: Desktop, Documents and Pictures in OneDrive",
            "owner": "li.wei@northwind.example",
            "products": ["OneDrive", "Windows 11"],
            "category": "Storage",
            "status": "published",
            "last_reviewed": "2026-04-14",
            "valid_until": "2027-04-14",
            "tags": ["backup", "onedrive", "known folder move", "restore", "laptop backup"],
        },
        "subject": "How laptop files are backed up and how to restore them",
        "sections": [
            (
                "Overview",
                2,
                [
                    (
                        "p",
                        "Northwind laptops are not backed up as a whole. Instead, the Desktop, "
                        "Documents and Pictures folders are redirected to OneDrive (Known Folder "
                        "Move) by policy, so anything saved there is stored in the cloud and "
                        "follows you to a new laptop. Files saved elsewhere on the C: drive, "
                        "such as C:\\Data or Downloads, are NOT backed up.",
                    ),
                ],
            ),
            (
                "Check that backup is on",
                2,
                [
                    (
                        "ol",
                        [
                            "Click the OneDrive cloud icon in the taskbar, then Settings (gear) > "
                            "Settings > Sync and back up > Manage back up.",
                            "Desktop, Documents and Pictures should all show On. If one is off, turn "
                            "it on and click Start back up.",
                            "In File Explorer, files with a green tick or cloud icon are stored in "
                            "OneDrive.",
                        ],
                    ),
                ],
            ),
            (
                "Restore files",
                2,
                [
                    (
                        "ol",
                        [
                            "Deleted a file: open https://northwind-my.sharepoint.com, choose Recycle "
                            "bin. Deleted files are kept for 93 days.",
                            "Older version of a document: right-click the file in File Explorer > "
                            "OneDrive > Version history, and choose Restore.",
                            "Many files damaged or encrypted (for example by ransomware): in OneDrive "
                            "on the web choose Settings > Restore your OneDrive, pick a date up to 30 "
                            "days ago, and confirm. Call the service desk first if you suspect malware.",
                        ],
                    ),
                ],
            ),
            (
                "Notes",
                2,
                [
                    (
                        "ul",
                        [
                            "Outlook .pst files cannot be stored in OneDrive; use the online archive "
                            "instead.",
                            "Error Folder cannot be backed up because it contains a file type that "
                            "cannot be synced: move .pst files and files over 250 GB out of the folder.",
                            "Before returning or replacing a laptop, check the OneDrive icon shows Up "
                            "to date.",
                        ],
                    ),
                ],
            ),
        ],
    },
]

META_ORDER = [
    "title",
    "owner",
    "groups",
    "products",
    "category",
    "status",
    "last_reviewed",
    "valid_until",
    "url",
    "tags",
]


def _yaml_scalar(value: str) -> str:
    needs_quotes = (
        ": " in value
        or " #" in value
        or any(c in value for c in "[]{},\"'")
        or (value[:1] in "!&*|>%@`-?:#")
        or value != value.strip()
    )
    if needs_quotes:
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return value


def sidecar_text(meta: dict[str, Any]) -> str:
    lines = []
    for key in META_ORDER:
        if key not in meta:
            continue
        value = meta[key]
        if isinstance(value, list):
            lines.append(f"{key}: [" + ", ".join(_yaml_scalar(v) for v in value) + "]")
        else:
            lines.append(f"{key}: {_yaml_scalar(str(value))}")
    return "\n".join(lines) + "\n"


def article_text(article: dict[str, Any]) -> str:
    """Plain-text rendering of an article (used by evals validation)."""
    parts = [article["meta"]["title"]]
    for heading, _level, blocks in article["sections"]:
        parts.append(heading)
        for _kind, content in blocks:
            if isinstance(content, list):
                parts.extend(content)
            else:
                parts.append(content)
    return "\n".join(parts)


# --------------------------------------------------------------------- DOCX


def _restart_numbering(doc: Any, paragraph: Any) -> None:
    """Give `paragraph` (List Number style) a fresh numbering instance starting at 1."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    numbering = doc.part.numbering_part.element
    style = doc.styles["List Number"]
    style_numpr = style.element.pPr.numPr
    base_num_id = style_numpr.numId.val
    abstract_id = None
    for num in numbering.findall(qn("w:num")):
        if int(num.get(qn("w:numId"))) == base_num_id:
            abstract_id = num.find(qn("w:abstractNumId")).get(qn("w:val"))
    if abstract_id is None:
        return
    existing = [int(n.get(qn("w:numId"))) for n in numbering.findall(qn("w:num"))]
    new_id = max(existing) + 1
    num = OxmlElement("w:num")
    num.set(qn("w:numId"), str(new_id))
    abstract = OxmlElement("w:abstractNumId")
    abstract.set(qn("w:val"), abstract_id)
    num.append(abstract)
    override = OxmlElement("w:lvlOverride")
    override.set(qn("w:ilvl"), "0")
    start = OxmlElement("w:startOverride")
    start.set(qn("w:val"), "1")
    override.append(start)
    num.append(override)
    numbering.append(num)

    p_pr = paragraph._p.get_or_add_pPr()
    num_pr = OxmlElement("w:numPr")
    ilvl = OxmlElement("w:ilvl")
    ilvl.set(qn("w:val"), "0")
    num_id = OxmlElement("w:numId")
    num_id.set(qn("w:val"), str(new_id))
    num_pr.append(ilvl)
    num_pr.append(num_id)
    p_pr.append(num_pr)


def _normalise_zip(data: bytes) -> bytes:
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for name in sorted(src.namelist(), key=lambda n: (n != "[Content_Types].xml", n)):
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            dst.writestr(info, src.read(name))
    return out.getvalue()


def write_docx(article: dict[str, Any], target: Path) -> None:
    import docx
    from docx.shared import Pt

    meta = article["meta"]
    doc = docx.Document()
    props = doc.core_properties
    props.title = meta["title"]
    props.author = meta.get("owner", "")
    props.last_modified_by = meta.get("owner", "")
    props.category = meta.get("category", "")
    props.keywords = ", ".join(meta.get("tags", []))
    props.subject = article.get("subject", "")
    props.comments = "Northwind IT knowledge base sample article"
    props.created = FIXED_DATE.replace(tzinfo=None)
    props.modified = FIXED_DATE.replace(tzinfo=None)
    props.revision = 1

    doc.add_heading(meta["title"], level=1)
    for heading, level, blocks in article["sections"]:
        doc.add_heading(heading, level=level)
        for kind, content in blocks:
            if kind == "p":
                doc.add_paragraph(content)
            elif kind == "h3":
                doc.add_heading(content, level=3)
            elif kind == "ol":
                for i, step in enumerate(content):
                    para = doc.add_paragraph(step, style="List Number")
                    if i == 0:
                        _restart_numbering(doc, para)
            elif kind == "ul":
                for item in content:
                    doc.add_paragraph(item, style="List Bullet")
            elif kind == "code":
                para = doc.add_paragraph()
                run = para.add_run(content)
                run.font.name = "Consolas"
                run.font.size = Pt(9)
            else:
                raise ValueError(kind)

    buffer = io.BytesIO()
    doc.save(buffer)
    target.write_bytes(_normalise_zip(buffer.getvalue()))


# ---------------------------------------------------------------------- PDF


def write_pdf(article: dict[str, Any], target: Path) -> None:
    from fpdf import FPDF

    meta = article["meta"]
    pdf = FPDF(format="A4")
    pdf.set_creation_date(FIXED_DATE)
    pdf.set_title(meta["title"])
    pdf.set_author(meta.get("owner", ""))
    pdf.set_subject(article.get("subject", ""))
    pdf.set_keywords(", ".join(meta.get("tags", [])))
    pdf.set_creator("kb_samples/make_binary_samples.py")
    pdf.set_auto_page_break(auto=True, margin=18)
    pdf.set_margins(20, 20, 20)
    pdf.add_page()

    def text(s: str) -> str:
        s.encode("latin-1")  # fail loudly on non latin-1 characters
        return s

    pdf.set_font("Helvetica", "B", 18)
    pdf.multi_cell(0, 9, text(meta["title"]), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    pdf.set_font("Helvetica", "", 9)
    pdf.multi_cell(
        0,
        5,
        text(
            f"Owner: {meta.get('owner', '')}  |  Category: {meta.get('category', '')}  |  "
            f"Last reviewed: {meta.get('last_reviewed', '')}"
        ),
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.ln(3)

    for heading, level, blocks in article["sections"]:
        pdf.ln(2)
        pdf.set_font("Helvetica", "B", 14 if level <= 2 else 12)
        pdf.multi_cell(0, 8, text(heading), new_x="LMARGIN", new_y="NEXT")
        for kind, content in blocks:
            if kind == "p":
                pdf.set_font("Helvetica", "", 11)
                pdf.multi_cell(0, 6, text(content), new_x="LMARGIN", new_y="NEXT")
                pdf.ln(1)
            elif kind == "h3":
                pdf.set_font("Helvetica", "B", 12)
                pdf.multi_cell(0, 7, text(content), new_x="LMARGIN", new_y="NEXT")
            elif kind in ("ol", "ul"):
                pdf.set_font("Helvetica", "", 11)
                for i, item in enumerate(content, start=1):
                    marker = f"{i}." if kind == "ol" else "-"
                    pdf.set_x(pdf.l_margin + 2)
                    pdf.cell(8, 6, marker)
                    pdf.multi_cell(0, 6, text(item), new_x="LMARGIN", new_y="NEXT")
                pdf.ln(1)
            elif kind == "code":
                pdf.set_font("Courier", "", 9)
                pdf.multi_cell(0, 5, text(content), new_x="LMARGIN", new_y="NEXT")
                pdf.ln(1)
            else:
                raise ValueError(kind)

    pdf.output(str(target))


def main() -> None:
    for article in ARTICLES:
        target = HERE / article["path"]
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.suffix == ".docx":
            write_docx(article, target)
        elif target.suffix == ".pdf":
            write_pdf(article, target)
        else:
            raise ValueError(article["path"])
        sidecar = target.with_suffix(".meta.yaml")
        sidecar.write_text(sidecar_text(article["meta"]), encoding="utf-8")
        print(f"wrote {target.relative_to(HERE)} and {sidecar.name}")


if __name__ == "__main__":
    main()
