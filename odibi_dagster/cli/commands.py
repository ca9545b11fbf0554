"""One function per ``odibi`` command. Each returns the process exit code."""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

from odibi_core.config import load_project
from odibi_core.errors import ConfigError, ConfigProblem, OdibiError
from odibi_core.config.node_plan import incremental_column, missing_incremental_column

from odibi_dagster.cli.output import (
    EXIT_FAILED,
    EXIT_OK,
    ProgressPrinter,
    print_failures,
    print_summary,
)
from odibi_dagster.hints import recovery_command
from odibi_dagster.run_logging import console_log_level

__all__ = ["dlq", "doctor", "graph", "init", "resume", "rollback", "run", "schema", "story",
           "validate"]


def run(args: argparse.Namespace) -> int:
    from odibi_dagster.execution import run_project
    from odibi_dagster.partitions import partition_keys_for_run

    console_log_level(args.verbose)  # a bad ODIBI_LOG_LEVEL fails before anything runs
    project = load_project(args.project, env=args.env)
    nodes = [n for group in args.node for n in group]
    if args.only and not nodes:
        raise ConfigError(ConfigProblem(message="--only needs --node.",
                                        fix="Name the nodes to run: --node NAME --only."))
    selected = project.graph.select(pipelines=args.pipeline, nodes=nodes, tags=args.tag,
                                    include_upstream=not args.only)
    disabled = project.graph.disabled()
    runnable = [k for k in selected if k not in disabled]
    env = project.env or "default"
    print(f"odibi run: project {project.config.project} ({project.file}), environment {env}, "
          f"engine {project.config.engine}{', DRY RUN' if args.dry_run else ''}")
    for key in selected:
        if key in disabled:
            print(f"  skipped  {key} (disabled, or downstream of a disabled node)")
    if not runnable:
        print("Nothing to run: the selection matched no enabled node.")
        return EXIT_FAILED
    partitions = partition_keys_for_run(project, runnable, partition=args.partition,
                                        partition_range=args.partition_range)
    print(f"{len(runnable)} node(s): {', '.join(runnable)}")
    if len(partitions) > 1:
        print(f"{len(partitions)} partition(s), one run each: {', '.join(map(str, partitions))}")
    done: list[str] = []
    for partition in partitions:
        if partition is not None:
            print(f"Partition {partition}")
        outcome = run_project(project, runnable, dry_run=args.dry_run, executor=args.executor,
                              progress=ProgressPrinter, partition_key=partition,
                              verbose=args.verbose)
        print_summary(outcome.results)
        for path in outcome.stories:
            print(f"Story: {path}")
        where = f" (partition {partition})" if partition is not None else ""
        if not outcome.success:
            left = partitions[len(done) + 1:]
            _print_after_failure(outcome, project)
            print(f"Run {outcome.run_id}{where} FAILED. Fix the problem above, then "
                  f"`{recovery_command('resume', outcome.run_id, project)}` (runs only the "
                  "failed nodes and what "
                  "follows them) or run again; see docs/recovery.md.", file=sys.stderr)
            if done or left:
                print(f"Partitions done: {', '.join(done) or 'none'}; not run: "
                      f"{', '.join(map(str, left)) or 'none'}.", file=sys.stderr)
            return EXIT_FAILED
        print(f"Run {outcome.run_id}{where} succeeded.")
        done.append(str(partition))
    return EXIT_OK


def resume(args: argparse.Namespace) -> int:
    from odibi_dagster.resume import resume_run

    console_log_level(args.verbose)
    project = load_project(args.project, env=args.env)
    print(f"odibi resume: run {args.run_id} of project {project.config.project} "
          f"({project.file}), from failure")
    outcome = resume_run(project, args.run_id, progress=ProgressPrinter, verbose=args.verbose)
    print_summary(outcome.results)
    for path in outcome.stories:
        print(f"Story: {path}")
    if not outcome.success:
        _print_after_failure(outcome, project)
        print(f"Run {outcome.run_id} (resuming {args.run_id}) FAILED. Fix the problem above, "
              f"then `{recovery_command('resume', outcome.run_id, project)}`.",
              file=sys.stderr)
        return EXIT_FAILED
    print(f"Run {outcome.run_id} (resuming {args.run_id}) succeeded.")
    return EXIT_OK


