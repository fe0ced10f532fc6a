"""Open a raygan report in real headless Chromium and save a screenshot.

    python scripts/check_report.py RUN_DIR/report.html out.png [HEIGHT]

HEIGHT: the window's height in pixels (default 3000); a long page (the samples of many
front configurations) needs more to be seen whole.

Not a test (it needs Chromium: `apt-get install -y chromium`): a look at the page as a
browser draws it. Exit 1 when the page references any resource outside itself (a report
must open offline, from an e-mail attachment) or Chromium writes no screenshot.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path

# attributes that make a browser fetch something
FETCHING = {"src", "href", "srcset", "poster", "data", "action", "background", "formaction"}
INLINE = ("data:", "#")  # resources inside the page itself
CSS_URL = re.compile(r"""url\(\s*['"]?([^'")\s]+)|@import\s+['"]?([^'";\s]+)""")


class _References(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        self._in_style = tag == "style"
        for name, value in attrs:
            if name == "srcset" and value:  # "a.png 1x, b.png 2x"
                self.found += [v.strip().split(" ")[0] for v in value.split(",")]
            elif name in FETCHING and value:
                self.found.append(value.strip())
            if name == "style" and value:
                self.handle_css(value)

    def handle_endtag(self, tag):
        self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.handle_css(data)

    def handle_css(self, css: str) -> None:
        self.found += [a or b for a, b in CSS_URL.findall(css)]


def external_references(page: str) -> list[str]:
    parser = _References()
    parser.feed(page)
    return [ref for ref in parser.found if ref and not ref.startswith(INLINE)]


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3) or (len(argv) == 3 and not argv[2].isdigit()):
        print("usage: python scripts/check_report.py REPORT.html OUT.png [HEIGHT]", file=sys.stderr)
        return 2
    report, shot = Path(argv[0]).resolve(), Path(argv[1]).resolve()
    height = int(argv[2]) if len(argv) == 3 else 3000
    external = external_references(report.read_text(encoding="utf-8"))
    if external:
        print(f"check_report: {report} references {len(external)} external resources:")
        for ref in external[:10]:
            print(f"  {ref[:120]}")
        return 1
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        print("check_report: no chromium on PATH (apt-get install -y chromium)", file=sys.stderr)
        return 1
    shot.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory() as profile:
        cmd = [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--host-resolver-rules=MAP * ~NOTFOUND",  # offline: a missed reference shows as broken
            f"--user-data-dir={profile}",
            f"--window-size=1200,{height}",
            f"--screenshot={shot}",
            report.as_uri(),
        ]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if not shot.is_file() or shot.stat().st_size == 0:
        print(f"check_report: chromium wrote no screenshot (exit {done.returncode})")
        print(done.stderr[-2000:])
        return 1
    print(f"{shot}: no external resources in {report.name}; screenshot {shot.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
