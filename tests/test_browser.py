"""The Composer in a real browser: Voila on 127.0.0.1, driven by Playwright in Debian's Chromium.

Recipe and pitfalls: docs/jupyter.md#the-browser-test. Every step that follows typing first
waits for an element the kernel computes (a click can overtake the typed value's sync
otherwise), and every request that is not to 127.0.0.1 is aborted (Voila's CDN font CSS).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "tests" / "browser_app" / "composer.ipynb"
SHEET = ROOT / "sample_data" / "recipients.csv"
SCREENSHOT = ROOT / "test-artifacts" / "composer.png"
CHROMIUM = Path("/usr/bin/chromium")
CHROME_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync"]
API_KEY = "CANARY:b70w5er-api"
CHANNEL_KEY = "twlo_16175558888"
WAIT = 60_000  # ms: a cold kernel on a busy 2-core machine

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (/usr/bin/chromium)"),
]


def _free_port() -> int:
    with socket.socket() as s:  # Voila --port=0 does not work (docs/jupyter.md#voila)
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def voila_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Voila serving the browser app on a free loopback port; stopped (and its kernel) after."""
    home = tmp_path_factory.mktemp("jupyter")
    port = _free_port()
    log = home / "voila.log"
    bindir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bindir}:{os.environ['PATH']}",
           "JUPYTER_CONFIG_DIR": str(home / "config"), "JUPYTER_RUNTIME_DIR": str(home / "run")}
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [str(bindir / "voila"), str(APP), "--no-browser", "--Voila.ip=127.0.0.1",
             f"--port={port}", "--Voila.port_retries=0", "--show_tracebacks=True"],
            stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, env=env,
        )
        try:
            deadline = time.monotonic() + 60
            while True:  # ready = port open (GET / would start a kernel)
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("voila did not start:\n" + log.read_text())
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.1)
            yield f"http://127.0.0.1:{port}/"
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless (module scope: sync_playwright holds a running loop)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROME_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A page that can reach 127.0.0.1 only."""
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    context.route(re.compile(r"^https?://(?!127\.0\.0\.1[:/])"), lambda route: route.abort())
    yield context.new_page()
    context.close()


def test_composer_in_chromium(voila_url: str, page: Any) -> None:
    """Load, configure, type, step to row 3, see UCS-2 from a curly quote, dry run, results."""
    from playwright.sync_api import expect

    page.goto(voila_url)
    path = page.locator(".ck-path input")
    expect(path).to_be_visible(timeout=WAIT)  # Voila shows widgets once every cell ran

    path.fill(str(SHEET))
    path.press("Enter")  # loads (a Load click could overtake the typed path's sync)
    expect(page.locator(".ck-row-info")).to_have_text("rows 2–66 (64 recipients)", timeout=WAIT)
    expect(page.locator(".ck-load-summary")).to_contain_text("valid59")

    for name, value in (("api_key", API_KEY), ("channel_key", CHANNEL_KEY)):
        secret = page.locator(f".ck-{name} input")
        secret.fill(value)
        secret.press("Tab")  # the field syncs on leaving it, then the kernel empties it
        expect(secret).to_have_value("", timeout=WAIT)
    expect(page.locator(".ck-channel")).to_have_text("Channel: sociocs:twlo")

    template = page.locator(".ck-template textarea")
    preview = page.locator(".ck-preview .ck-text")
    counter = page.locator(".ck-segments")
    template.press_sequentially("Hi {{ first_name }}, see you soon.")
    expect(preview).to_have_text("Hi Olivia, see you soon.", timeout=WAIT)  # sync barrier
    expect(counter).to_have_text("GSM-7 · 1 segment · 24 characters")

    page.locator("button.ck-next").click()
    expect(page.locator(".ck-row input")).to_have_value("3", timeout=WAIT)
    expect(preview).to_have_text("Hi José, see you soon.")
    expect(page.locator(".ck-to")).to_have_text("to +34612345601")

    template.press("End")
    template.press_sequentially(" It’s on.")
    expect(counter).to_have_text("UCS-2 · 1 segment · 31 characters", timeout=WAIT)
    expect(page.locator(".ck-preview mark.ck-ucs2")).to_have_text("’")
    suggest = page.locator("button.ck-suggest")
    expect(suggest).to_have_text("Use GSM-7 look-alikes: ’ → '")
    suggest.click()
    expect(template).to_have_value("Hi {{ first_name }}, see you soon. It's on.", timeout=WAIT)
    expect(counter).to_have_text("GSM-7 · 1 segment · 31 characters")
    expect(page.locator(".ck-request")).to_contain_text('"channel_key": "[redacted]"')

    page.locator("button.ck-dry-run").click()
    results = page.locator(".ck-results table")
    expect(page.locator(".ck-progress-text")).to_have_text(
        "<ResultsSummary recipients (dry-run): 58 dry-run, 6 skipped>", timeout=WAIT)
    expect(results.locator("tbody tr")).to_have_count(64)
    expect(results.locator("tbody tr").nth(1)).to_contain_text("3+34612345601dry-run")
    expect(page.locator(".ck-chart-box .ck-bar")).to_have_count(2)

    html_text = page.content()
    values = page.locator("input, textarea").evaluate_all("els => els.map(e => e.value)")
    assert [html_text.count(API_KEY), html_text.count(CHANNEL_KEY)] == [0, 0]
    assert [v for v in values if API_KEY in v or CHANNEL_KEY in v] == []

    SCREENSHOT.parent.mkdir(exist_ok=True)
    # Voila scrolls inside its own container, so full_page alone would show one screen.
    height = page.evaluate("document.querySelector('.ck-composer').scrollHeight")
    page.set_viewport_size({"width": 1100, "height": int(height) + 120})
    page.screenshot(path=str(SCREENSHOT), full_page=True)