def rollback(args: argparse.Namespace) -> int:
    from odibi_dagster.recovery import fail_dead_runs
    from odibi_dagster.recovery import rollback as rollback_run

    project = load_project(args.project, env=args.env)
    fail_dead_runs(project)
    report = rollback_run(project, args.run_id)
    print(f"odibi rollback: run {args.run_id} of project {project.config.project}")
    for line in report.lines() or ["the run wrote nothing"]:
        print(f"  {line}")
    if not report.complete:
        print("The rollback is INCOMPLETE: the targets above marked so are left as they "
              "are.", file=sys.stderr)
        return EXIT_FAILED
    print("Rolled back.")
    return EXIT_OK


def _print_after_failure(outcome: object, project: object) -> None:
    """The failures the summary does not show (internal errors with their traceback), what a
    failed run had written and, with ``on_failure: rollback``, what was restored."""
    print_failures(getattr(outcome, "failures", ()), getattr(outcome, "run_id", "?"))
    report = getattr(outcome, "rollback", None)
    written = getattr(outcome, "written", ())
    if report is not None:
        print("Rollback (on_failure: rollback):", file=sys.stderr)
        for line in report.lines() or ["nothing had been written"]:
            print(f"  {line}", file=sys.stderr)
        if not report.complete:
            print("  The rollback is INCOMPLETE: the targets above marked so are left as "
                  "they are.", file=sys.stderr)
    elif written:
        run_id = getattr(outcome, "run_id", "RUN_ID")
        print(f"Written by the failed run (kept; `{recovery_command('rollback', run_id, project)}`"
              " restores them):", file=sys.stderr)
        for line in written:
            print(f"  {line}", file=sys.stderr)


def validate(args: argparse.Namespace) -> int:
    project = load_project(args.project, env=args.env)
    problems: list[ConfigProblem] = []
    for key, ref in project.graph.nodes.items():
        if ref.config.materialized == "incremental" and incremental_column(project, key) is None:
            problems.append(missing_incremental_column(project, key))
    if problems:
        raise ConfigError(problems)
    config = project.config
    schedules = sum(p.schedule is not None for p in config.pipelines) + sum(
        j.schedule is not None for j in config.jobs)
    kinds = Counter(p.sensor.type for p in config.pipelines if p.sensor is not None)
    sensors = f"{sum(kinds.values())} sensor(s)" + (
        f" ({', '.join(f'{n} {kind}' for kind, n in sorted(kinds.items()))})" if kinds else "")
    automated = sum(n.automation is not None for p in config.pipelines for n in p.nodes)
    print(f"OK: {project.file} — {len(config.pipelines)} pipeline(s), "
          f"{len(project.graph.nodes)} node(s), {len(config.pipelines) + len(config.jobs)} "
          f"job(s), {schedules} schedule(s), {sensors}, {automated} automated "
          f"node(s), environment {project.env or 'default'}.")
    return EXIT_OK


def doctor(args: argparse.Namespace) -> int:
    """Check each connection for real; print a table; exit 1 when a check failed."""
    from odibi_core.doctor import diagnose_project, iter_rows

    project = load_project(args.project, env=args.env)
    reports = diagnose_project(project, timeout=args.timeout)
    rows = [("connection", "type", "check", "result", "detail"), *iter_rows(reports)]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[4])
    failed = [report.name for report in reports if not report.ok]
    env = project.env or "default"
    if failed:
        print(f"\n{len(failed)} of {len(reports)} connection(s) failed a check "
              f"(environment {env}): {', '.join(failed)}.")
        return EXIT_FAILED
    print(f"\nAll {len(reports)} connection(s) passed (environment {env}).")
    return EXIT_OK


def graph(args: argparse.Namespace) -> int:
    from odibi_dagster.cli.render_graph import render_graph

    project = load_project(args.project, env=args.env)
    print(render_graph(project.graph, args.format))
    return EXIT_OK


