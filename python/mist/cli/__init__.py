"""The ``mist`` command line. Each command lives in its own module in this package.

A command module exposes ``HELP`` (one line), ``add_arguments(parser)`` and ``run(args) -> int``.
Errors a user can fix raise :class:`CLIError`; ``main`` prints them, and argparse's usage errors,
as one line ``mist: <message>`` on stderr, exit 2. ``mist`` alone prints the help on stderr, exit 2;
``mist --version`` prints ``mist <version> (<native|python> core)``.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from typing import List, Optional

from .. import __version__, backend
from ..errors import ConfigError

COMMANDS = ["demo", "validate", "report", "replay", "alerts", "view", "tail", "bench"]


class CLIError(Exception):
    """A user-facing error: printed as ``mist: <message>`` on stderr, exit code 2."""


def _load(name: str):
    try:
        return importlib.import_module(f"mist.cli.{name}")
    except ModuleNotFoundError as exc:  # a command not built yet
        if exc.name == f"mist.cli.{name}":
            return None
        raise


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, no usage dump
        # ``mist: report: argument --by: …``: main adds the one ``mist: `` prefix
        command = self.prog.partition(" ")[2]
        raise CLIError(f"{command + ': ' if command else ''}{message} (see {self.prog} --help)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="mist",
        description="Tracing and regression alerts for LLM inference (MTTP traces).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"mist {__version__} ({backend} core)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMANDS:
        mod = _load(name)
        if mod is None:
            continue
        p = sub.add_parser(
            name,
            help=mod.HELP,
            description=getattr(mod, "DESCRIPTION", mod.HELP),
            epilog=getattr(mod, "EPILOG", None),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if not getattr(args, "_run", None):  # `mist` alone: a usage error
            parser.print_help(sys.stderr)
            return 2
        return int(args._run(args) or 0)
    except (CLIError, ConfigError) as exc:
        print(f"mist: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `mist tail f | head`
        try:
            sys.stdout = None  # type: ignore[assignment]
        finally:
            return 0
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
