"""Errors that the command line turns into a one-line message and an exit code."""


class LectureLensError(Exception):
    """Base class for errors a user can act on. ``str(err)`` is the one-line message."""

    exit_code = 1


class InputError(LectureLensError):
    """The input file is missing, empty, corrupt or not a video.

    The message names the file and says what to do about it.
    """

    exit_code = 2


class ConfigError(LectureLensError):
    """A configuration file or option value is invalid."""

    exit_code = 2


class ModelError(LectureLensError):
    """A model's weights are missing or do not match their recorded sha256."""

    exit_code = 3