def story(args: argparse.Namespace) -> int:
    from odibi_core.runs import story_root
    from odibi_core.story import find_stories, render_markdown

    from odibi_dagster.cli.story_file import read_story, story_json

    if args.action == "show":
        if not args.path:
            raise ConfigError(ConfigProblem(message="`odibi story show` needs a story file.",
                                            fix="odibi story show PATH/TO/run_HHMMSS.json"))
        given = Path(args.path)
        path = story_json(given)
    else:
        project = load_project(args.path or ".", env=args.env)
        found = find_stories(story_root(project))
        if not found:
            print("No stories yet: run `odibi run` first.")
            return EXIT_FAILED
        path = given = found[0]
        latest = read_story(path)
        if latest.status == "running":
            # Still running, or the run is over but could not end its story (a step died
            # before recording its node, a canceled run): the instance tells.
            from odibi_dagster.run_end import end_stories_of_ended_run

            end_stories_of_ended_run(project, latest.run_id)
    print(render_markdown(read_story(path, given)))
    print(f"\n({path}; HTML beside it)")
    return EXIT_OK


def schema(args: argparse.Namespace) -> int:
    """The project file's JSON Schema, on stdout or into ``--output``."""
    from odibi_core.config.json_schema import schema_text

    text = schema_text()
    if args.output is None:
        sys.stdout.write(text)
        return EXIT_OK
    target = Path(args.output)
    try:
        target.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise OdibiError(f"Cannot write the schema to {target}: {exc.strerror or exc}.",
                         fix="Pass --output a file in a folder that exists and is writable, or "
                             "leave --output out to print the schema.") from None
    print(f"Wrote {target}. Point your editor at it with this first line in odibi.yaml:\n"
          f"  # yaml-language-server: $schema=<path from odibi.yaml to {target.name}>")
    return EXIT_OK


def init(args: argparse.Namespace) -> int:
    from odibi_dagster.cli.starter import write_starter

    target = Path(args.name)
    write_starter(target)
    print(f"Created {target}/. Next:\n  odibi run {target}\n  odibi graph {target}")
    return EXIT_OK



def dlq(args: argparse.Namespace) -> int:
    """Dead letters of one node: list them, or replay the ones that parse now.

    A replay runs outside Dagster, straight through the node's lifecycle, and appends.
    """
    from odibi_core.dead_letters import load_corrections
    from odibi_core.engines import engine_for_project
    from odibi_core.node import NodeRunner
    from odibi_core.replay import replay_node, show_node

    project = load_project(args.project, env=args.env)
    (key,) = project.graph.select(nodes=[args.node], include_upstream=False)
    runner = NodeRunner(project, engine_for_project(project.config))
    if args.action == "show":
        listing = show_node(runner, key, limit=args.limit, include_replayed=args.all)
        print(f"{key}: {listing.total} dead letter(s) at {listing.destination}, "
              f"{listing.pending} pending, {listing.replayed} replayed")
        for row in listing.rows:
            state = "replayed" if row.get("_replayed_at") else "pending"
            print(f"  {row['source_file']}:{row['line']}  [{state}] {row['error']}\n"
                  f"      {row['raw']!r}")
        return EXIT_OK
    corrections = load_corrections(Path(args.corrections)) if args.corrections else None
    outcome = replay_node(runner, key, corrections=corrections, dry_run=args.dry_run)
    replay = outcome.replay
    verb = "would replay" if args.dry_run else "replayed"
    print(f"{key}: {verb} {replay.replayed} dead letter(s); {replay.still_failing} still fail")
    for failure in replay.failures:
        print(f"  {failure['source_file']}:{failure['line']}  {failure['error']}")
    if outcome.node_result is not None and outcome.node_result.write is not None:
        write = outcome.node_result.write
        print(f"Appended {write.rows_written} row(s) to {write.location}"
              + (f" (Delta v{write.delta_version})" if write.delta_version is not None else ""))
    return EXIT_OK if replay.still_failing == 0 else EXIT_FAILED
