"""``format: api`` on every engine: a paginated JSON API with nested fields and nulls gives the
same rows and column types on pandas, polars and spark (the source builds one Arrow table; the
engine only receives it), and the same Delta table when written."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from conformance_projects import run_nodes
from deltalake import DeltaTable

from odibi_core.engines.base import Engine

# Three pages of two, then an empty page. `score` is null on page 1 and a number later, `tags`
# empty or null, `address` an object, null, or one with a null field, `vip` appears on page 3.
PAGES = [
    [{"id": 1, "name": "ada", "score": None, "tags": ["a", "b"],
      "address": {"city": "Oslo", "zip": None}, "joined": "2024-01-02T03:04:05Z"},
     {"id": 2, "name": None, "score": None, "tags": [], "address": None, "joined": None}],
    [{"id": 3, "name": "cy", "score": 2.5, "tags": None,
      "address": {"city": "Rome", "zip": "00100"}, "joined": "2024-02-03T04:05:06Z"},
     {"id": 4, "name": "di", "score": 7, "tags": ["c"], "address": {"city": None, "zip": "1"},
      "joined": "2024-03-04T05:06:07+01:00"}],
    [{"id": 5, "name": "ed", "score": -1.25, "tags": ["d"], "address": {"city": "Lima"},
      "joined": None, "vip": True}],
]

EXPECTED_TYPES = [
    ("id", "int64"), ("name", "string"), ("score", "float64"), ("tags", "array<string>"),
    ("address", "struct<city: string, zip: string>"), ("joined", "timestamp"), ("vip", "bool"),
]
EXPECTED_ROWS = [
    {"id": 1, "name": "ada", "score": None, "tags": ["a", "b"],
     "address": {"city": "Oslo", "zip": None}, "joined": "2024-01-02T03:04:05+00:00",
     "vip": None},
    {"id": 2, "name": None, "score": None, "tags": [], "address": None, "joined": None,
     "vip": None},
    {"id": 3, "name": "cy", "score": 2.5, "tags": None,
     "address": {"city": "Rome", "zip": "00100"}, "joined": "2024-02-03T04:05:06+00:00",
     "vip": None},
    {"id": 4, "name": "di", "score": 7.0, "tags": ["c"], "address": {"city": None, "zip": "1"},
     "joined": "2024-03-04T04:06:07+00:00", "vip": None},
    {"id": 5, "name": "ed", "score": -1.25, "tags": ["d"],
     "address": {"city": "Lima", "zip": None}, "joined": None, "vip": True},
]


@pytest.fixture
def api_port() -> Iterator[tuple[int, list[str]]]:
    """A loopback API serving PAGES at /v1/people?page=N (bearer token required); yields the
    port and the list of requested pages."""
    requested: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            query = parse_qs(urlsplit(self.path).query)
            page = int(query.get("page", ["1"])[0])
            requested.append(f"{page}/{query.get('per_page', ['?'])[0]}")
            if self.headers.get("Authorization") != "Bearer conformance-token":
                status, body = 401, {"error": "unauthorized"}
            else:
                status, body = 200, {"data": {"people": PAGES[page - 1]
                                              if page <= len(PAGES) else []}}
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield httpd.server_address[1], requested
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def write_api_project(root: Path, engine: Engine, port: int) -> Path:
    # conformance_projects.HEADER has local connections only: this project adds an http one.
    (root / "odibi.yaml").write_text(f"""\
project: conformance_api
engine: {engine.name}
connections:
  crm: {{type: http, base_url: "http://127.0.0.1:{port}/v1",
         auth: {{mode: bearer, token: conformance-token}}}}
  lake: {{type: local, base_path: ./lake}}
system: {{connection: lake, path: _system}}
pipelines:
  - pipeline: p
    nodes:
      - name: people
        read:
          connection: crm
          format: api
          path: /people
          options:
            records_path: data.people
            pagination: {{type: page, page_size_param: per_page, page_size: 2}}
            schema: {{joined: timestamp}}
        write: {{connection: lake, format: delta, path: people, mode: overwrite}}
""", encoding="utf-8")
    return root / "odibi.yaml"


def test_a_paginated_api_gives_the_same_rows_and_types_on_every_engine(
        engine: Engine, tmp_path: Path, api_port: tuple[int, list[str]]) -> None:
    port, requested = api_port
    runs = run_nodes(write_api_project(tmp_path, engine, port), engine)

    run = runs["people"]
    assert run.succeeded, run.result.error
    assert requested == ["1/2", "2/2", "3/2", "4/2"]  # stops at the empty 4th page
    assert [(c.name, c.type) for c in engine.schema(run.output)] == EXPECTED_TYPES
    rows = sorted(engine.to_rows(run.output), key=lambda row: row["id"])
    assert rows == EXPECTED_ROWS
    assert run.result.rows_written == 5

    written = DeltaTable(str(tmp_path / "lake" / "people")).to_pyarrow_table()
    assert [(f.name, str(f.type)) for f in written.schema] == [
        ("id", "int64"), ("name", "string"), ("score", "double"), ("tags", "list<element: string>"),
        ("address", "struct<city: string, zip: string>"),
        ("joined", "timestamp[us, tz=UTC]"), ("vip", "bool")]
    assert sorted(written.column("id").to_pylist()) == [1, 2, 3, 4, 5]
