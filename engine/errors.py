"""Errors meant for people: the message says what went wrong and what to do."""


class EmbedLabError(Exception):
    """Base of every error whose message is shown to a user as it is."""


class DataError(EmbedLabError):
    """A dataset is missing, unreachable or malformed."""


class ConfigError(EmbedLabError):
    """A combination of settings that cannot work (K above the history length, nprobe above nlist...)."""


class ImageError(EmbedLabError):
    """An input image that cannot be read or used."""
