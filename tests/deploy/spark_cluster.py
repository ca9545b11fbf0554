"""A throw-away Spark standalone cluster on loopback for tests: one master and one worker,
started from the installed pyspark package's own launcher (``pyspark/bin/spark-class``)::

    with SparkStandaloneCluster(tmp_path / "spark") as cluster:
        cluster.master_url        # spark://127.0.0.1:<port>, for spark.master
        cluster.state()           # the master's web UI JSON (workers, activeapps, completedapps)
        cluster.work_dir          # the worker's --work-dir: app-*/<executor id>/stderr, jars

- Every port is free on 127.0.0.1 (master RPC, master and worker web UIs); every process binds
  to 127.0.0.1 (``--host`` and ``SPARK_LOCAL_IP``); the master's REST submission server (port
  6066 by default in Spark 4) is turned off.
- ``SPARK_HOME`` is the pyspark package folder (its ``jars/`` is the executors' classpath);
  ``SPARK_CONF_DIR`` is a folder of the cluster's own, so no ``spark-defaults.conf`` or
  ``spark-env.sh`` of the machine applies; scratch space (``SPARK_LOCAL_DIRS``, the JVMs'
  ``java.io.tmpdir``) and the worker's work dir are under ``root``.
- ``PYSPARK_PYTHON`` is this interpreter, so Python workers of executors use the same venv.
- ``start()`` waits (bounded) until the master's ``/json/`` lists exactly one ALIVE worker.
- ``stop()`` SIGKILLs each process group (the worker's executors are in the worker's group)
  and any descendant left.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tests.processes import free_port, kill_process_tree, wait_until

__all__ = ["PYSPARK_HOME", "SparkStandaloneCluster", "spark_env"]


def _pyspark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).resolve().parent


PYSPARK_HOME = _pyspark_home()
HOST = "127.0.0.1"


def spark_env(scratch: Path, **extra: str) -> dict[str, str]:
    """This process's environment for a Spark process on loopback: ``SPARK_HOME`` (the pyspark
    package), ``SPARK_LOCAL_IP=127.0.0.1``, ``PYSPARK_PYTHON`` (this interpreter), no Spark
    Connect or submit arguments inherited from the caller; Spark's scratch space
    (``SPARK_LOCAL_DIRS``), Java's and Python's temporary files (``java.io.tmpdir`` through
    ``JAVA_TOOL_OPTIONS``, ``TMPDIR``) in ``scratch``, created; then ``extra``."""
    scratch.mkdir(parents=True, exist_ok=True)
    env = {key: value for key, value in os.environ.items()
           if key not in ("SPARK_CONF_DIR", "SPARK_REMOTE", "SPARK_CONNECT_MODE_ENABLED",
                          "PYSPARK_SUBMIT_ARGS", "PYSPARK_DRIVER_PYTHON", "MASTER")}
    java_options = f"{env.get('JAVA_TOOL_OPTIONS', '')} -Djava.io.tmpdir={scratch}".strip()
    env.update(SPARK_HOME=str(PYSPARK_HOME), SPARK_LOCAL_IP=HOST,
               PYSPARK_PYTHON=sys.executable, SPARK_LOCAL_DIRS=str(scratch), TMPDIR=str(scratch),
               JAVA_TOOL_OPTIONS=java_options)
    env.update(extra)
    return env


class SparkStandaloneCluster:
    """One Spark standalone master and one worker; see the module docstring."""

    def __init__(self, root: Path, *, cores: int = 1, memory: str = "1g",
                 daemon_memory: str = "512m", start_timeout: float = 90) -> None:
        self.root = root
        self.cores, self.memory = cores, memory
        self.daemon_memory = daemon_memory
        self.start_timeout = start_timeout
        self.port = free_port()
        self.webui_port = free_port()
        self.worker_webui_port = free_port()
        self.work_dir = root / "work"
        self.conf_dir = root / "conf"
        self.local_dir = root / "local"
        self.master_log = root / "master.log"
        self.worker_log = root / "worker.log"
        self._procs: list[subprocess.Popen[bytes]] = []

    @property
    def master_url(self) -> str:
        return f"spark://{HOST}:{self.port}"

    @property
    def web_url(self) -> str:
        return f"http://{HOST}:{self.webui_port}"

    # ---- lifecycle ---------------------------------------------------------------------
    def __enter__(self) -> SparkStandaloneCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> SparkStandaloneCluster:
        for folder in (self.work_dir, self.conf_dir, self.local_dir):
            folder.mkdir(parents=True, exist_ok=True)
        properties = self.conf_dir / "spark-defaults.conf"
        properties.write_text("spark.master.rest.enabled false\n", encoding="utf-8")
        try:
            self._launch("org.apache.spark.deploy.master.Master", self.master_log,
                         "--host", HOST, "--port", str(self.port),
                         "--webui-port", str(self.webui_port),
                         "--properties-file", str(properties))
            wait_until(lambda: self._alive(0) and self.state().get("status") == "ALIVE",
                       self.start_timeout, what=f"Spark master at {self.web_url}")
            self._launch("org.apache.spark.deploy.worker.Worker", self.worker_log,
                         self.master_url, "--host", HOST, "--cores", str(self.cores),
                         "--memory", self.memory, "--webui-port", str(self.worker_webui_port),
                         "--work-dir", str(self.work_dir), "--properties-file", str(properties))
            wait_until(lambda: self._alive(1) and len(self.alive_workers()) == 1,
                       self.start_timeout, what="a Spark worker registered with the master")
        except BaseException as exc:
            logs = self.logs()
            self.stop()
            if isinstance(exc, (TimeoutError, RuntimeError)):
                raise RuntimeError(f"{exc}\n{logs}") from exc
            raise
        return self

    def stop(self) -> None:
        for proc in reversed(self._procs):  # the worker (and its executors) first
            kill_process_tree(proc)
        self._procs.clear()

    # ---- state -------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """The master's web UI JSON (``{}`` while it does not answer)."""
        try:
            with urllib.request.urlopen(f"{self.web_url}/json/", timeout=5) as answer:
                return dict(json.load(answer))
        except (OSError, urllib.error.URLError, ValueError):
            return {}

    def alive_workers(self) -> list[dict[str, Any]]:
        return [worker for worker in self.state().get("workers", [])
                if worker.get("state") == "ALIVE"]

    def logs(self, chars: int = 4000) -> str:
        """The tails of the master's and the worker's logs, for assertion messages."""
        parts = []
        for path in (self.master_log, self.worker_log):
            try:
                text = path.read_text(encoding="utf-8", errors="replace")[-chars:]
            except OSError:
                text = "(none)"
            parts.append(f"--- {path.name} ---\n{text}")
        return "\n".join(parts)

    # ---- internals ---------------------------------------------------------------------
    def _launch(self, main_class: str, log: Path, *args: str) -> None:
        env = spark_env(self.local_dir, SPARK_CONF_DIR=str(self.conf_dir),
                        SPARK_DAEMON_MEMORY=self.daemon_memory)
        with open(log, "wb") as out:
            self._procs.append(subprocess.Popen(
                [str(PYSPARK_HOME / "bin" / "spark-class"), main_class, *args],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env,
                cwd=self.root, start_new_session=True))

    def _alive(self, index: int) -> bool:
        proc = self._procs[index]
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args[1]} exited with code {proc.returncode}")
        return True
