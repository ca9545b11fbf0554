"""Command-line tools the tests run from the npm registry (Azurite, the YAML language server),
installed into ``.ci/node`` on first use: bounded in time, one installer at a time."""

from __future__ import annotations

import fcntl
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NODE_PREFIX = REPO / ".ci" / "node"
INSTALL_TIMEOUT = 600.0


def npm_binary(package: str, version: str, command: str) -> Path:
    """``command`` of npm ``package@version`` from ``.ci/node``, installed when missing."""
    binary = NODE_PREFIX / "node_modules" / ".bin" / command
    if binary.exists():
        return binary
    NODE_PREFIX.mkdir(parents=True, exist_ok=True)
    with open(NODE_PREFIX / ".install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not binary.exists():
            done = subprocess.run(
                ["npm", "install", "--prefix", str(NODE_PREFIX), "--no-audit", "--no-fund",
                 "--loglevel=error", f"{package}@{version}"],
                capture_output=True, text=True, timeout=INSTALL_TIMEOUT)
            if done.returncode != 0 or not binary.exists():
                raise RuntimeError(f"npm install {package}@{version} failed:\n"
                                   f"{done.stdout}\n{done.stderr}")
    return binary
