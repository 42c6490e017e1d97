"""Browser tests: headless Debian Chromium, driven by Playwright, against a real ``rivers dev``.

``dev`` is a real ``rivers dev tests.fixtures.code_locations.ui_demo`` (embedded storage,
planner, code server with its daemon, gateway) started as a subprocess in a temporary
directory, once per test module; ``dev.restart()`` stops it and starts it again on the same
ports and store (a gateway restart, as the browser sees it). ``page`` is a fresh browser
page per test. ``support.shot(page, name)`` writes a screenshot to
``test-artifacts/screenshots/`` (not committed) so a person can look at every page.

Chromium comes from Debian (``make browser`` installs it); without it these tests fail with
that hint rather than skip.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.support import CHROMIUM, CHROMIUM_ARGS, Dev


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dev]:
    """A real ``rivers dev`` on the ui_demo location, for one test module."""
    server = Dev(tmp_path_factory.mktemp("dev"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


# Module scope, not session: Playwright's sync API keeps an event loop running in the main
# thread while it is open, which would break every later test that calls asyncio.run().
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Debian Chromium under Playwright, for one test module."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the browser tests need Debian's chromium "
            "(`make browser` installs it)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh page (its own context: no cookies or storage shared between tests)."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(15_000)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield tab
    finally:
        context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"
