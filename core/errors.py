"""Errors that say which article or field is wrong and what to do about it."""


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

