"""Confluence markup as plain HTML: the storage format (REST).

Storage format is what both REST APIs return for ``body.storage``: XHTML whose macros and links
are Confluence elements (``<ac:structured-macro ac:name="code">``, ``<ac:link><ri:page .../>``).
kb's folder ingest reads plain HTML, so macros become their text: code stays code
(``<pre><code class="language-X">``), info/note/tip/warning/panel/expand become a titled
``<div>``, page links become ``<a href>`` to the page, images and attachments their file name,
task lists lists. Parsed with lxml as XML (no DTD, no entities resolved, no network), after
HTML named entities (``&nbsp;``) are turned into characters; broken markup is recovered.

    render_storage('<ac:structured-macro ac:name="code">...', page_url)  # -> '<pre><code ...'

HTML space exports (zip) are read by :mod:`ingest.sources.confluence_export`.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from html.entities import name2codepoint

import lxml.html
from lxml import etree

AC = "http://atlassian.com/content"
RI = "http://atlassian.com/resource/identifier"
AT = "http://atlassian.com/template"

_PREFIXES = {"ac": AC, "ri": RI, "at": AT}
#: (title, space key or None) of a linked page -> its URL (None when it cannot be made)
PageUrl = Callable[[str, str | None], str | None]

KEPT_ATTRS = frozenset({"href", "colspan", "rowspan", "alt", "title", "datetime"})
DROPPED = frozenset({"script", "style", "iframe", "object", "embed", "form", "input", "button"})
VOID = frozenset({"br", "hr", "col", "img", "wbr"})
CALLOUTS = frozenset({"info", "note", "tip", "warning", "panel", "expand", "details", "excerpt",
                      "section", "column", "div", "ui-expand", "ui-tab", "ui-tabs"})
CODE_MACROS = frozenset({"code", "noformat", "code-block"})
_ENTITY = re.compile(r"&([A-Za-z][A-Za-z0-9]*);")
_XML_ENTITIES = frozenset({"amp", "lt", "gt", "quot", "apos"})
_LANGUAGE = re.compile(r"language-[a-z0-9_+#-]+")
_CDATA = re.compile(r"<!\[CDATA\[(.*?)\]\]>", re.S)
_SELF_CLOSING = re.compile(r"<((?:ac|ri|at):[\w-]+)((?:\s[^<>]*?)?)\s*/>")
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _numeric_entities(text: str) -> str:
    """``&nbsp;`` -> ``&#160;``: storage format uses HTML entities that XML does not know."""
    def sub(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in _XML_ENTITIES:
            return match.group(0)
        code = name2codepoint.get(name)
        return f"&#{code};" if code is not None else f"&amp;{name};"
    return _ENTITY.sub(sub, text)


def parse_storage(storage: str) -> etree._Element:
    """The storage XHTML as an element tree under one ``<root>``."""
    parser = etree.XMLParser(recover=True, resolve_entities=False, no_network=True,
                             load_dtd=False, huge_tree=False, remove_comments=True,
                             remove_pis=True)
    inner = _numeric_entities(_NOT_XML.sub("", storage))
    text = f'<root xmlns:ac="{AC}" xmlns:ri="{RI}" xmlns:at="{AT}">{inner}</root>'
    try:
        root = etree.fromstring(text.encode("utf-8"), parser)
    except etree.LxmlError as exc:
        raise ValueError(f"storage format not readable: {exc}") from None
    if root is None or parser.error_log.filter_from_errors():
        return _parse_as_html(inner)  # not well-formed: libxml2's XML recovery drops the rest
    return root


def _parse_as_html(text: str) -> etree._Element:
    """Malformed storage through the forgiving HTML parser, ``ac:``/``ri:`` names put back
    into their namespaces (CDATA, which HTML does not know, escaped first)."""
    text = _CDATA.sub(lambda m: html.escape(m.group(1), quote=False), text)
    text = _SELF_CLOSING.sub(r"<\1\2></\1>", text)  # HTML does not close <ac:x/>
    parser = lxml.html.HTMLParser(no_network=True, remove_comments=True, remove_pis=True)
    root = lxml.html.fragment_fromstring(text, create_parent="div", parser=parser)
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        prefix, _, local = el.tag.rpartition(":")
        if prefix in _PREFIXES:
            el.tag = f"{{{_PREFIXES[prefix]}}}{local}"
        for key in [k for k in el.attrib if ":" in k and k.split(":", 1)[0] in _PREFIXES]:
            value = el.attrib.pop(key)
            ns_prefix, name = key.split(":", 1)
            el.set(f"{{{_PREFIXES[ns_prefix]}}}{name}", value)
    return root


def _local(el: etree._Element) -> tuple[str, str]:
    """(namespace, local name) of an element; ("", "") for comments and the like."""
    if not isinstance(el.tag, str):
        return "", ""
    q = etree.QName(el)
    return q.namespace or "", q.localname.lower()


def _attr(el: etree._Element, ns: str, name: str) -> str | None:
    value = el.get(f"{{{ns}}}{name}")
    return value if value is not None else el.get(name)


def _child(el: etree._Element, ns: str, name: str) -> etree._Element | None:
    return el.find(f"{{{ns}}}{name}")


def text_of(el: etree._Element | None) -> str:
    """All the text inside an element ("" for None)."""
    return "".join(el.itertext()) if el is not None else ""


class StorageRenderer:
    """Renders one page body; ``page_url`` resolves ``ri:page`` links."""

    def __init__(self, page_url: PageUrl) -> None:
        self.page_url = page_url

    def render(self, storage: str) -> str:
        return self.children(parse_storage(storage)).strip()

    def children(self, el: etree._Element) -> str:
        parts = [html.escape(el.text or "", quote=False)]
        for child in el:
            parts.append(self.element(child))
            parts.append(html.escape(child.tail or "", quote=False))
        return "".join(parts)

    def element(self, el: etree._Element) -> str:
        ns, name = _local(el)
        if not name:
            return ""
        if ns == AC:
            return self.ac_element(el, name)
        if ns in (RI, AT):
            return self.children(el)
        if name in DROPPED:
            return ""
        attrs = "".join(f' {k}="{html.escape(v)}"' for k, v in el.attrib.items()
                        if (k in KEPT_ATTRS and not (k == "href" and unsafe_href(v)))
                        or (name == "code" and k == "class" and _LANGUAGE.fullmatch(v)))
        if name in VOID:
            return f"<{name}{attrs}>"
        if name == "time" and el.get("datetime") and not text_of(el).strip():
            return html.escape(el.get("datetime", ""))
        return f"<{name}{attrs}>{self.children(el)}</{name}>"

    def ac_element(self, el: etree._Element, name: str) -> str:
        if name in ("structured-macro", "macro"):
            return self.macro(el)
        if name == "link":
            return self.link(el)
        if name == "image":
            return self.image(el)
        if name == "task-list":
            return f"<ul>{''.join(self.element(t) for t in el)}</ul>"
        if name == "task":
            done = (text_of(_child(el, AC, "task-status")).strip() == "complete")
            body = _child(el, AC, "task-body")
            text = self.children(body if body is not None else el)
            return f"<li>{'[x] ' if done else '[ ] '}{text}</li>"
        if name in ("task-id", "task-status", "task-uuid", "parameter", "placeholder"):
            return ""
        if name == "emoticon":
            return html.escape(_attr(el, AC, "emoji-fallback") or "")
        if name == "adf-extension":
            fallback = _child(el, AC, "adf-fallback")
            return self.children(fallback if fallback is not None else el)
        if name == "plain-text-body":
            return f"<pre>{html.escape(text_of(el), quote=False)}</pre>"
        return self.children(el)  # rich-text-body, layout, inline-comment-marker, ...

    def macro(self, el: etree._Element) -> str:
        name = (_attr(el, AC, "name") or "").lower()
        params = {(_attr(p, AC, "name") or ""): text_of(p)
                  for p in el.findall(f"{{{AC}}}parameter")}
        plain = _child(el, AC, "plain-text-body")
        rich = _child(el, AC, "rich-text-body")
        if name in CODE_MACROS:
            language = re.sub(r"[^A-Za-z0-9_+#-]", "", params.get("language", "")).lower()
            cls = f' class="language-{language}"' if language else ""
            return f"<pre><code{cls}>{html.escape(text_of(plain), quote=False)}</code></pre>"
        body = self.children(rich) if rich is not None else ""
        if name in CALLOUTS or (rich is not None and name not in ("toc", "children")):
            title = params.get("title", "").strip()
            head = f"<p><strong>{html.escape(title, quote=False)}</strong></p>" if title else ""
            return f'<div class="confluence-{html.escape(name)}">{head}{body}</div>'
        if plain is not None:
            return f"<pre>{html.escape(text_of(plain), quote=False)}</pre>"
        if name == "status":
            return html.escape(params.get("title", ""), quote=False)
        if name == "jira":
            return html.escape(params.get("key", ""), quote=False)
        return ""  # toc, children, anchor, attachments...: nothing to answer from

    def link(self, el: etree._Element) -> str:
        body_el = _child(el, AC, "link-body")
        plain = _child(el, AC, "plain-text-link-body")
        label = (self.children(body_el) if body_el is not None
                 else html.escape(text_of(plain), quote=False) if plain is not None else "")
        page = _child(el, RI, "page")
        if page is not None:
            title = _attr(page, RI, "content-title") or ""
            url = self.page_url(title, _attr(page, RI, "space-key")) if title else None
            label = label or html.escape(title, quote=False)
            return f'<a href="{html.escape(url)}">{label}</a>' if url else label
        attachment = _child(el, RI, "attachment")
        if attachment is not None:
            return label or html.escape(_attr(attachment, RI, "filename") or "", quote=False)
        url_el = _child(el, RI, "url")
        href = _attr(url_el, RI, "value") if url_el is not None else None
        if href and not unsafe_href(href):
            return f'<a href="{html.escape(href)}">{label or html.escape(href)}</a>'
        return label

    def image(self, el: etree._Element) -> str:
        alt = _attr(el, AC, "alt") or _attr(el, AC, "title")
        if alt:
            return html.escape(alt, quote=False)
        attachment = _child(el, RI, "attachment")
        if attachment is not None:
            return html.escape(_attr(attachment, RI, "filename") or "", quote=False)
        url_el = _child(el, RI, "url")
        value = (_attr(url_el, RI, "value") or "") if url_el is not None else ""
        return html.escape(value.rsplit("/", 1)[-1].split("?", 1)[0], quote=False)


def unsafe_href(href: str) -> bool:
    """A ``javascript:``, ``data:`` or ``vbscript:`` link, never kept."""
    return href.strip().lower().startswith(("javascript:", "data:", "vbscript:"))


def render_storage(storage: str, page_url: PageUrl) -> str:
    """Storage-format XHTML -> plain HTML (see the module docstring)."""
    return StorageRenderer(page_url).render(storage)
