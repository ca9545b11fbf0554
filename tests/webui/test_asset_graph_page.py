"""The web UI's asset graph of examples/retail, rendered by headless Chromium (Debian
``chromium``) from a running ``dagster-webserver``.

The "sales" asset group page draws the group's four assets and links to their three upstream
bronze assets, so every node of the project is on it. The DOM Chromium built must name them all;
the screenshot is kept as ``test-artifacts/asset-graph-sales.png`` (and the global lineage page
as ``test-artifacts/asset-lineage.png``).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from html.parser import HTMLParser
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.webui.dagster_server import DagsterServer
from tests.webui.retail_flow import RETAIL_ASSETS

pytestmark = pytest.mark.slow

BROWSER_TIMEOUT = 120  # seconds per Chromium call; about 5 on a small machine
VIRTUAL_TIME_MS = 20_000  # lets the single-page app fetch over GraphQL and lay the graph out
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class VisibleText(HTMLParser):
    """The text nodes of a DOM, without ``<style>`` / ``<script>`` / ``<title>``."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._hidden += tag in ("style", "title", "script")

    def handle_endtag(self, tag: str) -> None:
        self._hidden -= tag in ("style", "title", "script")

    def handle_data(self, data: str) -> None:
        if not self._hidden and data.strip():
            self.parts.append(data.strip())


def _chromium(url: str, *args: str, profile: Path) -> subprocess.CompletedProcess[bytes]:
    binary = shutil.which("chromium") or "/usr/bin/chromium"
    assert Path(binary).exists(), "Debian's chromium is required (apt-get install chromium)"
    command = [binary, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
               "--no-first-run", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", f"--user-data-dir={profile}",
               "--window-size=1600,1000", f"--virtual-time-budget={VIRTUAL_TIME_MS}", *args, url]
    proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=BROWSER_TIMEOUT)
    finally:  # Chromium's helper processes too, even after a timeout
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=10)
    assert proc.returncode == 0, stderr.decode(errors="replace")[-2000:]
    return subprocess.CompletedProcess(command, proc.returncode, stdout, stderr)


def test_asset_graph_page_shows_the_project(start_dagster: Callable[..., DagsterServer],
                                            retail: Path, dagster_home: Path, tmp_path: Path,
                                            artifacts_dir: Path) -> None:
    config = dagster_home / "dagster.yaml"  # no "Join the Dagster community" pop-up over the graph
    config.write_text(config.read_text(encoding="utf-8") + "nux:\n  enabled: false\n",
                      encoding="utf-8")
    server = start_dagster(retail, daemon=False)
    page = f"{server.url}/locations/{server.location_name}/asset-groups/sales"
    profile = tmp_path / "chromium-profile"

    dom = _chromium(page, "--dump-dom", profile=profile).stdout.decode("utf-8")
    text = VisibleText()
    text.feed(dom)
    names = {key.split("/")[1] for key in RETAIL_ASSETS}
    missing = names - set(text.parts)
    assert not missing, f"{sorted(missing)} not on {page}; texts seen: {text.parts[:80]}"
    assert "sales" in text.parts and "pandas" in text.parts and "delta" in text.parts

    screenshot = artifacts_dir / "asset-graph-sales.png"
    screenshot.unlink(missing_ok=True)
    _chromium(page, f"--screenshot={screenshot}", profile=profile)
    assert screenshot.read_bytes()[:8] == PNG_MAGIC and screenshot.stat().st_size > 50_000

    lineage = artifacts_dir / "asset-lineage.png"  # every group, collapsed
    lineage.unlink(missing_ok=True)
    _chromium(f"{server.url}/asset-groups", f"--screenshot={lineage}", profile=profile)
    assert lineage.read_bytes()[:8] == PNG_MAGIC
    print(f"\nasset graph screenshots: {screenshot} {lineage}")
