"""Partitioned pipelines as Dagster time-window partitions: a run materializes one partition, an
``overwrite`` replaces exactly that partition's rows, an ``append`` of a partition happens once,
downstream assets read their own partition, and ``odibi run --partition / --partition-range``
runs them through a real Dagster instance."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
import pytest
from deltalake import DeltaTable

from odibi_core.config import load_project
from odibi_core.errors import ConfigError
from odibi_dagster import metadata as md
from odibi_dagster.cli.main import main
from odibi_dagster.definitions import defs_from_loaded_project, job_name_for
from odibi_dagster.execution import run_project
from odibi_dagster.partitions import partition_keys_for_run, partitions_def_for

ORDERS = """\
id,order_date,amount
1,2026-01-01,10
2,2026-01-02,20
3,2026-01-02,21
4,2026-01-03,30
5,2026-01-04,40
"""

SCHEMA = "{schema: {id: int64, order_date: date, amount: int64}}"

SALES = f"""\
  - pipeline: sales
    partitions: {{type: daily, start: 2026-01-01, end: 2026-02-01, column: order_date}}
    nodes:
      - name: orders
        read: {{connection: src, format: csv, path: orders.csv, options: {SCHEMA}}}
        contracts: [{{type: not_null, columns: [id, order_date]}}]
        write: {{connection: lake, format: delta, path: orders, mode: MODE}}
      - name: valid
        depends_on: [orders]
        transform: {{steps: ["SELECT * FROM orders WHERE amount >= 0"]}}
      - name: day_totals
        depends_on: [valid]
        transform:
          steps: ["SELECT order_date, count(*) AS n, sum(amount) AS total FROM valid GROUP BY order_date"]
        write: {{connection: lake, format: delta, path: day_totals, mode: MODE}}
"""

HEADER = """\
project: partitioned
engine: pandas
connections:
  src: {type: local, base_path: ./src}
  lake: {type: local, base_path: ./lake}
