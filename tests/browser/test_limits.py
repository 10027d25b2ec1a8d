"""Limits known before the puzzle: the page says which limit refuses a create, whose count it is
and when it opens, before anyone solves a puzzle for nothing; others' containers that count
against this address or network are shown as a count with their end times.

One stack with small limits. Everyone else is real too: another browser on the page's address
goes through the gateway; a neighbour at another address of the page's network (127.0.0.0/24)
talks to the functions as the gateway would, naming its address in X-Real-Ip. After each test
everyone's containers are deleted and the limits' windows emptied (the hour passes).

Screenshots of each refusal, at 390x844 and 1440x900, light and dark, go to test-artifacts/.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_browser import expect_card_state, open_captcha
from tests.browser_driver import Crowd, PageDriver, page_stack
from tests.stack_driver import RunningStack

pytestmark = [pytest.mark.slow, pytest.mark.browser]

LIMITS = {
    "SPROUT_LIMIT_CREATES_PER_HOUR": "3",
    "SPROUT_LIMIT_POW_CREATES_PER_HOUR": "1",
    "SPROUT_LIMIT_LIVE_PER_OWNER": "1",
    "SPROUT_LIMIT_LIVE_PER_ADDRESS": "2",
    "SPROUT_LIMIT_CREATES_PER_NETWORK": "4",
    "SPROUT_LIMIT_LIVE_PER_NETWORK": "4",
    "SPROUT_LIMIT_CAPACITY": "30",  # a network's share: 10% of it, 3
    "SPROUT_LIMIT_CHALLENGES_PER_MINUTE": "4",
}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    yield from page_stack(tmp_path_factory, "limits-stack", env=LIMITS)


def expect_refused(page: Page, title: str, opens: str = r"opens (at|by) \d") -> None:
    """Create is off, named by the limit and when it opens, pointing to its reason."""
    create = page.get_by_role("button", name=re.compile(rf"^{re.escape(title)} — {opens}"))
    expect(create).to_be_visible()
    expect(create).to_have_attribute("aria-disabled", "true")
    expect(create).to_have_attribute("aria-describedby", "create-hint")


def reopen(driver: PageDriver) -> None:
    """The tab comes back to the front: the page asks the quota again."""
    with driver.expect_response("GET", "/rate-limit"):
        driver.page.evaluate("window.dispatchEvent(new Event('focus'))")


def test_a_limit_closed_behind_the_pages_back_is_said_before_any_puzzle(
    visit: Callable[[str], PageDriver], crowd: Crowd
) -> None:
    driver = visit("desktop")
    page = driver.page
    expect(page.get_by_label("3 of 3 creates left this hour from your address")).to_be_visible()
    # Another browser on this address spends the hour's creates while the page looks on.
    other = crowd.other_browser()
    for _ in range(3):
        crowd.create(other, keep=False)
    puzzles: list[str] = []
    page.on("request", lambda r: puzzles.append(r.url) if "/captcha/" in r.url else None)
    with driver.expect_response("GET", "/rate-limit"):
        page.get_by_role("button", name="Create nginx").click()
    expect_refused(page, "Hourly limit reached", r"opens at \d")
    expect(page.get_by_role("dialog")).to_have_count(0)
    assert puzzles == []  # nobody solves a puzzle for nothing
    expect(page.locator("#create-hint")).to_have_text(
        re.compile(r"^Your address may start 3 containers an hour\. Opens in \d+:\d\d\.$")
    )
    expect(page.locator("#create-status")).to_have_text(
        re.compile(r"^Hourly limit reached\. .* It opens again at \d")
    )
    expect(
        page.get_by_label(re.compile(r"^0 of 3 creates left this hour from your address, opens at"))
    ).to_be_visible()
    assert driver.axe_violations() == [], "Create refused by the hourly limit"
    driver.shoot("limit-address-hourly")


def test_the_networks_limit_is_named_as_the_networks_when_neighbours_spent_it(
    visit: Callable[[str], PageDriver], crowd: Crowd
) -> None:
    driver = visit("mobile")
    page = driver.page
    for address in ("127.0.0.21", "127.0.0.22", "127.0.0.23", "127.0.0.24"):
        crowd.create(crowd.neighbour(address), keep=False)
    reopen(driver)
    expect_refused(page, "Your network's hourly limit reached", r"opens at \d")
    expect(
        page.get_by_label(re.compile(r"^0 of 4 creates left this hour on your network, opens at"))
    ).to_be_visible()
    expect(page.locator("#create-hint")).to_contain_text(
        "Your network may start 4 containers an hour, other people’s included."
    )
    # This address has made nothing: its own count says so.
    expect(page.get_by_label("0 of 3 new this hour from your address")).to_be_attached()
    driver.shoot("limit-network-hourly")


def test_this_browsers_live_limit_opens_again_on_delete(
    visit: Callable[[str], PageDriver], crowd: Crowd
) -> None:
    driver = visit("desktop")
    page = driver.page
    challenge = open_captcha(driver, "nginx")
    with driver.expect_response("POST", "/containers") as created:
        driver.drag_slider(challenge, driver.answer(challenge))
    record = created.value.json()
    expect_card_state(page, record["id"], "running")
    expect_refused(page, "Live limit reached", r"opens by \d")
    expect(page.get_by_label(re.compile(r"^1 of 1 live in this browser, opens by"))).to_be_visible()
    expect(page.locator("#create-hint")).to_contain_text(
        "You may have 1 container at once. Delete one to start another."
    )
    driver.shoot("limit-browser-live")
    page.get_by_role("button", name=f"Delete container {record['id']}").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete container").click()
    expect(page.get_by_role("button", name="Create nginx")).to_be_enabled()
    expect(page.get_by_label("0 of 1 live in this browser").first).to_be_visible()


def test_this_addresss_containers_in_another_browser_are_counted_and_shown(
    visit: Callable[[str], PageDriver], crowd: Crowd, stack: RunningStack
) -> None:
    # Two other browsers on this address (one live container each, this stack's limit).
    made = [crowd.create(crowd.other_browser()), crowd.create(crowd.other_browser())]
    driver = visit("desktop")
    page = driver.page
    # One story: the list has none of them, and says that two of this address's are elsewhere.
    expect(page.get_by_role("heading", name="No containers in this browser")).to_be_visible()
    expect(page.get_by_role("link", name="+2 from your address, not here")).to_be_visible()
    expect(
        page.get_by_label("2 of 2 live from your address, 2 not in this browser")
    ).to_be_visible()
    expect_refused(page, "Your address's live limit reached", r"opens by \d")
    ends = page.get_by_role("list", name="2 from your address").get_by_role("listitem")
    expect(ends).to_have_count(2)
    # Each with its end time, and nothing else about it.
    for item, record in zip(ends.all(), sorted(made, key=lambda r: r["expires_at"]), strict=True):
        expect(item).to_have_text(re.compile(r"^ends \d.* · \d+:\d\d$"))
        assert record["id"] not in (page.content())
    assert driver.axe_violations() == [], "others' containers shown"
    driver.shoot("limit-address-live-others")


def test_a_crowded_network_holds_its_share_and_says_whose_containers_count(
    visit: Callable[[str], PageDriver], crowd: Crowd
) -> None:
    for address in ("127.0.0.31", "127.0.0.32", "127.0.0.33"):
        crowd.create(crowd.neighbour(address))
    driver = visit("mobile")
    page = driver.page
    expect_refused(page, "Your network's share is in use", r"opens by \d")
    expect(page.get_by_label("3 of 4 live on your network")).to_be_attached()
    expect(
        page.get_by_label(re.compile(r"^3 of 3 share of sprout on your network: reached"))
    ).to_be_attached()
    expect(
        page.get_by_role("list", name="3 from your network").get_by_role("listitem")
    ).to_have_count(3)
    expect(page.get_by_role("heading", name="No containers yet")).to_be_visible()
    driver.shoot("limit-network-share")


def test_too_many_puzzles_closes_the_dialog_and_says_when_to_come_back(
    visit: Callable[[str], PageDriver], crowd: Crowd
) -> None:
    driver = visit("desktop")
    page = driver.page
    open_captcha(driver, "nginx")
    dialog = page.get_by_role("dialog")
    for _ in range(3):  # the minute's four puzzles
        with driver.expect_response("POST", "/captcha/request"):
            dialog.get_by_role("button", name="New puzzle").click()
        expect(driver.slider()).to_be_visible()
    driver.expected_http_errors.append((429, "/captcha/request"))
    with driver.expect_response("POST", "/captcha/request") as refused:
        dialog.get_by_role("button", name="New puzzle").click()
    assert refused.value.status == 429
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect_refused(page, "Too many puzzles", r"opens at \d")
    expect(page.get_by_test_id("toast").filter(has_text="Too many puzzles")).to_be_visible()
    driver.shoot("limit-puzzles")


def test_the_path_without_the_puzzle_says_its_own_limit_before_it_starts(
    visit: Callable[[str], PageDriver], crowd: Crowd
) -> None:
    driver = visit("mobile")
    page = driver.page
    open_captcha(driver, "nginx")
    with driver.expect_response("POST", "/containers") as created:
        page.get_by_role("button", name="Can't use the puzzle?").click()
    record = created.value.json()
    expect_card_state(page, record["id"], "running")
    page.get_by_role("button", name=f"Delete container {record['id']}").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete container").click()
    expect(page.get_by_role("button", name="Create nginx")).to_be_enabled()
    open_captcha(driver, "nginx")
    switch = page.get_by_role("button", name="Can't use the puzzle?")
    expect(switch).to_have_attribute("aria-disabled", "true")
    expect(page.locator("#pow-refusal")).to_have_text(
        re.compile(r"^Limit without the puzzle reached — opens at \d")
    )
    switch.click(force=True)  # off: the puzzle stays
    expect(driver.slider()).to_be_visible()
    driver.shoot("limit-without-puzzle", viewports=("mobile",))
