"""``python -m lecturelens.dev``: the development commands on their own."""

from __future__ import annotations

import click

from lecturelens.cli import CliGroup
from lecturelens.dev.commands import COMMANDS


@click.group(cls=CliGroup, commands=COMMANDS,
             context_settings={"help_option_names": ["-h", "--help"]})
def dev():
    """LectureLens' development commands (also reachable as `lecturelens <command>`)."""


if __name__ == "__main__":
    dev.main(prog_name="python -m lecturelens.dev")