system: {connection: lake, path: _system}
story: {connection: lake, path: _stories}
pipelines:
"""

SALES_NODES = ["sales.orders", "sales.valid", "sales.day_totals"]


def write_project(root: Path, mode: str, extra: str = "", *, view: bool = False) -> Path:
    """The sales pipeline writing with ``mode``; ``view``: its middle node is a view."""
    (root / "src").mkdir(parents=True, exist_ok=True)
    (root / "src" / "orders.csv").write_text(ORDERS, encoding="utf-8")
    sales = SALES.replace("MODE", mode)
    if view:
        sales = sales.replace("- name: valid\n", "- name: valid\n        materialized: view\n")
    (root / "odibi.yaml").write_text(HEADER + sales + extra, encoding="utf-8")
    return root


def rows(path: Path, *columns: str) -> list[tuple]:
    table = DeltaTable(str(path)).to_pyarrow_table()
    return sorted(zip(*(table.column(c).to_pylist() for c in columns)))


def day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def latest_materialization(asset: list[str]) -> dg.EventLogRecord:
    with dg.DagsterInstance.get() as instance:
        records = instance.fetch_materializations(dg.AssetKey(asset), limit=1).records
    assert records, f"{asset} was never materialized"
    return records[0]


# ---- overwrite: a partition's rows, and only them ------------------------------------------------
def test_overwrite_replaces_exactly_the_partitions_rows(tmp_path: Path) -> None:
    root = write_project(tmp_path, "overwrite")
    project = load_project(root / "odibi.yaml")
    lake = root / "lake"

    # Each step in its own process: the downstream steps load their partition from disk.
    first = run_project(project, SALES_NODES, partition_key="2026-01-02", executor="multiprocess")
    assert first.success and first.partition_key == "2026-01-02"
    assert rows(lake / "orders", "id", "order_date") == [(2, day("2026-01-02")),
                                                         (3, day("2026-01-02"))]
    assert rows(lake / "day_totals", "order_date", "n", "total") == [(day("2026-01-02"), 2, 41)]
    record = latest_materialization(["sales", "orders"])
    assert record.partition_key == "2026-01-02"
    assert record.asset_materialization.metadata[md.PARTITION].value == "2026-01-02"
    with dg.DagsterInstance.get() as instance:
        check = instance.get_latest_asset_check_evaluation_record(
            dg.AssetCheckKey(dg.AssetKey(["sales", "orders"]), "contract_not_null"))
    assert check is not None and check.evaluation.passed
    # The node without a write handed its frame over in a file of its own partition.
    handed = list((lake / "_system" / "intermediate" / first.run_id).rglob("*.parquet"))
    assert [p.relative_to(lake / "_system" / "intermediate" / first.run_id).as_posix()
            for p in handed] == ["sales/valid/2026-01-02.parquet"]

    assert run_project(project, SALES_NODES, partition_key="2026-01-03").success
    assert rows(lake / "orders", "id", "order_date") == [
        (2, day("2026-01-02")), (3, day("2026-01-02")), (4, day("2026-01-03"))]
    assert rows(lake / "day_totals", "order_date", "n", "total") == [
        (day("2026-01-02"), 2, 41), (day("2026-01-03"), 1, 30)]

    # The source changes for 01-02 (row 3 gone, row 2 changed, row 6 new): re-materializing
    # 01-02 replaces that day's rows and leaves 01-03 as it was.
    (root / "src" / "orders.csv").write_text(
        "id,order_date,amount\n1,2026-01-01,10\n2,2026-01-02,25\n6,2026-01-02,60\n"
        "4,2026-01-03,999\n", encoding="utf-8")
    assert run_project(project, SALES_NODES, partition_key="2026-01-02").success
    assert rows(lake / "orders", "id", "order_date", "amount") == [
        (2, day("2026-01-02"), 25), (4, day("2026-01-03"), 30), (6, day("2026-01-02"), 60)]
    assert rows(lake / "day_totals", "order_date", "n", "total") == [
        (day("2026-01-02"), 2, 85), (day("2026-01-03"), 1, 30)]
    with dg.DagsterInstance.get() as instance:
        assert instance.get_materialized_partitions(dg.AssetKey(["sales", "orders"])) == {
            "2026-01-02", "2026-01-03"}


# ---- append: a partition is one batch ------------------------------------------------------------
def test_append_of_the_same_partition_happens_once(tmp_path: Path) -> None:
    root = write_project(tmp_path, "append", view=True)
    project = load_project(root / "odibi.yaml")
    lake = root / "lake"

    assert run_project(project, SALES_NODES, partition_key="2026-01-02").success
    record = latest_materialization(["sales", "orders"])
    assert record.asset_materialization.metadata[md.SKIPPED_DUPLICATE_BATCH].value is False

    again = run_project(project, SALES_NODES, partition_key="2026-01-02")
    assert again.success
    record = latest_materialization(["sales", "orders"])
    assert record.run_id == again.run_id and record.partition_key == "2026-01-02"
    assert record.asset_materialization.metadata[md.SKIPPED_DUPLICATE_BATCH].value is True
    assert rows(lake / "orders", "id") == [(2,), (3,)]

    # day_totals appends what it reads of `orders` (through the view `valid`): only the run's
    # partition, although the orders table now holds two days.
    assert run_project(project, SALES_NODES, partition_key="2026-01-03").success
    assert rows(lake / "orders", "id") == [(2,), (3,), (4,)]
    assert rows(lake / "day_totals", "order_date", "n", "total") == [
        (day("2026-01-02"), 2, 41), (day("2026-01-03"), 1, 30)]


# ---- the CLI: one partition, a backfill ----------------------------------------------------------
@pytest.mark.parametrize("mode", ["overwrite", "append"])
def test_backfill_through_the_cli_is_idempotent(tmp_path: Path, mode: str,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    root = write_project(tmp_path, mode)
    lake = root / "lake"
    backfill = ["run", str(root), "--partition-range", "2026-01-01...2026-01-03"]

    assert main(backfill) == 0
    out = capsys.readouterr().out
    assert "3 partition(s), one run each: 2026-01-01, 2026-01-02, 2026-01-03" in out
    assert out.index("Partition 2026-01-01") < out.index("Partition 2026-01-03")
    expected_orders = [(1,), (2,), (3,), (4,)]
    expected_totals = [(day("2026-01-01"), 1, 10), (day("2026-01-02"), 2, 41),
                       (day("2026-01-03"), 1, 30)]
    assert rows(lake / "orders", "id") == expected_orders
    assert rows(lake / "day_totals", "order_date", "n", "total") == expected_totals

    assert main(backfill) == 0
    assert rows(lake / "orders", "id") == expected_orders
    assert rows(lake / "day_totals", "order_date", "n", "total") == expected_totals
    with dg.DagsterInstance.get() as instance:
        runs = instance.get_runs()
        assert len(runs) == 6 and all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs)
        assert [r.tags[md.TAG_PARTITION] for r in reversed(runs)] == \
            ["2026-01-01", "2026-01-02", "2026-01-03"] * 2
        assert instance.get_materialized_partitions(dg.AssetKey(["sales", "day_totals"])) == {
            "2026-01-01", "2026-01-02", "2026-01-03"}

    assert main(["run", str(root), "--partition", "2026-01-04"]) == 0
    assert rows(lake / "orders", "id") == [*expected_orders, (5,)]


def test_bad_partition_input_is_a_clear_error(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    root = write_project(tmp_path, "overwrite", extra="""\
  - pipeline: ref
    nodes:
      - name: copy
        read: {connection: src, format: csv, path: orders.csv}
        write: {connection: lake, format: delta, path: ref_copy}
