"""The ``suspicious-instructions`` rule: text that talks to an AI model, or hides from people.

Article text is shown to a language model when kb answers, so an article that says "ignore
previous instructions", or hides text from human readers (``display:none`` in HTML), is flagged.
"""

from __future__ import annotations

import re

from core.types import Article, Flag
from ingest.quality.flag import make_flag

_AI = (r"(?:ai(?: model| assistant| language model)?|a\.i\.|large language model|language model"
       r"|llm|chat ?bot|chatgpt|gpt(?:-?\d)?)")
PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(rx, re.I)) for name, rx in (
        ("ignore instructions",
         r"\b(?:ignore|disregard|forget|override)\s+(?:any\s+|the\s+|your\s+|of\s+)*"
         r"(?:all\s+)?(?:(?:the|your)\s+)?(?:previous|prior|above|earlier|preceding|former|system"
         r"|original)\s+(?:instructions|prompts?|rules|directions|guidelines|context)\b"),
        ("addresses an AI", rf"\b(?:you are|you're|act as|acting as|pretend to be) (?:now )?"
                            rf"(?:an? |the )?{_AI}\b"),
        ("addresses an AI", r"\bas an ai(?: language)? model\b"),
        ("addresses an AI", rf"\b(?:to|attention|note to|message for) (?:any |the )?{_AI}s?"
                            rf" (?:reading|processing|summari[sz]ing|answering)\b"),
        ("prompt vocabulary", r"\b(?:system prompt|new instructions\s*:|do anything now"
                              r"|prompt injection)"),
        ("hides from the user", r"\bdo not (?:tell|reveal|mention|show) (?:this|these instructions)"
                                r" (?:to )?(?:the )?(?:user|agent|customer|human)\b"),
        ("chat role markers",
         r"(?:<\|?(?:system|im_start|im_end)\|?>|\[/?INST\]|^\s*###\s*system\b)"),
    ))


def _snippet(text: str, start: int, end: int) -> str:
    return re.sub(r"\s+", " ", text[max(0, start - 60):end + 60]).strip()


def _matches(texts: list[tuple[str, str]]) -> list[dict[str, str]]:
    found = []
    for section, text in texts:
        for name, pattern in PATTERNS:
            hit = pattern.search(text)
            if hit:
                found.append({"rule": name, "section": section,
                              "text": _snippet(text, hit.start(), hit.end())})
    return found


def injection_flags(article: Article) -> list[Flag]:
    """One flag for hidden text (with any instructions in it), one for visible instructions."""
    flags: list[Flag] = []
    hidden = [str(h) for h in article.raw_meta.get("_hidden_text") or []]
    squashed = [re.sub(r"\s+", " ", h) for h in hidden]
    if hidden:
        flags.append(make_flag(article, "suspicious-instructions", "high",
                               f"text hidden from readers (display:none / hidden) that a model "
                               f"would still read: \"{hidden[0][:100]}\"", "hidden-text",
                               hidden_text=[h[:300] for h in hidden[:5]],
                               matches=_matches([("(hidden text)", h) for h in hidden])[:5]))
    visible = [(" > ".join(b.section), b.text) for b in article.blocks if b.kind != "code"
               and not any(re.sub(r"\s+", " ", b.text) in h for h in squashed)]
    matches = _matches(visible)
    if matches:
        first = matches[0]
        flags.append(make_flag(article, "suspicious-instructions", "high",
                               f"text that addresses an AI model ({first['rule']}): "
                               f"\"{first['text'][:120]}\"", "instructions", matches=matches[:5]))
    return flags
