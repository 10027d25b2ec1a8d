"""What every browser test module shares: one Chromium, and a new visitor per page.

Each module defines its own `stack` fixture (the local stack with the settings it needs).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.browser_driver import CHROMIUM, CHROMIUM_ARGS, VIEWPORTS, PageDriver
from tests.stack_driver import RunningStack


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (make bootstrap-test)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def visit(stack: RunningStack, browser: Browser) -> Iterator[Callable[[str], PageDriver]]:
    """A new visitor at the page: its own context (cookies), a viewport, no console errors."""
    drivers: list[PageDriver] = []
    redis_client = stack.redis

    def open_page(viewport: str) -> PageDriver:
        context = browser.new_context(
            viewport=VIEWPORTS[viewport],  # type: ignore[arg-type]
            color_scheme="light",
            permissions=["clipboard-read", "clipboard-write"],
        )
        context.set_default_timeout(15_000)
        driver = PageDriver(context.new_page(), redis_client, viewport)
        drivers.append(driver)
        driver.page.goto(stack.url)
        return driver

    yield open_page
    for driver in drivers:
        driver.page.context.close()
    redis_client.close()
    for driver in drivers:
        assert driver.unexpected_errors() == []