""")

    assert main(["run", str(root), "--pipeline", "sales", "--partition", "2025-12-31"]) == 1
    err = capsys.readouterr().err
    assert "'2025-12-31' is not a partition of pipeline sales" in err
    assert "daily partitions 2026-01-01 ... 2026-01-31, keys like YYYY-MM-DD" in err
    assert "pipelines[0].partitions" in err

    assert main(["run", str(root), "--pipeline", "sales",
                 "--partition-range", "2026-01-30...2026-02-02"]) == 1
    assert "'2026-02-02' is not a partition" in capsys.readouterr().err

    assert main(["run", str(root), "--pipeline", "sales",
                 "--partition-range", "2026-01-03"]) == 1
    assert "is not START...END" in capsys.readouterr().err

    assert main(["run", str(root), "--pipeline", "ref", "--partition", "2026-01-02"]) == 1
    assert "no pipeline of the selection is partitioned" in capsys.readouterr().err

    assert main(["run", str(root), "--pipeline", "sales"]) == 1
    err = capsys.readouterr().err
    assert "Pipeline sales is partitioned" in err and "--partition 2026-01-31" in err

    assert not (root / "lake" / "orders").exists()  # nothing ran
    with dg.DagsterInstance.get() as instance:
        assert instance.get_runs() == []


def test_a_selection_over_differently_partitioned_pipelines_is_refused(tmp_path: Path) -> None:
    root = write_project(tmp_path, "overwrite", extra=f"""\
  - pipeline: hourly
    partitions: {{type: hourly, start: 2026-01-01}}
    nodes:
      - name: copy
        read: {{connection: src, format: csv, path: orders.csv, options: {SCHEMA}}}
        write: {{connection: lake, format: delta, path: hourly_copy}}
