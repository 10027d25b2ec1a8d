"""What every browser test module shares: one Chromium, and a new visitor per page.

Each module defines its own `stack` fixture (the local stack with the settings it needs).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.browser_driver import CHROMIUM, CHROMIUM_ARGS, VIEWPORTS, Crowd, PageDriver
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
def visit(stack: RunningStack, browser: Browser) -> Iterator[Callable[..., PageDriver]]:
    """A new visitor at the page: its own context (cookies), a viewport, no console errors."""
    drivers: list[PageDriver] = []
    redis_client = stack.redis

    def open_page(viewport: str, **device: Any) -> PageDriver:
        """`device`: more of the context, say has_touch and is_mobile for a phone's finger."""
        context = browser.new_context(
            viewport=VIEWPORTS[viewport],  # type: ignore[arg-type]
            color_scheme="light",
            permissions=["clipboard-read", "clipboard-write"],
            **device,
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


@pytest.fixture
def crowd(
    stack: RunningStack, browser: Browser, visit: Callable[[str], PageDriver]
) -> Iterator[Crowd]:
    """Other browsers and neighbours; afterwards everyone's containers go and the hour passes
    (set up after `visit`, so this ends while the pages' contexts still hold their cookies)."""
    people = Crowd(stack, stack.redis)
    yield people
    people.reset(browser)
    people.redis.close()
