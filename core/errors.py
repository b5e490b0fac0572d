"""Errors that say which article or field is wrong and what to do about it."""

import errno


class KbError(Exception):
    """Base of kb's errors: the message is shown to the user as is."""


class ArticleError(KbError):
    """An article file could not be read or parsed."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class ConfigError(KbError):
    """A setting or configuration file is invalid."""



#: what a write that found no room says, from the OS, SQLite (SQLITE_FULL) and Chroma
_NO_SPACE = ("no space left on device", "database or disk is full", "disk quota exceeded")


def out_of_space(exc: BaseException) -> bool:
    """Did ``exc`` (or an error it was raised from) come from a full disk or quota?"""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if any(marker in str(seen).lower() for marker in _NO_SPACE):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
