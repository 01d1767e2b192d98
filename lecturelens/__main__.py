"""``python -m lecturelens`` and the ``lecturelens`` console script.

Known errors become one line and an exit code (handled in :mod:`lecturelens.cli`); anything
unexpected becomes one line plus where to look, not a wall of traceback.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    from lecturelens.cli import cli

    try:
        cli.main(args=argv, prog_name="lecturelens", standalone_mode=True)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except Exception as exc:  # noqa: BLE001 - last line of defence for the user
        if os.environ.get("LECTURELENS_DEBUG"):
            raise
        print(f"lecturelens: internal error: {type(exc).__name__}: {exc} "
              "(rerun with LECTURELENS_DEBUG=1 for the traceback and please report it)",
              file=sys.stderr)
        return 70
    return 0


if __name__ == "__main__":
    sys.exit(main())
