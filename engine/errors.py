"""Errors meant for people: the message says what went wrong and what to do.

The message is English (CLI, logs). An error a page may show also carries a stable `code` and the
`params` its message was built from, so the app can say the same sentence in the user's language
(pages/i18n.py `error_text`: `errors.<code>` in assets/i18n/<lang>/errors.toml).
"""


class EmbedLabError(Exception):
    """Base of every error whose message is shown to a user as it is."""

    def __init__(self, message: str = "", *, code: str | None = None, **params) -> None:
        super().__init__(message)
        self.code = code
        self.params = params


class DataError(EmbedLabError):
    """A dataset is missing, unreachable or malformed."""


class ConfigError(EmbedLabError):
    """A combination of settings that cannot work (K above the history length, nprobe above nlist...)."""


class ImageError(EmbedLabError):
    """An input image that cannot be read or used."""


class Message(str):
    """A sentence for a user that is not an error (a warning, a caption), English as the CLI prints it, with a stable
    `code` and the `params` it was built from so the app can say it in the user's language."""

    code: str | None
    params: dict

    def __new__(cls, text: str, code: str | None = None, **params) -> "Message":
        obj = super().__new__(cls, text)
        obj.code, obj.params = code, params
        return obj

    @classmethod
    def of(cls, e: BaseException) -> "Message":
        """An error's message, keeping its code and params."""
        return cls(str(e), getattr(e, "code", None), **getattr(e, "params", {}))
