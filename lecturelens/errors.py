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


class OutputError(LectureLensError):
    """The report folder cannot be written: read-only, full, or a file is in the way.

    Exit code 73 (``EX_CANTCREAT`` of sysexits.h): an ordinary situation, not a bug.
    """

    exit_code = 73


class FolderBusyError(LectureLensError):
    """Another LectureLens run is writing the same report folder.

    Exit code 75 (``EX_TEMPFAIL``): trying again once the other run is done will work.
    """

    exit_code = 75


def output_error(exc: OSError, where: str | None = None) -> OutputError:
    """One line for an ``OSError`` met while writing outputs: the path and the fix.

    Args:
        exc: the error (its ``filename`` names the path when the OS gave one).
        where: the path to name when the error carries none (e.g. the report folder).
    """
    import errno

    path = exc.filename or where or "output"
    code = exc.errno
    if code in (errno.EACCES, errno.EPERM):
        why, fix = "permission denied", "make the folder writable or choose another -o folder"
    elif code == errno.EROFS:
        why, fix = "read-only file system", "choose an -o folder on a writable disk"
    elif code in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        why, fix = "no space left on the device", "free some space or choose another -o folder"
    elif code in (errno.EEXIST, errno.ENOTDIR, errno.EISDIR):
        why, fix = ("a file is in the way of a folder (or a folder of a file)",
                    "move it away or choose another -o folder")
    else:
        why, fix = exc.strerror or str(exc), "check the folder, or choose another -o folder"
    return OutputError(f"{path}: cannot write ({why}); {fix}")