""")
    project = load_project(root / "odibi.yaml")
    with pytest.raises(ConfigError, match="different partitions"):
        partition_keys_for_run(project, [*SALES_NODES, "hourly.copy"], partition="2026-01-02")
    # Each on its own runs: the project's asset job has no one partitions definition.
    assert run_project(project, ["hourly.copy"], partition_key="2026-01-02-00:00").success
    assert run_project(project, SALES_NODES, partition_key="2026-01-02").success
    assert rows(root / "lake" / "orders", "id") == [(2,), (3,)]


def test_hourly_partitions_on_a_date_column_are_refused_with_the_fix(tmp_path: Path) -> None:
    root = write_project(tmp_path, "overwrite", extra=f"""\
  - pipeline: hourly
    partitions: {{type: hourly, start: 2026-01-01, column: order_date}}
    nodes:
      - name: copy
        read: {{connection: src, format: csv, path: orders.csv, options: {SCHEMA}}}
        write: {{connection: lake, format: delta, path: hourly_copy}}
""")
    run = run_project(load_project(root / "odibi.yaml"), ["hourly.copy"],
                      partition_key="2026-01-02-00:00")
    (result,) = run.results
    assert not run.success and result.error is not None
    assert "'order_date' is a date" in result.error.message
    assert "timestamp column" in (result.error.fix or "")
    assert not (root / "lake" / "hourly_copy").exists()


# ---- Definitions and cross-pipeline dependencies -------------------------------------------------
CROSS = f"""\
  - pipeline: ref
    nodes:
      - name: amounts
        read: {{connection: src, format: csv, path: orders.csv, options: {SCHEMA}}}
        transform: {{steps: ["SELECT id, amount * 2 AS doubled FROM df"]}}
        write: {{connection: lake, format: delta, path: ref_amounts}}
  - pipeline: enrich
    partitions: {{type: daily, start: 2026-01-01, end: 2026-02-01, column: order_date}}
    nodes:
      - name: joined
        inputs: {{orders: $sales.orders, amounts: $ref.amounts}}
        transform:
          steps: ["SELECT o.id, o.order_date, a.doubled FROM orders o JOIN amounts a ON o.id = a.id"]
        write: {{connection: lake, format: delta, path: joined, mode: overwrite}}
  - pipeline: report
    nodes:
      - name: all_days
        inputs: {{orders: $sales.orders}}
        transform: {{steps: ["SELECT count(*) AS n, count(DISTINCT order_date) AS days FROM orders"]}}
        write: {{connection: lake, format: delta, path: all_days}}
