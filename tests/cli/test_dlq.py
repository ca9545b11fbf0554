"""Dead letters end to end: a run through Dagster sets bad records aside, `odibi dlq show` lists
them, `odibi dlq replay` appends the fixed ones through the node's lifecycle."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import pytest
from deltalake import DeltaTable

from odibi_dagster.cli.main import main

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "dead_letters"

PROJECT = """\
project: dlq
connections:
  landing: {type: local, base_path: ./landing}
  lake: {type: local, base_path: ./lake}
story: {connection: lake, path: _stories}
system: {connection: lake, path: _system}
pipelines:
  - pipeline: shop
    nodes:
      - name: orders
        read:
          connection: landing
          format: csv
          path: orders.csv
          dead_letter: {connection: lake, path: _dlq/orders, max_bad_fraction: 0.6}
        transform:
          steps:
            - SELECT order_id, upper(customer) AS customer, amount FROM df
        write: {connection: lake, format: delta, path: silver/orders}
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "landing").mkdir()
    shutil.copy(FIXTURES / "orders.csv", tmp_path / "landing" / "orders.csv")
    (tmp_path / "odibi.yaml").write_text(PROJECT, encoding="utf-8")
    return tmp_path


def ids(project: Path) -> list[int]:
    table = DeltaTable(str(project / "lake" / "silver" / "orders")).to_pandas()
    return sorted(int(i) for i in table["order_id"])


def test_run_show_and_replay(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(project)]) == 0
    out = capsys.readouterr().out
    assert "4 dead-lettered" in out
    assert ids(project) == [1, 2, 7, 8]
    with dg.DagsterInstance.get() as instance:
        event = instance.get_latest_materialization_event(dg.AssetKey(["shop", "orders"]))
        assert event is not None
        assert event.asset_materialization.metadata["odibi/dead_letter_rows"].value == 4

    # Running the same batch again does not duplicate the dead letters.
    assert main(["run", str(project)]) == 0
    capsys.readouterr()
    assert main(["dlq", "show", str(project), "--node", "orders"]) == 0
    shown = capsys.readouterr().out
    assert "4 dead letter(s)" in shown and "4 pending" in shown
    assert "orders.csv:5" in shown and "3,cy,3.00,ok,EXTRA" in shown

    fixes = project / "fixes.csv"
    fixes.write_text('source_file,line,raw\norders.csv,5,"3,cy,3.00,ok"\n'
                     'orders.csv,6,"4,dee,1.00,ok"\n', encoding="utf-8")
    assert main(["dlq", "replay", str(project), "--node", "orders", "--corrections", str(fixes),
                 "--dry-run"]) in (0, 1)
    assert ids(project) == [1, 2, 7, 8]  # a dry run appends nothing
    capsys.readouterr()

    code = main(["dlq", "replay", str(project), "--node", "orders", "--corrections", str(fixes)])
    replayed = capsys.readouterr().out
    assert "replayed" in replayed
    assert {3, 4} <= set(ids(project))
    table = DeltaTable(str(project / "lake" / "silver" / "orders")).to_pandas()
    assert "CY" in set(table["customer"])  # the node's transform ran on the replayed rows
    assert code == (0 if "0 still fail" in replayed else 1)

    # Replayed dead letters are not replayed twice.
    before = ids(project)
    main(["dlq", "replay", str(project), "--node", "orders", "--corrections", str(fixes)])
    assert ids(project) == before


def test_dlq_on_a_node_without_dead_letter_says_how_to_add_one(
        retail: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dlq", "show", str(retail), "--node", "raw_orders"]) == 1
    err = capsys.readouterr().err
    assert "no read.dead_letter" in err and "Fix:" in err and "odibi.yaml:" in err
