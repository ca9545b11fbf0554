"""The web UI's asset graph of examples/retail, rendered by headless Chromium (Debian
``chromium``) from a running ``dagster-webserver``.

The "sales" asset group page draws the group's four assets and links to their three upstream
bronze assets, so every node of the project is on it. The DOM Chromium built must name them all;
the screenshot is kept as ``test-artifacts/asset-graph-sales.png`` (and the global lineage page
as ``test-artifacts/asset-lineage.png``).
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.headless_chromium import PNG_MAGIC, VisibleText, chromium
from tests.webui.dagster_server import DagsterServer
from tests.webui.retail_flow import RETAIL_ASSETS

pytestmark = pytest.mark.slow

VIRTUAL_TIME_MS = 20_000  # lets the single-page app fetch over GraphQL and lay the graph out


def _page(url: str, *args: str, profile: Path) -> subprocess.CompletedProcess[bytes]:
    return chromium("--window-size=1600,1000", f"--virtual-time-budget={VIRTUAL_TIME_MS}",
                    *args, url, profile=profile)


def test_asset_graph_page_shows_the_project(start_dagster: Callable[..., DagsterServer],
                                            retail: Path, dagster_home: Path, tmp_path: Path,
                                            artifacts_dir: Path) -> None:
    config = dagster_home / "dagster.yaml"  # no "Join the Dagster community" pop-up over the graph
    config.write_text(config.read_text(encoding="utf-8") + "nux:\n  enabled: false\n",
                      encoding="utf-8")
    server = start_dagster(retail, daemon=False)
    page = f"{server.url}/locations/{server.location_name}/asset-groups/sales"
    profile = tmp_path / "chromium-profile"

    dom = _page(page, "--dump-dom", profile=profile).stdout.decode("utf-8")
    text = VisibleText()
    text.feed(dom)
    names = {key.split("/")[1] for key in RETAIL_ASSETS}
    missing = names - set(text.parts)
    assert not missing, f"{sorted(missing)} not on {page}; texts seen: {text.parts[:80]}"
    assert "sales" in text.parts and "pandas" in text.parts and "delta" in text.parts

    screenshot = artifacts_dir / "asset-graph-sales.png"
    screenshot.unlink(missing_ok=True)
    _page(page, f"--screenshot={screenshot}", profile=profile)
    assert screenshot.read_bytes()[:8] == PNG_MAGIC and screenshot.stat().st_size > 50_000

    lineage = artifacts_dir / "asset-lineage.png"  # every group, collapsed
    lineage.unlink(missing_ok=True)
    _page(f"{server.url}/asset-groups", f"--screenshot={lineage}", profile=profile)
    assert lineage.read_bytes()[:8] == PNG_MAGIC
    print(f"\nasset graph screenshots: {screenshot} {lineage}")
