"""A container's address in Chromium, against the real local stack: what it shows while the
container runs (the simulated cluster's placeholder), once it is deleted, and for an id that
never existed. `<id>.localhost` reaches the gateway as it does in any browser.

Each passes axe-core at 390x844 and 1440x900, light and dark; screenshots of each go to
test-artifacts/.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import expect

from tests.browser_driver import PageDriver, page_stack
from tests.stack_driver import RunningStack, Visitor

pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    yield from page_stack(tmp_path_factory, "addresses-stack")


def test_a_containers_address_says_what_became_of_it(
    visit: Callable[[str], PageDriver], stack: RunningStack
) -> None:
    visitor = Visitor(stack.url, stack.redis)
    created = visitor.create("nginx")
    assert created.status_code == 202, created.text
    container_id = created.json()["id"]
    url = visitor.wait_for_state(container_id, {"running", "failed"})["url"]
    assert url and container_id in url

    driver = visit("mobile")
    page = driver.page
    answer = page.goto(url)
    assert answer is not None and answer.status == 200
    expect(page.get_by_text("Simulated cluster", exact=True)).to_be_visible()
    expect(page.get_by_role("heading", name="This container is running")).to_be_visible()
    expect(page.get_by_text("own web server", exact=False)).to_be_visible()
    # Styled by the site's stylesheet: its colours and font, not the browser's defaults.
    assert page.evaluate("getComputedStyle(document.body).fontFamily").startswith("Inter")
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") != "rgba(0, 0, 0, 0)"
    expect(page.get_by_role("heading")).to_have_count(1)  # the other cases stay hidden
    assert driver.axe_violations() == [], "a running container's address"
    driver.shoot("20-address-running")

    assert visitor.delete(f"/containers/{container_id}").status_code == 202
    visitor.wait_for_state(container_id, {"deleted"})
    driver.expected_http_errors.append((410, "/"))
    answer = page.goto(url)
    assert answer is not None and answer.status == 410
    expect(page.get_by_role("heading", name="This container was deleted")).to_be_visible()
    expect(page.get_by_role("heading")).to_have_count(1)
    assert driver.axe_violations() == [], "a deleted container's address"
    driver.shoot("21-address-deleted")

    driver.expected_http_errors.append((404, "/"))
    unknown = re.sub(r"^http://[a-z2-7]{12}\.", "http://abcdefgh2345.", url)
    answer = page.goto(unknown)
    assert answer is not None and answer.status == 404
    expect(page.get_by_role("heading", name="No container has this address")).to_be_visible()
    expect(page.get_by_role("heading")).to_have_count(1)
    assert driver.axe_violations() == [], "an unknown address"
    driver.shoot("22-address-unknown")

    # The way back leads to the playground.
    page.get_by_role("link", name="Back to the playground").click()
    expect(page.get_by_role("radio")).to_have_count(4)
    assert page.url.rstrip("/") == stack.url
    visitor.close()
