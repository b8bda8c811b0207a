"""Errors that the command line reports as one line and exit code 2, without a traceback."""


class ConfigError(ValueError):
    """A bad value in the user's configuration or input (wrong name, out-of-range number...)."""


class DataNotFoundError(ConfigError):
    """A dataset or checkpoint is not on disk and cannot be downloaded."""
