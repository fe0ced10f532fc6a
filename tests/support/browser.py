"""Headless Chromium for tests: render a page (single-page apps included) and read what
it shows.

Chromium's own command line (``--dump-dom``, ``--screenshot``) rather than a driver
library: the tests only need a page rendered once, and the command line needs no Python
package and no browser download.
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# No network but the page's own server: no updates, sync, QUIC probes or first-run pages.
FLAGS = (
    "--headless",
    "--no-sandbox",  # tests run as root in containers, where the sandbox cannot start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)


def find_chromium() -> str | None:
    """The path of an installed Chromium or Chrome, or None."""
    for name in NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


def _run(browser: str, url: str, *extra: str, budget_ms: int, timeout_s: float) -> str:
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        done = subprocess.run(
            [
                browser,
                *FLAGS,
                f"--user-data-dir={profile}",
                # virtual time: the page's timers and fetches run until it is idle or the
                # budget is spent, so a single-page app has drawn before the dump
                f"--virtual-time-budget={budget_ms}",
                *extra,
                url,
            ],
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )
    if done.returncode != 0:
        raise RuntimeError(f"chromium exited {done.returncode} on {url}: {done.stderr[-2000:]}")
    return done.stdout


def render(browser: str, url: str, *, budget_ms: int = 15000, timeout_s: float = 60) -> str:
    """The DOM of ``url`` after its scripts ran (HTML text). RuntimeError if Chromium fails."""
    return _run(browser, url, "--dump-dom", budget_ms=budget_ms, timeout_s=timeout_s)


def screenshot(
    browser: str,
    url: str,
    path: Path,
    *,
    size: tuple[int, int] = (1400, 1000),
    budget_ms: int = 15000,
    timeout_s: float = 60,
) -> Path:
    """A PNG of ``url`` as a ``size`` (pixels) window shows it, written to ``path``."""
    _run(
        browser,
        url,
        f"--window-size={size[0]},{size[1]}",
        f"--screenshot={path}",
        budget_ms=budget_ms,
        timeout_s=timeout_s,
    )
    return path


def visible_text(dom: str) -> str:
    """The text a reader sees in ``dom``: tags, scripts, styles and SVG drawings dropped,
    entities decoded, whitespace collapsed to single spaces."""
    text = re.sub(r"<(script|style|svg)\b.*?</\1>", " ", dom, flags=re.S | re.I)
    text = html.unescape(re.sub(r"<[^>]+>", " ", text))
    return re.sub(r"\s+", " ", text).strip()
