"""The Composer in a real browser: Voila on 127.0.0.1, driven by Playwright in Debian's Chromium.

One Voila server serves the repository (tree mode) for the whole module: the test app
(tests/browser_app/composer.ipynb: a temporary ledger, a fixed clock, retries
without waits) and the shipped notebook. Every step that follows typing waits for an
element the kernel computes first (a click can overtake the typed value's sync otherwise),
and every request that is not to 127.0.0.1 is aborted (Voila's CDN font CSS;
docs/jupyter.md#the-browser-test).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
APP = "tests/browser_app/composer.ipynb"
SHIPPED = "notebooks/composer.ipynb"
SHEET = ROOT / "sample_data" / "recipients.csv"
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROME_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync"]
API_KEY = "CANARY:b70w5er-api"
CHANNEL_KEY = "twlo_16175558888"
MESSAGE = "Hi {{ first_name }}, see you soon. Reply STOP to opt out."
BIG = 50_000
WAIT = 60_000  # ms: a cold kernel on a busy 2-core machine
LONG = 300_000  # ms: 50,000 rows through the sandbox on 2 busy cores
PANELS = ("recipients", "provider", "message", "preview", "guardrails", "send", "happened")

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
def voila(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """Voila serving the repository on a free loopback port: (base URL, its log)."""
    home = tmp_path_factory.mktemp("jupyter")
    port = _free_port()
    log = home / "voila.log"
    bindir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bindir}:{os.environ['PATH']}",
           "JUPYTER_CONFIG_DIR": str(home / "config"), "JUPYTER_RUNTIME_DIR": str(home / "run")}
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [str(bindir / "voila"), str(ROOT), "--no-browser", "--Voila.ip=127.0.0.1",
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
            yield f"http://127.0.0.1:{port}/voila/render/", log
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


@pytest.fixture(scope="module")
def big_sheet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """50,000 recipients with distinct valid UK mobile numbers (in their window at 15:00 UTC)."""
    path = tmp_path_factory.mktemp("sheets") / "big.csv"
    lines = ["Patient ID,First Name,Phone,Clinic"] + [
        f"{100_000 + i},Name{i % 97},+447400{i:06d},Clinic {i % 7}" for i in range(BIG)]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def open_app(browser: Any, voila: tuple[str, Path]) -> Iterator[Callable[..., Any]]:
    """Open a notebook in a fresh page (a fresh kernel) at a viewport size; loopback only."""
    contexts: list[Any] = []

    def opener(notebook: str = APP, width: int = 1366, height: int = 768) -> Any:
        from playwright.sync_api import expect

        context = browser.new_context(viewport={"width": width, "height": height})
        context.route(re.compile(r"^https?://(?!127\.0\.0\.1[:/])"), lambda r: r.abort())
        contexts.append(context)
        page = context.new_page()
        page.goto(voila[0] + notebook)
        expect(page.locator(".ck-path input")).to_be_visible(timeout=WAIT)
        return page

    yield opener
    for context in contexts:
        context.close()


def _load(page: Any, sheet: Path, rows: str, countries: str = "") -> None:
    from playwright.sync_api import expect

    if countries:
        field = page.locator(".ck-countries input")
        field.fill(countries)
        field.press("Tab")  # syncs on leaving the field, before the path's Enter loads
    path = page.locator(".ck-path input")
    path.fill(str(sheet))
    path.press("Enter")  # loads (a Load click could overtake the typed path's sync)
    expect(page.locator(".ck-load-summary")).to_contain_text(f"{rows} rows", timeout=WAIT)


def _keys(page: Any, channel_key: str = CHANNEL_KEY) -> None:
    from playwright.sync_api import expect

    for name, value in (("api_key", API_KEY), ("channel_key", channel_key)):
        secret = page.locator(f".ck-{name} input")
        secret.fill(value)
        secret.press("Tab")  # the field syncs on leaving it, then the kernel empties it
        expect(secret).to_have_value("", timeout=WAIT)


def _type(page: Any, text: str, shown: str) -> None:
    """Type the message; wait for the phone to show ``shown`` (the sync barrier)."""
    from playwright.sync_api import expect

    editor = page.locator(".ck-editor-text")
    editor.fill("")
    editor.press_sequentially(text)
    expect(page.locator(".ck-preview .ck-bubble")).to_have_text(shown, timeout=WAIT)


def _set(page: Any, selector: str, value: str) -> None:
    field = page.locator(selector)
    field.fill(value)
    field.press("Tab")


def _no_quiet_hours(page: Any) -> None:
    from playwright.sync_api import expect

    page.locator(".ck-quiet input").uncheck()
    expect(page.locator(".ck-totals")).not_to_contain_text("deferred", timeout=WAIT)


def _secrets_absent(page: Any) -> None:
    content = page.content()
    values = page.locator("input, textarea").evaluate_all("els => els.map(e => e.value)")
    assert [content.count(API_KEY), content.count(CHANNEL_KEY)] == [0, 0]
    assert [v for v in values if API_KEY in v or CHANNEL_KEY in v] == []


# -- Why: big sends freeze with wrong numbers; keystrokes are slow at 50k -----------------------


def test_dry_run_of_50k_rows_ends_with_the_right_totals(
    open_app: Callable[..., Any], big_sheet: Path, voila: tuple[str, Path]
) -> None:
    """50,000 rows: typing updates the phone, the totals settle, the dry run ends with the
    right totals and the IOPub limit is never hit (progress is throttled)."""
    from playwright.sync_api import expect

    page = open_app()
    _load(page, big_sheet, "50,000", countries="GB")
    _keys(page)
    _type(page, "Hi {{ first_name }}, see you. Reply STOP to opt out",
          "Hi Name0, see you. Reply STOP to opt out")
    expect(page.locator(".ck-totals")).to_have_text(
        re.compile(r"^50,000 of 50,000 rows ready · 50,000 segments · about \$2,250.00 "
                   r"\(estimate\)$"), timeout=WAIT)
    _set(page, ".ck-rate input", "10000")
    page.locator("button.ck-dry-run").click()
    expect(page.locator(".ck-summary .ck-headline")).to_have_text(
        "Dry run finished: 50,000 rows · 50,000 accepted by the sandbox", timeout=LONG)
    expect(page.locator(".ck-progress-text")).to_have_text(
        "dry-run: 50,000 of 50,000 rows · done")
    expect(page.locator(".ck-results tbody tr")).to_have_count(200)
    expect(page.locator(".ck-results .ck-more")).to_have_text("… and 49,800 more rows")
    assert "IOPub message rate exceeded" not in voila[1].read_text()
    _secrets_absent(page)


def test_stop_shows_results_and_the_confirmation_counts_the_rest(
    open_app: Callable[..., Any], big_sheet: Path
) -> None:
    """A live send of 50,000 rows to the loopback sandbox, stopped: the results appear, the
    sheet is locked meanwhile, and Send live then confirms only the rows still to send."""
    from playwright.sync_api import expect

    page = open_app()
    _load(page, big_sheet, "50,000", countries="GB")
    _keys(page)
    page.locator(".ck-endpoint select").select_option(label="the sandbox on this machine")
    expect(page.locator(".ck-channel")).to_contain_text("→ 127.0.0.1:", timeout=WAIT)
    _type(page, "Hi {{ first_name }}. Reply STOP to opt out", "Hi Name0. Reply STOP to opt out")
    _set(page, ".ck-rate input", "500")
    expect(page.locator(".ck-totals")).to_contain_text("50,000 of 50,000 rows ready",
                                                       timeout=WAIT)
    page.locator("button.ck-send").click()
    confirm = page.locator(".ck-confirm-sentence")
    expect(confirm).to_contain_text("Send 50,000 messages (50,000 segments", timeout=WAIT)
    expect(confirm).to_contain_text("recipients via 127.0.0.1:")
    page.locator("button.ck-confirm-send").click()
    expect(page.locator(".ck-progress-text")).to_have_text(
        re.compile(r"^live: [1-9][\d,]* of 50,000 rows$"), timeout=LONG)
    expect(page.locator(".ck-path input")).to_be_disabled()  # loading is locked
    page.locator("button.ck-stop").click()
    headline = page.locator(".ck-summary .ck-headline")
    expect(headline).to_have_text(re.compile(r"^Live send stopped: 50,000 rows · [\d,]+ sent · "
                                             r"[\d,]+ waiting \(not sent yet\)$"), timeout=WAIT)
    expect(page.locator(".ck-path input")).to_be_enabled()
    found = re.search(r"([\d,]+) sent · ([\d,]+) waiting", headline.inner_text())
    assert found is not None
    sent, waiting = (int(n.replace(",", "")) for n in found.groups())
    assert sent + waiting == BIG
    page.locator("button.ck-send").click()
    expect(confirm).to_contain_text(f"Send {waiting:,} messages (", timeout=WAIT)
    expect(confirm).to_contain_text(f"; {sent:,} already sent (not sent again).")
    expect(page.locator("button.ck-confirm-send")).to_have_text(f"Yes, send {waiting:,} messages")


# -- Why: an unreachable provider; errors in plain words, where they happen ----------------------


def test_unreachable_endpoint_in_plain_words(open_app: Callable[..., Any]) -> None:
    """A live send to a closed port ends with "cannot reach ..." and no exception names."""
    from playwright.sync_api import expect

    page = open_app()
    _load(page, SHEET, "64")
    _keys(page)
    _no_quiet_hours(page)
    _type(page, MESSAGE, "Hi Olivia, see you soon. Reply STOP to opt out.")
    port = _free_port()
    page.locator(".ck-endpoint select").select_option(label="a custom URL")
    _set(page, ".ck-endpoint-url input", f"http://127.0.0.1:{port}")
    expect(page.locator(".ck-channel")).to_contain_text(f"→ 127.0.0.1:{port}", timeout=WAIT)
    page.locator("button.ck-send").click()
    page.locator("button.ck-confirm-send").click()
    expect(page.locator(".ck-summary .ck-headline")).to_contain_text("Live send",
                                                                     timeout=WAIT)
    expect(page.locator(".ck-summary .ck-errors li").first).to_have_text(re.compile(
        rf"^cannot reach 127\.0\.0\.1:{port} \(connection failed\): check the network or the "
        r"base URL \(\d+\)$"))
    assert re.findall(r"ConnectError|Errno|<[A-Z]\w+ ", page.locator(".ck-composer")
                      .inner_text()) == []


def test_errors_show_beside_their_fields(open_app: Callable[..., Any]) -> None:
    """Sheet, message and provider errors show right under their fields, in view."""
    from playwright.sync_api import expect

    page = open_app()
    path = page.locator(".ck-path input")
    path.fill("/nowhere/list.csv")
    path.press("Enter")
    error = page.locator(".ck-recipients-error .ck-error")
    expect(error).to_have_text('No file at "/nowhere/list.csv": check the path and the current '
                               "folder", timeout=WAIT)
    expect(error).to_be_in_viewport()
    _load(page, SHEET, "64")
    expect(page.locator(".ck-load-summary")).to_contain_text("1 empty row dropped")
    _type(page, "Hi {{ first_name }}", "Hi Olivia")
    editor = page.locator(".ck-editor-text")
    editor.press("End")
    editor.press_sequentially(" {{ first_name | shout }}")
    message_error = page.locator(".ck-message-error .ck-error")
    expect(message_error).to_have_text(
        'The message uses the filter "shout" (line 1, column 37), which does not exist. The '
        "filters are listed at https://jinja.palletsprojects.com/en/stable/templates/"
        '#list-of-builtin-filters, with campaignkit\'s "date".', timeout=WAIT)
    expect(page.locator(".ck-preview .ck-bubble")).to_have_count(0)
    expect(page.locator("button.ck-dry-run")).to_be_disabled()
    under = editor.bounding_box()["y"] + editor.bounding_box()["height"]
    assert 0 <= message_error.bounding_box()["y"] - under < 60
    editor.fill("   ")
    expect(message_error).to_have_text("the message is only spaces: write a message",
                                       timeout=WAIT)
    _type(page, "Hi {first_name}", "Hi {first_name}")
    expect(page.locator(".ck-message-warnings .ck-warning").first).to_have_text(
        "{first_name} on line 1, column 4 goes out as written: a column is written "
        "{{ first_name }}")
    page.locator(".ck-provider select").select_option(label="Bird · Channels API")
    _set(page, ".ck-workspace_id input", "nope")
    expect(page.locator(".ck-error-workspace_id")).to_have_text(
        "Bird workspace_id 'nope' is not a UUID: copy it from the channel's page in Bird",
        timeout=WAIT)
    assert "<LoadSummary" not in page.content()


# -- Why: safe when opened; what products have ----------------------------------------------


def test_the_shipped_notebook_opens_disarmed(open_app: Callable[..., Any]) -> None:
    """The shipped composer notebook opens empty: no sheet, no keys, no results, no send."""
    from playwright.sync_api import expect

    page = open_app(SHIPPED)
    expect(page.locator(".ck-editor-text")).to_have_value("")
    expect(page.locator("button.ck-send")).to_be_disabled()
    expect(page.locator("button.ck-dry-run")).to_be_disabled()
    expect(page.locator("button.ck-confirm-send")).to_be_hidden()
    expect(page.locator(".ck-results table")).to_have_count(0)
    expect(page.locator(".ck-endpoint select")).to_have_value("the provider's API")
    expect(page.locator(".ck-channel")).to_have_text(
        "live sending is off until every field above is set")


def test_chips_whatsapp_and_a_test_message(open_app: Callable[..., Any]) -> None:
    """A chip inserts at the caret; a test goes to the typed number; WhatsApp drops the SMS
    counter."""
    from playwright.sync_api import expect

    page = open_app()
    _load(page, SHEET, "64")
    _type(page, "Dear see you", "Dear see you")
    editor = page.locator(".ck-editor-text")
    editor.click()
    editor.press("Home")
    for _ in range(5):
        editor.press("ArrowRight")
    page.locator(".ck-chip", has_text="First Name").click()
    expect(editor).to_have_value("Dear {{ first_name }} see you")
    expect(page.locator(".ck-preview .ck-bubble")).to_have_text("Dear Olivia see you",
                                                                timeout=WAIT)
    expect(page.locator(".ck-segments")).to_have_text("GSM-7 · 1 segment · 19 characters")
    expect(page.locator(".ck-totals")).to_contain_text("about $")
    _keys(page)
    page.locator(".ck-endpoint select").select_option(label="the sandbox on this machine")
    expect(page.locator(".ck-channel")).to_contain_text("→ 127.0.0.1:", timeout=WAIT)
    _set(page, ".ck-test-number input", "(617) 555-0199")
    page.locator("button.ck-test-send").click()
    expect(page.locator(".ck-test-note")).to_have_text(
        "test sent to +16175550199 (not part of the campaign)", timeout=WAIT)
    page.locator(".ck-provider select").select_option(label="TextUs · WhatsApp")
    expect(page.locator(".ck-segments")).to_have_text("WhatsApp · 19 characters", timeout=WAIT)
    expect(page.locator(".ck-use-template")).to_be_visible()
    _secrets_absent(page)


@pytest.mark.parametrize("width", [1366, 800])
def test_every_panel_fits_and_is_photographed(open_app: Callable[..., Any], width: int) -> None:
    """At 1366 and 800 px no panel is clipped; two columns, then one; a screenshot of each
    panel goes to test-artifacts/."""
    from playwright.sync_api import expect

    page = open_app(width=width, height=900)
    _load(page, SHEET, "64")
    _keys(page)
    _type(page, MESSAGE, "Hi Olivia, see you soon. Reply STOP to opt out.")
    _set(page, ".ck-rate input", "10000")
    page.locator("button.ck-dry-run").click()
    expect(page.locator(".ck-summary .ck-headline")).to_contain_text("Dry run finished",
                                                                     timeout=WAIT)
    ARTIFACTS.mkdir(exist_ok=True)
    for name in PANELS:
        page.locator(f".ck-panel-{name}").screenshot(
            path=str(ARTIFACTS / f"composer-{name}-{width}.png"))
    boxes = {name: page.locator(f".ck-panel-{name}").bounding_box() for name in PANELS}
    columns = len({round(b["x"]) for b in boxes.values()})
    assert columns == (2 if width == 1366 else 1)
    overflow = page.evaluate("""() => [...document.querySelectorAll('.ck-panel *')]
        .filter(e => e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflowX
                 !== 'auto' && e.closest('.ck-panel').getBoundingClientRect().right + 1 <
                 e.getBoundingClientRect().right).map(e => e.className)""")
    assert overflow == []
    # Voila scrolls inside its own container: the whole app needs a viewport as tall as it.
    height = page.evaluate("document.querySelector('.ck-composer').scrollHeight")
    page.set_viewport_size({"width": width, "height": int(height) + 120})
    page.screenshot(path=str(ARTIFACTS / f"composer-{width}.png"), full_page=True)
