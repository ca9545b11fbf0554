"""Debian's Chromium, headless, for tests that look at pages: the DOM it built and screenshots.

``chromium(*args, profile=...)`` runs one command (``--dump-dom URL``, ``--screenshot=PNG URL``)
with the flags this machine needs (no sandbox as root; no background networking, which a closed
network refuses) in its own process group, killed with its helpers afterwards, bounded in time.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from html.parser import HTMLParser
from pathlib import Path

__all__ = ["BROWSER_TIMEOUT", "PNG_MAGIC", "VisibleText", "chromium"]

BROWSER_TIMEOUT = 120  # seconds per Chromium call; about 5 on a small machine
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
          "--no-first-run", "--disable-background-networking", "--disable-component-update",
          "--disable-sync")


class VisibleText(HTMLParser):
    """The text nodes of a DOM (SVG ``<text>`` included), without ``<style>`` / ``<script>`` /
    ``<title>``."""

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


def chromium(*args: str, profile: Path) -> subprocess.CompletedProcess[bytes]:
    """Run headless Chromium with ``args`` and the profile folder ``profile``; assert it
    succeeded."""
    binary = shutil.which("chromium") or "/usr/bin/chromium"
    assert Path(binary).exists(), "Debian's chromium is required (apt-get install chromium)"
    command = [binary, *_FLAGS, f"--user-data-dir={profile}", *args]
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
