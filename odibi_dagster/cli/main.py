"""The ``odibi`` command: thin commands over odibi_core and odibi_dagster.

Each command parses its options (shared ones are declared once) and calls one function.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from odibi_dagster.cli.output import EXIT_FAILED, print_error

__all__ = ["EXIT_BROKEN_PIPE", "main"]

EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: what a shell reports for a writer whose reader left
VERBOSE_HELP = ("also print Dagster's log of the run (every event, failures with their stack "
                "traces); same as ODIBI_LOG_LEVEL=debug")


def _project_options() -> argparse.ArgumentParser:
    shared = argparse.ArgumentParser(add_help=False)
    shared.add_argument("project", nargs="?", default=".",
                        help="project file or folder holding odibi.yaml (default: .)")
    shared.add_argument("--env", "-e", default=None,
                        help="environment to select (default: $ODIBI_ENV)")
    return shared


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="odibi", description="Declarative data pipelines, run as Dagster assets.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    project = _project_options()

    run = commands.add_parser("run", parents=[project], help="run pipelines through Dagster")
    run.add_argument("--pipeline", "-p", action="append", default=[], metavar="P",
                     help="only this pipeline (repeatable)")
    run.add_argument("--node", "-n", action="append", default=[], nargs="+", metavar="N",
                     help="only these nodes (name or pipeline.name) and what they need upstream")
    run.add_argument("--only", action="store_true",
                     help="with --node: do not pull in upstream nodes")
    run.add_argument("--tag", "-t", action="append", default=[], metavar="T",
                     help="only nodes with this tag (repeatable)")
    run.add_argument("--dry-run", action="store_true",
                     help="read, transform and validate; write nothing")
    run.add_argument("--executor", choices=["in_process", "multiprocess"], default="in_process",
                     help="Dagster executor (default: in_process)")
    run.add_argument("--verbose", "-v", action="store_true", help=VERBOSE_HELP)
    partitions = run.add_mutually_exclusive_group()
    partitions.add_argument("--partition", default=None, metavar="KEY",
                            help="partitioned pipelines: the partition to run (e.g. 2026-01-02)")
    partitions.add_argument("--partition-range", default=None, metavar="START...END",
                            help="partitioned pipelines: run every partition from START to END "
                                 "(both included), one run each, in order")

    resume = commands.add_parser(
        "resume", help="re-execute a failed run from failure (succeeded nodes are reused)")
    resume.add_argument("run_id", help="the failed run's id (from `odibi run` or the UI)")
    resume.add_argument("project", nargs="?", default=".",
                        help="project file or folder holding odibi.yaml (default: .)")
    resume.add_argument("--env", "-e", default=None)
    resume.add_argument("--verbose", "-v", action="store_true", help=VERBOSE_HELP)

    rollback = commands.add_parser(
        "rollback", help="restore every target a run wrote to its state before the run")
    rollback.add_argument("run_id", help="the run's id (from `odibi run` or the UI)")
    rollback.add_argument("project", nargs="?", default=".",
                          help="project file or folder holding odibi.yaml (default: .)")
    rollback.add_argument("--env", "-e", default=None)

    commands.add_parser("validate", parents=[project],
                        help="check the project file and graph; no I/O")

    doctor = commands.add_parser(
        "doctor", parents=[project],
        help="check every connection: reachable, authenticated, paths read exist")
    doctor.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS",
                        help="give up on a connection after this long (default 30)")

    graph = commands.add_parser("graph", parents=[project], help="print the dependency graph")
    graph.add_argument("--format", "-f", choices=["ascii", "mermaid", "dot"], default="ascii")

    story = commands.add_parser("story", help="show run stories")
    story.add_argument("action", nargs="?", choices=["last", "show"], default="last")
    story.add_argument("path", nargs="?", default=None,
                       help="with show: a story file (.json, .html or .md, as `odibi run` prints); "
                            "with last: the project (default .)")
    story.add_argument("--env", "-e", default=None)

    dlq = commands.add_parser("dlq", help="list or replay a node's dead letters")
    dlq.add_argument("action", choices=["show", "replay"])
    dlq.add_argument("project", nargs="?", default=".",
                     help="project file or folder holding odibi.yaml (default: .)")
    dlq.add_argument("--env", "-e", default=None)
    dlq.add_argument("--node", "-n", required=True, help="the node (name or pipeline.name)")
    dlq.add_argument("--limit", type=int, default=20, help="show: rows to list (default 20)")
    dlq.add_argument("--all", action="store_true", help="show: include replayed dead letters")
    dlq.add_argument("--corrections", default=None, metavar="FILE",
                     help="replay: CSV/JSON Lines of source_file,line,raw with fixed raw text")
    dlq.add_argument("--dry-run", action="store_true",
                     help="replay: say what would be replayed; write and mark nothing")

    schema = commands.add_parser(
        "schema", help="print the project file's JSON Schema (for editors; see docs/reference.md)")
    schema.add_argument("--output", "-o", default=None, metavar="FILE",
                        help="write it to FILE instead of printing it")

    init = commands.add_parser("init", help="create a runnable starter project")
    init.add_argument("name", help="folder to create")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from odibi_dagster.cli import commands

    handler = {
        "run": commands.run,
        "resume": commands.resume,
        "rollback": commands.rollback,
        "validate": commands.validate,
        "doctor": commands.doctor,
        "graph": commands.graph,
        "story": commands.story,
        "init": commands.init,
        "schema": commands.schema,
        "dlq": commands.dlq,
    }[args.command]
    try:
        code = handler(args)
        sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
        return code
    except BrokenPipeError:
        # The reader (`| head`) closed the pipe: stop quietly. Python flushes stdout again on
        # exit, so point it at devnull first (Python docs, "Note on SIGPIPE").
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except Exception as exc:  # noqa: BLE001 - odibi's errors located, a bug with its traceback
        print_error(exc)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
