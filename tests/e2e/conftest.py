"""Real-browser tests: Playwright's sync API driving Debian's chromium against pytest-django's live server.

Never a downloaded browser: without /usr/bin/chromium these tests are skipped and say why."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# Playwright's sync API runs an event loop in this thread; Django refuses ORM calls under a running loop
# unless told that this synchronous use is intended.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CSP_VIOLATION = re.compile(r"Content Security Policy|Refused to (execute|apply|load|connect|evaluate)", re.I)


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    # Users log in through the real form, so they need real passwords; the default hasher is slow on purpose.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("Browser tests need Debian's chromium at /usr/bin/chromium (apt-get install chromium).")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class BrowserConsole:
    """What the page reported: console errors and uncaught exceptions, CSP violations among them."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def csp_violations(self) -> list[str]:
        return [error for error in self.errors if CSP_VIOLATION.search(error)]


@pytest.fixture
def console() -> BrowserConsole:
    return BrowserConsole()


@pytest.fixture
def page(browser: Any, live_server: Any, console: BrowserConsole) -> Iterator[Any]:
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1360, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()

    def on_console(message: Any) -> None:
        if message.type == "error":
            console.errors.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: console.errors.append(f"uncaught: {error}"))
    yield page
    context.close()


@pytest.fixture
def screenshot(page: Any) -> Any:
    """Save a screenshot under test-artifacts/ for a person to look at. The caret is left alone: Playwright
    hides it with an injected inline style, which the CSP (rightly) refuses, and tests assert that pages
    cause no CSP violation."""
    ARTIFACTS.mkdir(exist_ok=True)

    def take(name: str, *, full_page: bool = False) -> Path:
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page, caret="initial")
        return path

    return take