"""


def test_definitions_carry_the_pipelines_partitions(tmp_path: Path) -> None:
    root = write_project(tmp_path, "overwrite", extra=CROSS)
    defs = defs_from_loaded_project(load_project(root / "odibi.yaml"))
    graph = defs.resolve_asset_graph()
    sales = graph.get(dg.AssetKey(["sales", "orders"])).partitions_def
    assert isinstance(sales, dg.DailyPartitionsDefinition)
    keys = sales.get_partition_keys()
    assert len(keys) == 31 and keys[0] == "2026-01-01" and keys[-1] == "2026-01-31"
    assert sales.timezone == "UTC"
    assert graph.get(dg.AssetKey(["enrich", "joined"])).partitions_def == sales
    assert graph.get(dg.AssetKey(["ref", "amounts"])).partitions_def is None
    assert graph.get(dg.AssetKey(["report", "all_days"])).partitions_def is None
    assert defs.resolve_job_def(job_name_for("sales")).partitions_def == sales
    assert defs.resolve_job_def(job_name_for("ref")).partitions_def is None


@pytest.mark.parametrize(("kind", "start", "first", "second"), [
    ("hourly", "2026-01-01", "2026-01-01-00:00", "2026-01-01-01:00"),
    ("daily", "2026-01-01", "2026-01-01", "2026-01-02"),
    ("weekly", "2026-01-01", "2026-01-04", "2026-01-11"),  # weeks start on Sunday
    ("monthly", "2026-01-01", "2026-01-01", "2026-02-01"),
])
def test_every_partition_type(tmp_path: Path, kind: str, start: str, first: str,
                              second: str) -> None:
    root = write_project(tmp_path, "overwrite")
    text = (root / "odibi.yaml").read_text(encoding="utf-8")
    text = text.replace("{type: daily, start: 2026-01-01, end: 2026-02-01,",
                        f"{{type: {kind}, start: {start}, timezone: Europe/Amsterdam,")
    (root / "odibi.yaml").write_text(text, encoding="utf-8")
    project = load_project(root / "odibi.yaml")
    definition = partitions_def_for(project.config.pipeline("sales"))
    assert definition is not None and definition.timezone == "Europe/Amsterdam"
    assert definition.get_partition_keys()[:2] == [first, second]
    window = definition.time_window_for_partition_key(first)
    assert window.start.utcoffset() == dt.timedelta(hours=1)  # midnight in Amsterdam


def test_partitioned_and_unpartitioned_pipelines_depend_on_each_other(tmp_path: Path) -> None:
    root = write_project(tmp_path, "overwrite", extra=CROSS)
    project = load_project(root / "odibi.yaml")
    lake = root / "lake"
    everything = list(project.graph.topological_order())

    # One partition's run also runs the unpartitioned nodes it selected; a partitioned node
    # reads all of an unpartitioned upstream, an unpartitioned node all of a partitioned one.
    for key in ("2026-01-02", "2026-01-03"):
        outcome = run_project(project, everything, partition_key=key)
        assert outcome.success, [r.error for r in outcome.results if r.error]
    assert rows(lake / "ref_amounts", "id") == [(1,), (2,), (3,), (4,), (5,)]
    assert rows(lake / "joined", "id", "doubled") == [(2, 40), (3, 42), (4, 60)]
    assert rows(lake / "all_days", "n", "days") == [(3, 2)]

    # An unpartitioned node alone, downstream of the partitioned table, needs no partition.
    outcome = run_project(project, ["report.all_days"])
    assert outcome.success and rows(lake / "all_days", "n", "days") == [(3, 2)]
    record = latest_materialization(["report", "all_days"])
    assert record.partition_key is None and md.PARTITION not in \
        record.asset_materialization.metadata


def test_the_pipeline_job_runs_one_partition_and_refuses_none(tmp_path: Path) -> None:
    """What the Dagster UI launches: the pipeline's job, with or without a partition."""
    root = write_project(tmp_path, "overwrite")
    defs = defs_from_loaded_project(load_project(root / "odibi.yaml"))
    job = defs.resolve_job_def(job_name_for("sales"))
    with dg.DagsterInstance.get() as instance:
        result = job.execute_in_process(instance=instance, partition_key="2026-01-03")
        assert result.success
        assert rows(root / "lake" / "orders", "id") == [(4,)]

        result = job.execute_in_process(instance=instance, raise_on_error=False)
        assert not result.success
        failure = next(e for e in result.all_events if e.is_step_failure)
        message = failure.step_failure_data.error.message
        assert "Pipeline sales is partitioned, and this run names no partition" in message
        assert "--partition KEY" in message
    assert rows(root / "lake" / "orders", "id") == [(4,)]  # nothing more was written


def test_a_backfill_stops_at_the_first_failed_partition(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]
                                                        ) -> None:
    root = write_project(tmp_path, "overwrite")
    text = (root / "odibi.yaml").read_text(encoding="utf-8")
    (root / "odibi.yaml").write_text(text.replace(
        "contracts: [", "contracts: [{type: row_count, min: 1}, "), encoding="utf-8")

    # 2026-01-05 has no orders: its contract fails, and 2026-01-06 is not run.
    assert main(["run", str(root), "--partition-range", "2026-01-04...2026-01-06"]) == 1
    captured = capsys.readouterr()
    assert "(partition 2026-01-05) FAILED" in captured.err
    assert "Partitions done: 2026-01-04; not run: 2026-01-06." in captured.err
    assert rows(root / "lake" / "orders", "id") == [(5,)]
    with dg.DagsterInstance.get() as instance:
        assert [r.tags[md.TAG_PARTITION] for r in instance.get_runs()] == [
            "2026-01-05", "2026-01-04"]
