"""The page's layout at 1440x900 and 390x844, measured in the browser: what is above the fold,
what covers what, where lines break, and what the page remembers across a reload.

One stack; after each test everyone's containers are deleted and the limits' windows emptied.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import FloatRect, Page, expect

from tests.browser.test_browser import card, expect_card_state, open_captcha
from tests.browser_driver import Crowd, PageDriver, page_stack
from tests.stack_driver import RunningStack

pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    yield from page_stack(tmp_path_factory, "layout-stack")


def box(page: Page, selector: str) -> FloatRect:
    found = page.locator(selector).first.bounding_box()
    assert found is not None, f"{selector} is not rendered"
    return found


def overlaps(a: FloatRect, b: FloatRect) -> bool:
    return (
        a["x"] < b["x"] + b["width"]
        and b["x"] < a["x"] + a["width"]
        and a["y"] < b["y"] + b["height"]
        and b["y"] < a["y"] + a["height"]
    )


def test_desktop_create_above_the_fold_toasts_clear_of_cards_deleted_cards_cleared(
    visit: Callable[[str], PageDriver], crowd: Crowd
) -> None:
    driver = visit("desktop")
    page = driver.page
    create = page.get_by_role("button", name="Create nginx")
    expect(create).to_be_visible()
    # Create and its note are above the fold, and the note is not cut.
    hint = box(page, "#create-hint")
    assert hint["y"] + hint["height"] <= 900, hint
    assert page.locator("#create-hint").evaluate("(el) => el.scrollHeight <= el.clientHeight")

    # The chosen template is kept across a reload.
    page.get_by_text("whoami", exact=True).click()
    expect(page.get_by_role("radio", name=re.compile("whoami"))).to_be_checked()
    page.reload()
    expect(page.get_by_role("radio", name=re.compile("whoami"))).to_be_checked()
    expect(page.get_by_role("button", name="Create whoami")).to_be_visible()

    challenge = open_captcha(driver, "whoami")
    with driver.expect_response("POST", "/containers") as created:
        driver.drag_slider(challenge, driver.answer(challenge))
    record = created.value.json()
    running = card(page, record["id"])
    # The toast that says it was requested covers no card, nor its badge.
    toast = page.get_by_test_id("toast").filter(has_text="Container requested")
    expect(toast).to_be_visible()
    expect(running).to_be_visible()
    toast_box, pending_box = toast.bounding_box(), running.bounding_box()
    assert toast_box and pending_box and not overlaps(toast_box, pending_box)
    expect_card_state(page, record["id"], "running")
    # The expiry bar spans the card's content, not a part of it.
    bar = running.get_by_test_id("expiry-bar").bounding_box()
    whole = running.bounding_box()
    assert bar and whole and bar["width"] >= whole["width"] - 2 * 24, (bar, whole)

    running.get_by_role("button", name=f"Delete container {record['id']}").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete container").click()
    expect(page.get_by_test_id("toast").filter(has_text="Container deleted")).to_be_visible()
    expect_card_state(page, record["id"], "deleted")
    page.get_by_role("button", name="Clear deleted").click()
    expect(running).to_have_count(0)
    expect(page.get_by_role("button", name="Clear deleted")).to_have_count(0)
    page.reload()
    expect(page.get_by_role("button", name="Create whoami")).to_be_visible()
    expect(card(page, record["id"])).to_have_count(0)  # cleared stays cleared


def test_phone_address_breaks_between_its_parts_help_fits_a_finger_notes_and_reason_near_create(
    visit: Callable[..., PageDriver], crowd: Crowd
) -> None:
    driver = visit("mobile", has_touch=True, is_mobile=True)
    page = driver.page
    # The lifetime and hardening notes are on the first screen with Create.
    create = box(page, "#create-hint")
    assert create["y"] + create["height"] <= 844, create
    for note in ("Each container lives", "Hardened pods"):
        shown = page.get_by_text(re.compile(note)).bounding_box()
        assert shown and shown["y"] + shown["height"] <= 844, (note, shown)

    challenge = open_captcha(driver, "nginx")
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_text("Slide the handle with your finger")).to_be_visible()
    expect(dialog.get_by_text(re.compile("^Drag the handle, or focus it"))).to_be_hidden()
    with driver.expect_response("POST", "/containers") as created:
        driver.drag_slider(challenge, driver.answer(challenge))
    record = created.value.json()
    expect_card_state(page, record["id"], "running")
    link = card(page, record["id"]).get_by_role("link").first
    # Each part of the address (up to and with its dot or colon) is on one line: a line may break
    # between the parts, never inside one.
    parts: list[tuple[str, int]] = link.evaluate(
        """(a) => [...a.childNodes].filter((n) => n.nodeType === Node.TEXT_NODE).map((n) => {
            const range = document.createRange();
            range.selectNodeContents(n);
            const lines = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
            return [n.textContent, lines.size];
        })"""
    )
    assert "".join(text for text, _ in parts) == re.sub(
        r"^https?://", "", link.get_attribute("href") or ""
    )
    assert len(parts) >= 3 and all(lines == 1 for _, lines in parts), parts
    driver.shoot("phone-running", viewports=("mobile",))


def test_a_blocked_create_says_why_next_to_the_button_on_a_phone(
    visit: Callable[[str], PageDriver], crowd: Crowd
) -> None:
    for _ in range(3):  # this address's live limit, from other browsers
        crowd.create(crowd.other_browser())
    driver = visit("mobile")
    page = driver.page
    create = page.get_by_role("button", name=re.compile(r"^Your address's live limit reached"))
    expect(create).to_be_visible()
    reason = box(page, "#create-hint")
    button = create.bounding_box()
    assert button and 0 <= reason["y"] - (button["y"] + button["height"]) <= 24, (button, reason)
    assert reason["y"] + reason["height"] <= 844, reason
