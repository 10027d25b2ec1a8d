"""The page in Debian's Chromium (headless, driven by Playwright) against the real local stack.

One stack for the module, started as `make dev` starts it and serving the built page
(`frontend/dist`); one browser; a fresh context (a new visitor, its own cookie) per test. The
slider is dragged with real mouse moves on a person's track, or operated with the keyboard
alone. Every test fails on a console error or an uncaught exception in the page, except the
"Failed to load resource" line Chromium prints for an HTTP error the test causes on purpose
and the page handles (a wrong answer's 403): those are declared one by one.

Screenshots of the main states, at 390x844 and 1440x900, light and dark, go to test-artifacts/.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser_driver import PageDriver, page_stack
from tests.stack_driver import RunningStack

pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    yield from page_stack(tmp_path_factory, "browser-stack", "--start-delay", "1.5")


def quota(page: Page) -> tuple[int, int]:
    """(creates left, live containers) as the header shows them."""
    creates = page.get_by_label(re.compile(r"^\d+ of \d+ creates left")).get_attribute("aria-label")
    live = page.get_by_label(re.compile(r"^\d+ of \d+ live (in|from|on) ")).first.get_attribute(
        "aria-label"
    )
    assert creates and live
    return int(creates.split()[0]), int(live.split()[0])


def open_captcha(driver: PageDriver, template_title: str) -> dict[str, Any]:
    """Click "Create …"; the dialog asks for a puzzle, which is returned."""
    with driver.expect_response("POST", "/captcha/request") as issued:
        driver.page.get_by_role("button", name=f"Create {template_title}").click()
    challenge: dict[str, Any] = issued.value.json()
    expect(driver.slider()).to_be_visible()
    expect(driver.page.get_by_role("dialog").locator("img").first).to_have_attribute(
        "src", challenge["background"]
    )
    return challenge


def card(page: Page, container_id: str) -> Any:
    return page.get_by_test_id(f"container-{container_id}")


def expect_card_state(page: Page, container_id: str, state: str, timeout: float = 45) -> None:
    expect(card(page, container_id)).to_have_attribute(
        "aria-label", re.compile(rf": {state}$"), timeout=timeout * 1000
    )


def assert_honest(driver: PageDriver, record: dict[str, Any], started_at: float) -> None:
    """The card showed pending first and never showed running before the server had it."""
    seen = driver.seen[record["id"]]
    shown = [s.dom_state for s in seen if s.dom_state != "absent"]
    assert shown[:2] == ["pending", "running"], seen
    for moment in seen:
        if moment.dom_state == "running":
            assert moment.server_state == "running", seen
            assert moment.at >= started_at, (moment, started_at)


def test_create_watch_copy_and_delete_with_the_mouse(
    visit: Callable[[str], PageDriver], stack: RunningStack
) -> None:
    driver = visit("desktop")
    page = driver.page
    expect(page.get_by_role("heading", name="No containers yet")).to_be_visible()
    expect(page.get_by_text("Simulated cluster")).to_be_visible()
    expect(page.get_by_role("radio")).to_have_count(4)  # the stack's real templates
    creates_before, live_before = quota(page)
    driver.shoot("01-empty")

    challenge = open_captcha(driver, "nginx")
    driver.shoot("02-captcha")
    answer = driver.answer(challenge)
    with (
        driver.expect_response("POST", "/captcha/verify") as verified,
        driver.expect_response("POST", "/containers") as created,
    ):
        driver.drag_slider(challenge, answer)
    assert verified.value.status == 200, verified.value.text()
    assert created.value.status == 202, created.value.text()
    record = created.value.json()
    assert record["state"] == "pending" and record["template"] == "nginx"
    driver.watch_container(record["id"])
    expect(page.get_by_role("dialog")).to_be_hidden()
    expect_card_state(page, record["id"], "pending", timeout=5)
    driver.shoot("03-pending")

    expect_card_state(page, record["id"], "running")
    server = stack.redis.hgetall(f"sprout:c:{record['id']}")
    assert_honest(driver, record, float(server["started_at"]))
    url = server["url"]
    assert record["id"] in url
    running = card(page, record["id"])
    expect(running.get_by_role("link").first).to_have_attribute("href", url)
    expect(page.get_by_label(f"{creates_before - 1} of", exact=False).first).to_be_visible()
    assert quota(page) == (creates_before - 1, live_before + 1)

    running.get_by_role("button", name="Copy URL").click()
    expect(running.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == url
    driver.shoot("04-running")

    running.get_by_role("button", name=f"Delete container {record['id']}").click()
    dialog = page.get_by_role("dialog", name="Delete this container?")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_text(record["id"])).to_be_visible()
    driver.shoot("05-delete-confirm")
    with driver.expect_response("DELETE", f"/containers/{record['id']}") as deleted:
        dialog.get_by_role("button", name="Delete container").click()
    assert deleted.value.status == 202
    expect(dialog).to_be_hidden()
    expect_card_state(page, record["id"], "deleted")
    expect(running.get_by_text("Its address no longer works")).to_be_visible()
    assert stack.redis.hget(f"sprout:c:{record['id']}", "state") == "deleted"
    expect(page.get_by_label(f"{live_before} of", exact=False).first).to_be_visible()
    driver.shoot("06-deleted")


def test_the_keyboard_alone_picks_solves_creates_and_deletes(
    visit: Callable[[str], PageDriver], stack: RunningStack
) -> None:
    driver = visit("desktop")
    page = driver.page
    keyboard = page.keyboard
    expect(page.get_by_role("radio")).to_have_count(4)
    creates_before, _ = quota(page)

    driver.tab_to(lambda: driver.focused("radio", "nginx"))
    keyboard.press("ArrowDown")
    expect(page.get_by_role("radio", name="whoami")).to_be_checked()
    driver.tab_to(lambda: driver.focused("button", "Create whoami"))
    with driver.expect_response("POST", "/captcha/request") as issued:
        keyboard.press("Enter")
    challenge = issued.value.json()
    expect(driver.slider()).to_be_focused()  # the dialog puts the keyboard on the handle
    answer = driver.answer(challenge)
    driver.press_slider_to(answer // 2)
    expect(driver.slider()).to_have_attribute("aria-valuenow", str(answer // 2))
    driver.shoot("07-keyboard-slider", viewports=("desktop",))
    driver.press_slider_to(answer)
    expect(driver.slider()).to_have_attribute("aria-valuenow", str(answer))
    with (
        driver.expect_response("POST", "/captcha/verify") as verified,
        driver.expect_response("POST", "/containers") as created,
    ):
        keyboard.press("Enter")
    assert verified.value.request.post_data_json["input"] == "keyboard"
    assert created.value.status == 202, created.value.text()
    record = created.value.json()
    assert record["template"] == "whoami"
    driver.watch_container(record["id"])
    expect_card_state(page, record["id"], "running")
    assert_honest(
        driver, record, float(str(stack.redis.hget(f"sprout:c:{record['id']}", "started_at")))
    )
    assert quota(page)[0] == creates_before - 1

    driver.tab_to(lambda: driver.focused("button", f"Delete container {record['id']}"))
    keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Delete this container?")
    expect(dialog.get_by_role("button", name="Keep it")).to_be_focused()  # the safe choice
    driver.tab_to(lambda: driver.focused("button", "Delete container"))
    with driver.expect_response("DELETE", f"/containers/{record['id']}"):
        keyboard.press("Enter")
    expect_card_state(page, record["id"], "deleted")


def test_the_proof_of_work_path_needs_no_puzzle(
    visit: Callable[[str], PageDriver], stack: RunningStack
) -> None:
    driver = visit("mobile")
    page = driver.page
    creates_before, live_before = quota(page)
    open_captcha(driver, "nginx")
    with (
        driver.expect_response("POST", "/captcha/request") as issued,
        driver.expect_response("POST", "/captcha/verify") as verified,
        driver.expect_response("POST", "/containers") as created,
    ):
        page.get_by_role("button", name="Can't use the puzzle?").click()
        expect(page.get_by_text("your browser solves a small computation")).to_be_visible()
        driver.shoot("08-proof-of-work")
    assert issued.value.request.post_data_json["mode"] == "pow"
    assert issued.value.json()["background"] is None
    assert verified.value.status == 200
    assert created.value.status == 202, created.value.text()
    record = created.value.json()
    assert stack.redis.hget(f"sprout:c:{record['id']}", "access") == "pow"
    driver.watch_container(record["id"])
    expect_card_state(page, record["id"], "running")
    assert quota(page) == (creates_before - 1, live_before + 1)


def test_a_wrong_drag_says_so_and_brings_a_fresh_puzzle(
    visit: Callable[[str], PageDriver],
) -> None:
    driver = visit("mobile")
    page = driver.page
    creates_before, _ = quota(page)
    challenge = open_captcha(driver, "nginx")
    answer = driver.answer(challenge)
    max_offset = challenge["width"] - challenge["piece_size"]
    wrong = answer + 40 if answer + 40 <= max_offset else answer - 40
    driver.expected_http_errors.append((403, "/captcha/verify"))
    with driver.expect_response("POST", "/captcha/request") as fresh:
        with driver.expect_response("POST", "/captcha/verify") as verified:
            driver.drag_slider(challenge, wrong)
        assert verified.value.status == 403
        assert verified.value.json()["error"]["code"] == "captcha_failed"
        status = page.get_by_role("dialog").get_by_role("status")
        expect(status).to_contain_text("That did not fit")
        expect(page.get_by_text("Not quite. New puzzle…")).to_be_visible()
        driver.shoot("09-captcha-wrong", viewports=("mobile",))
    second = fresh.value.json()
    assert second["challenge_id"] != challenge["challenge_id"]
    assert second["background"] != challenge["background"]
    dialog = page.get_by_role("dialog")
    expect(dialog.locator("img").first).to_have_attribute("src", second["background"])
    expect(driver.slider()).to_have_attribute("aria-valuenow", "0")
    expect(status).not_to_contain_text("That did not fit")
    assert quota(page)[0] == creates_before  # a failure costs no create

    with driver.expect_response("POST", "/containers") as created:
        driver.drag_slider(second, driver.answer(second))
    assert created.value.status == 202, created.value.text()
    expect(card(page, created.value.json()["id"])).to_be_visible()
