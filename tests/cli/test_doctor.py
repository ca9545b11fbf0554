"""``odibi doctor``: every connection checked for real, a table printed, exit 1 on a failure."""

from __future__ import annotations

from pathlib import Path

import pytest

from odibi_dagster.cli.main import main


def test_doctor_passes_a_fresh_example(retail: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doctor", str(retail)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split() == ["connection", "type", "check", "result", "detail"]
    assert any(line.split()[:4] == ["landing", "local", "path", "exists"]
               and "landing:orders/*.csv" in line for line in lines)
    # The lake does not exist before the first run: it is created by the first write.
    assert any(line.startswith("lake") and "created on the first write" in line
               for line in lines)
    assert "All 2 connection(s) passed (environment default)." in out


def test_doctor_fails_on_a_missing_input(retail: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    (retail / "landing" / "customers" / "customers.csv").unlink()
    assert main(["doctor", str(retail)]) == 1
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if "customers/customers.csv" in line)
    assert "FAILED" in row and "nothing there yet" in row
    assert "1 of 2 connection(s) failed a check (environment default): landing." in out
