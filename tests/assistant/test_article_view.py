"""Articles as sanitised HTML sections whose anchors are the chunks' anchors."""

from __future__ import annotations

from assistant.article_view import render_sections, sanitize
from core.types import Article, Block
from ingest.chunk import chunk_article


def article(*blocks: Block) -> Article:
    return Article("a.md", "a.md", "Title", tuple(blocks), "hash")


def test_sections_follow_headings_with_chunk_anchors() -> None:
    a = article(Block("text", "Lead paragraph."),
                Block("heading", "Fix it: step 2!", ("Fix it: step 2!",), 2),
                Block("list_item", "Open **Settings**.", ("Fix it: step 2!",), 0, True),
                Block("list_item", "Run `gpupdate /force`.", ("Fix it: step 2!",), 0, True),
                Block("code", "if a < b:\n    print('<ok>')", ("Fix it: step 2!",)))
    sections = render_sections(a)
    assert [s.anchor for s in sections] == ["", "fix-it-step-2"]
    assert {c.anchor for c in chunk_article(a)} == {"", "fix-it-step-2"}
    assert sections[0].html == "<p>Lead paragraph.</p>"
    assert sections[1].html == (
        "<ol><li>Open **Settings**.</li><li>Run <code>gpupdate /force</code>."
        "</li></ol><pre class=\"code\"><code>if a &lt; b:\n    print('&lt;ok&gt;')</code></pre>")
    assert sections[1].heading == "Fix it: step 2!" and sections[1].level == 2


def test_markup_in_articles_is_text_not_html() -> None:
    a = article(Block("text", 'See <script>alert(1)</script> <img src=x onerror="alert(2)"> '
                              "[link](javascript:alert(3)) and [docs](https://example.com)."))
    html = render_sections(a)[0].html
    assert "<script" not in html and "<img" not in html and 'href="javascript' not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    # block text is plain text (the loader resolved the source's markup): a Markdown link or
    # emphasis in it is shown as written, never turned into a link
    assert "[link](javascript:alert(3)) and [docs](https://example.com)." in html
    assert "<a" not in html


def test_sanitize_drops_event_handlers_and_unknown_tags() -> None:
    dirty = '<p onclick="x()">hi<iframe src="/"></iframe><a href="javascript:x()">a</a></p>'
    assert sanitize(dirty) == '<p>hi<a rel="noopener noreferrer">a</a></p>'
