"""The recall models' code version, kept apart so that light pages can read it without importing torch.

Bump it when a model's code changes what a stored run means: runs of another version are not listed
or reused. 2: MIND's routing scale (S_GAIN 6, sigma 0.1). 3: S_GAIN 12, sigma 0.01. 4: the
interest-collapse remedy (seeded routing) and the S1 metrics.
"""
CODE_VERSION = 4


def code_version(config: dict) -> int:
    """The code version a stored config.json was written by (1: before runs carried one)."""
    return int(config.get("code_version", 1))


def is_current(config: dict) -> bool:
    """Whether a stored config.json was written by this code version (older runs are not listed or reused)."""
    return code_version(config) == CODE_VERSION
