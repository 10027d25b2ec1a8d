"""The waiting line as the page shows it: every slot taken, a create waits, and its card says its
place in the line and about when it starts, live, until a slot frees and it runs.

A stack with one slot, held by another browser on the page's address (through the gateway, as
the page goes). Screenshots of the waiting card at 390x844 and 1440x900, light and dark, go to
test-artifacts/.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import expect

from tests.browser.test_browser import card, expect_card_state, open_captcha
from tests.browser_driver import Crowd, PageDriver, page_stack
from tests.stack_driver import RunningStack

pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    yield from page_stack(tmp_path_factory, "line-stack", env={"SPROUT_LIMIT_CAPACITY": "1"})


def test_a_create_that_waits_shows_its_place_and_eta_until_it_runs(
    visit: Callable[[str], PageDriver], crowd: Crowd
) -> None:
    holder = crowd.other_browser()
    held = crowd.create(holder)
    driver = visit("desktop")
    page = driver.page
    challenge = open_captcha(driver, "nginx")
    with driver.expect_response("POST", "/containers") as created:
        driver.drag_slider(challenge, driver.answer(challenge))
    record = created.value.json()
    assert (record["state"], record["phase"], record["position"]) == ("pending", "waiting", 1)
    waiting = card(page, record["id"])
    expect(waiting.get_by_text("1st in line")).to_be_visible()
    expect(waiting.get_by_text(re.compile(r"^starts in about \d+:\d\d$"))).to_be_visible()
    expect(waiting.get_by_text(re.compile(r"^Every slot on Sprout is taken"))).to_be_visible()
    expect(waiting.get_by_text(re.compile(r"^Expires in"))).to_have_count(0)
    assert driver.axe_violations() == [], "a container waiting in line"
    driver.shoot("waiting-in-line")
    # The slot frees: the page's container gets it and runs, the line's words go.
    assert holder.delete(f"/containers/{held['id']}").status_code == 202
    expect_card_state(page, record["id"], "running")
    expect(waiting.get_by_text(re.compile(r"in line$"))).to_have_count(0)
    expect(waiting.get_by_text(re.compile(r"^Expires in"))).to_be_visible()
