"""Errors that the command line reports as one line and exit code 2, without a traceback."""


class ConfigError(ValueError):
    """A bad value in the user's configuration or input (wrong name, out-of-range number...)."""


class ConfigTypeError(ConfigError, TypeError):
    """An input of the wrong type (a list where a tensor is expected, text where a number is).

    Both a `ValueError` (every user-input error is one, so one `except` catches them all) and a
    `TypeError` (what Python code expects for a wrong type).
    """


class DataNotFoundError(ConfigError):
    """A dataset or checkpoint is not on disk and cannot be downloaded."""
