"""The spark engine on a cluster: a Spark standalone master and worker started on loopback from
the pyspark package's own launcher, and an odibi project whose ``spark_config`` points
``spark.master`` at it, run end to end by ``odibi run`` in a subprocess (the driver).

The project reads a CSV from a local landing folder, transforms it with SQL and writes a Delta
table; a second node aggregates that table into another Delta table. The tables are read back
with the ``deltalake`` package; the master's JSON and the worker's work dir show that the tasks
ran in an executor of the cluster, which loaded the Delta jars the driver shipped as
``spark.jars``.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from deltalake import DeltaTable

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # `python -m pytest` adds it; a bare `pytest` run does not
    sys.path.insert(0, str(REPO))

from odibi_core.engines.spark_session import DELTA_VERSION, SCALA_VERSION  # noqa: E402
from tests.deploy.spark_cluster import SparkStandaloneCluster, spark_env  # noqa: E402
from tests.processes import kill_process_tree, wait_until  # noqa: E402

pytestmark = pytest.mark.slow

RUN_TIMEOUT = 240  # seconds for the whole `odibi run` (about 40 s on 2 cores)

ORDERS_CSV = """\
order_id,region,amount
1,north,10.5
2,south,20
3,north,4.5
4,east,7
5,south,1.25
6,east,3
"""


def write_project(root: Path, master_url: str) -> Path:
    (root / "landing").mkdir(parents=True)
    (root / "landing" / "orders.csv").write_text(ORDERS_CSV, encoding="utf-8")
    (root / "odibi.yaml").write_text(textwrap.dedent(f"""\
        project: spark_cluster
        engine: spark
        spark_config:
          spark.master: "{master_url}"
          spark.executor.memory: 512m
          spark.cores.max: 1
          spark.driver.host: 127.0.0.1      # the address the executors call the driver back on
        connections:
          landing: {{type: local, base_path: ./landing}}
          lake:    {{type: local, base_path: ./lake}}
        pipelines:
          - pipeline: sales
            nodes:
              - name: orders
                read: {{connection: landing, format: csv, path: orders.csv}}
                transform:
                  steps:
                    - >-
                      SELECT CAST(order_id AS INT) AS order_id, upper(region) AS region,
                             CAST(amount AS DOUBLE) AS amount
                      FROM df WHERE CAST(amount AS DOUBLE) >= 3
                write: {{connection: lake, format: delta, path: silver/orders, mode: overwrite}}
              - name: by_region
                depends_on: [orders]
                transform:
                  steps:
                    - >-
                      SELECT region, count(*) AS orders, round(sum(amount), 2) AS revenue
                      FROM df GROUP BY region
                write: {{connection: lake, format: delta, path: gold/by_region, mode: overwrite}}
        """), encoding="utf-8")
    return root


def odibi_run(project: Path, cwd: Path, log: Path) -> int:
    """``odibi run <project>`` as its own process group (the driver, and its JVM), killed at
    the end whatever happens; the exit code. The driver's scratch space is under ``cwd``."""
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "odibi_dagster.cli.main", "run", str(project)],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, cwd=cwd,
            env=spark_env(cwd / "driver-local"), start_new_session=True)
        try:
            return proc.wait(timeout=RUN_TIMEOUT)
        except subprocess.TimeoutExpired:
            pytest.fail(f"odibi run did not finish within {RUN_TIMEOUT} s:\n"
                        f"{log.read_text(errors='replace')[-4000:]}")
        finally:
            kill_process_tree(proc)


def rows(path: Path, order_by: str) -> list[dict[str, object]]:
    table = DeltaTable(str(path)).to_pyarrow_table()
    return sorted(table.to_pylist(), key=lambda row: row[order_by])


def test_spark_project_runs_on_a_standalone_cluster(tmp_path: Path) -> None:
    with SparkStandaloneCluster(tmp_path / "spark") as cluster:
        project = write_project(tmp_path / "project", cluster.master_url)
        log = tmp_path / "odibi-run.log"
        code = odibi_run(project, tmp_path, log)
        output = log.read_text(encoding="utf-8", errors="replace")
        assert code == 0, f"odibi run exited with {code}:\n{output[-6000:]}\n{cluster.logs()}"
        assert "Run " in output and "succeeded" in output, output[-3000:]

        # The Delta tables hold what the SQL made of the CSV.
        assert rows(project / "lake" / "silver" / "orders", "order_id") == [
            {"order_id": 1, "region": "NORTH", "amount": 10.5},
            {"order_id": 2, "region": "SOUTH", "amount": 20.0},
            {"order_id": 3, "region": "NORTH", "amount": 4.5},
            {"order_id": 4, "region": "EAST", "amount": 7.0},
            {"order_id": 6, "region": "EAST", "amount": 3.0},
        ]
        assert rows(project / "lake" / "gold" / "by_region", "region") == [
            {"region": "EAST", "orders": 2, "revenue": 10.0},
            {"region": "NORTH", "orders": 2, "revenue": 15.0},
            {"region": "SOUTH", "orders": 1, "revenue": 20.0},
        ]

        # The master saw one application, the odibi session, which finished when the run ended.
        state = wait_until(
            lambda: (found := cluster.state()).get("completedapps") and not found["activeapps"]
            and found,
            30, what="the application completed on the master")
        apps = state["completedapps"]
        assert [(app["name"], app["state"]) for app in apps] == [("odibi", "FINISHED")], apps
        app = apps[0]
        assert app["cores"] == 1 and app["memoryperexecutor"] == 512, app

        # Its tasks ran in executors on the worker (usually one; on a loaded machine Spark may
        # replace an executor that was slow to register), which loaded the Delta jars the driver
        # served: spark.jars from the local Maven repository.
        app_dir = cluster.work_dir / app["id"]
        executors = sorted(path for path in app_dir.iterdir() if path.is_dir())
        assert executors, f"no executor ran in {app_dir}"
        logs = {path.name: (path / "stderr").read_text(encoding="utf-8", errors="replace")
                for path in executors}
        working = [name for name, text in logs.items() if "Executor: Finished task" in text]
        assert working, {name: text[-2000:] for name, text in logs.items()}
        for name in working:
            stderr = logs[name]
            assert "--driver-url\" \"spark://CoarseGrainedScheduler@127.0.0.1:" in stderr
            for jar in (f"delta-spark_{SCALA_VERSION}-{DELTA_VERSION}.jar",
                        f"delta-storage-{DELTA_VERSION}.jar"):
                assert re.search(rf"Fetching spark://127\.0\.0\.1:\d+/jars/{re.escape(jar)}",
                                 stderr), f"{jar} not fetched from the driver:\n{stderr[-3000:]}"
                assert re.search(rf"Adding file:\S*/{re.escape(jar)} to class loader", stderr), jar
                assert (app_dir / name / jar).is_file()
            assert "ERROR Executor" not in stderr, stderr[-6000:]  # no task failed
        finished = sum(len(re.findall(r"Executor: Finished task", logs[name])) for name in working)
        assert finished >= 4, finished
