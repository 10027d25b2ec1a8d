"""A person at the page, in Debian's Chromium driven by Playwright, against the running stack.

The hand on the slider is `tests.captcha_bots.human_drag` played back in real time with real
mouse moves (the page records its own track from the pointer events it receives); the eye that
finds the gap is Redis, where the answer is stored (a person reads it off the picture).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis
import requests
from playwright.sync_api import Browser, ConsoleMessage, Locator, Page, Response

from deploy.manifests import route_table
from shared import identity, keys
from tests.captcha_bots import Drag, human_drag
from tests.stack_driver import RunningStack, Visitor, processes_of

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
# axe-core, the accessibility engine, from the page's own npm packages (a dev dependency).
AXE = ROOT / "frontend" / "node_modules" / "axe-core" / "axe.min.js"
DIST = ROOT / "frontend" / "dist" / "index.html"
# The proof-of-work-only path costs 17 bits by default (a second or more of a visitor's CPU,
# more under load); the tests prove the path, not the price.
STACK_ENV = {"SPROUT_CAPTCHA_POW_DIFFICULTY": "14"}


def page_stack(
    base: pytest.TempPathFactory, name: str, *args: str, env: Mapping[str, str] | None = None
) -> Iterator[RunningStack]:
    """A local stack serving the built page for one test module (its module fixture yields
    from this), with STACK_ENV and `env`; once stopped, none of its processes is left."""
    if not DIST.exists():
        pytest.fail("frontend/dist is missing: build the page (make bootstrap, or npm run build)")
    running = RunningStack(base.mktemp(name), *args, env={**STACK_ENV, **(env or {})}).start()
    yield running
    running.stop()
    assert processes_of(running.data_dir) == []


CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
MOBILE = {"width": 390, "height": 844}
DESKTOP = {"width": 1440, "height": 900}
VIEWPORTS = {"mobile": MOBILE, "desktop": DESKTOP}
SCHEMES = ("light", "dark")


@dataclass
class Seen:
    """A state the page showed for a container, and what Redis held at that moment."""

    dom_state: str
    at: float  # the browser's clock, epoch seconds
    server_state: str | None


@dataclass
class PageDriver:
    page: Page
    redis: redis.Redis
    viewport: str
    rng: random.Random = field(default_factory=lambda: random.Random(3))
    console_errors: list[ConsoleMessage] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    #: (status, path) of HTTP errors the test causes on purpose and the page handles
    expected_http_errors: list[tuple[int, str]] = field(default_factory=list)
    seen: dict[str, list[Seen]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.page.on("console", self._on_console)
        self.page.on("pageerror", lambda error: self.page_errors.append(str(error)))
        self.page.expose_binding("sproutSeen", self._on_seen)

    # ---- what went wrong in the page ------------------------------------------------------

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.console_errors.append(message)

    def unexpected_errors(self) -> list[str]:
        """Console errors and uncaught exceptions, less the HTTP errors the test asked for.

        Chromium logs every 4xx/5xx fetch as "Failed to load resource: ... status of N" even
        when the page handles it; such a line is accepted only for a (status, path) the test
        declared, once per declaration. Anything else is a finding.
        """
        allowed = list(self.expected_http_errors)
        found = list(self.page_errors)
        for message in self.console_errors:
            text = message.text
            path = urlsplit(message.location.get("url", "")).path
            match = next(
                (
                    item
                    for item in allowed
                    if text.startswith("Failed to load resource")
                    and f"status of {item[0]} " in text
                    and path == item[1]
                ),
                None,
            )
            if match is None:
                found.append(f"{text} ({message.location.get('url', '')})")
            else:
                allowed.remove(match)
        return found

    # ---- the page's own account of a container's state -------------------------------------

    def _on_seen(self, _source: Any, container_id: str, state: str, at_ms: float) -> None:
        server = self.redis.hget(keys.record(container_id), "state")
        self.seen.setdefault(container_id, []).append(
            Seen(state, at_ms / 1000, str(server) if server is not None else None)
        )

    def watch_container(self, container_id: str) -> None:
        """Report every state the container's card shows, the moment it shows it."""
        self.page.evaluate(
            """(id) => {
                let last = null;
                const look = () => {
                  const card = document.querySelector(`[data-testid="container-${id}"]`);
                  const label = card?.getAttribute('aria-label') ?? '';
                  const state = card ? label.slice(label.lastIndexOf(': ') + 2) : 'absent';
                  if (state !== last) {
                    last = state;
                    window.sproutSeen(id, state, Date.now());
                  }
                };
                new MutationObserver(look).observe(document.body, {
                  subtree: true, childList: true, attributes: true, attributeFilter: ['aria-label'],
                });
                look();
            }""",
            container_id,
        )

    # ---- screenshots ------------------------------------------------------------------------

    def shoot(self, name: str, viewports: tuple[str, ...] = ("mobile", "desktop")) -> None:
        """Save the page as it is now, at each viewport, light and dark; then put it back."""
        ARTIFACTS.mkdir(exist_ok=True)
        for viewport in viewports:
            self.page.set_viewport_size(VIEWPORTS[viewport])  # type: ignore[arg-type]
            for scheme in SCHEMES:
                self.page.emulate_media(color_scheme=scheme)  # type: ignore[arg-type]
                self.page.screenshot(
                    path=ARTIFACTS / f"{name}-{viewport}-{scheme}.png", animations="disabled"
                )
        self.page.set_viewport_size(VIEWPORTS[self.viewport])  # type: ignore[arg-type]
        self.page.emulate_media(color_scheme="light")

    # ---- accessibility ------------------------------------------------------------------------

    def axe_violations(self) -> list[str]:
        """axe-core's violations on the page as it is now, at each viewport, light and dark.

        Each is "rule (impact): the first offending element" — an empty list is a pass.
        """
        if not self.page.evaluate("() => typeof window.axe !== 'undefined'"):
            self.page.add_script_tag(path=str(AXE))
        found: list[str] = []
        for viewport in VIEWPORTS:
            self.page.set_viewport_size(VIEWPORTS[viewport])  # type: ignore[arg-type]
            for scheme in SCHEMES:
                # The colours are read settled, not halfway through a transition from the other
                # scheme's: reduced motion, and every running transition waited out.
                self.page.emulate_media(color_scheme=scheme, reduced_motion="reduce")  # type: ignore[arg-type]
                # Two frames first: the new scheme's styles are computed and painted (a colour
                # read in the same task could still be the other scheme's), then any transition
                # those styles started is waited out.
                self.page.evaluate(
                    """() => new Promise((done) =>
                        requestAnimationFrame(() => requestAnimationFrame(done)))
                        .then(() => Promise.all(document.getAnimations()
                            .filter((a) => a instanceof CSSTransition)
                            .map((a) => a.finished.catch(() => undefined))))"""
                )
                result = self.page.evaluate(
                    "() => axe.run(document, { resultTypes: ['violations'] })"
                )
                for rule in result["violations"]:
                    node = rule["nodes"][0] if rule["nodes"] else {}
                    detail = node.get("failureSummary", "").replace("\n", " ")
                    found.append(
                        f"{viewport}/{scheme} {rule['id']} ({rule['impact']}): "
                        f"{node.get('target', '?')} {detail}"
                    )
        self.page.set_viewport_size(VIEWPORTS[self.viewport])  # type: ignore[arg-type]
        self.page.emulate_media(color_scheme="light", reduced_motion="no-preference")
        return found

    # ---- the CAPTCHA --------------------------------------------------------------------------

    def answer(self, challenge: dict[str, Any]) -> int:
        stored = self.redis.hget(keys.captcha_challenge(challenge["challenge_id"]), "x")
        assert stored is not None, "the challenge is not in Redis"
        return int(str(stored))

    def slider(self) -> Locator:
        return self.page.get_by_role("slider", name="Puzzle piece position")

    def drag_slider(self, challenge: dict[str, Any], target: int) -> Drag:
        """Drag the handle so that the piece ends near `target` (image px), like a person."""
        max_offset = challenge["width"] - challenge["piece_size"]
        # A person aims: of the drags a hand might make, take one that ends within 2 px
        # (the page's rounding of screen pixels to image pixels adds up to one more).
        while True:
            drag = human_drag(target, self.rng, max_offset=max_offset)
            if abs(drag.x - target) <= 2:
                break
        handle = self.slider()
        handle.wait_for()
        box = handle.bounding_box()
        shown = handle.evaluate("(h) => h.parentElement.getBoundingClientRect().width")
        assert box is not None and shown > 0
        scale = challenge["width"] / shown  # image px per screen px
        x0 = box["x"] + box["width"] / 2
        y0 = box["y"] + box["height"] / 2
        mouse = self.page.mouse
        mouse.move(x0 - 30, y0 + 40)
        self.page.wait_for_timeout(120)
        mouse.move(x0, y0, steps=4)
        self.page.wait_for_timeout(150 + self.rng.uniform(0, 200))  # a look at the picture
        mouse.down()
        sent, previous_t = time.monotonic(), 0.0
        for point in drag.track[1:]:
            # Keep each gap at least as long as the hand's: a busy machine stretches the drag
            # rather than bunching moves (a burst at the end would read as a script's stop).
            delay = sent + (point["t"] - previous_t) / 1000 - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            mouse.move(x0 + point["x"] / scale, y0 + point["y"] / scale)
            sent, previous_t = time.monotonic(), point["t"]
        mouse.up()
        return drag

    def press_slider_to(self, target: int) -> None:
        """From where the focused handle is: Page Up while far, then arrows, at a person's pace."""
        x = int(self.slider().get_attribute("aria-valuenow") or 0)
        while x != target:
            if target - x >= 10:
                key, x = "PageUp", x + 10
            elif target > x:
                key, x = "ArrowRight", x + 1
            else:
                key, x = "ArrowLeft", x - 1
            self.page.keyboard.press(key)
            self.page.wait_for_timeout(40 + self.rng.uniform(0, 60))

    def expect_response(self, method: str, path: str) -> Any:
        """`with driver.expect_response("POST", "/containers") as info:` ... `info.value`."""

        def wanted(response: Response) -> bool:
            return response.request.method == method and urlsplit(response.url).path == path

        return self.page.expect_response(wanted, timeout=30_000)

    def tab_to(self, matches: Callable[[], bool], limit: int = 40) -> None:
        """Press Tab until the focused element matches (a keyboard user finding a control)."""
        for _ in range(limit):
            if matches():
                return
            self.page.keyboard.press("Tab")
        raise AssertionError("Tab never reached the control")

    def focused(self, role: str, name: str) -> bool:
        return bool(
            self.page.evaluate(
                """([role, name]) => {
                    const el = document.activeElement;
                    if (!el) return false;
                    const r = el.getAttribute('role') ?? ({BUTTON: 'button', INPUT: el.type,
                        A: 'link'})[el.tagName];
                    const n = el.getAttribute('aria-label') ?? el.textContent?.trim() ?? '';
                    return r === role && (name === '' || n === name || el.value === name);
                }""",
                [role, name],
            )
        )


# ---- other people and other browsers ---------------------------------------------------------


class FromAddress(requests.Session):
    """HTTP from another address: straight to the functions, saying in `X-Real-Ip` where it
    comes from, as the gateway says it (the functions believe their loopback proxy)."""

    def __init__(self, functions: Mapping[str, str], address: str) -> None:
        super().__init__()
        self.functions = dict(functions)
        self.routes = route_table()
        self.address = address

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        parts = urlsplit(str(url))
        service = next(name for prefix, name in self.routes if parts.path.startswith(prefix))
        target = self.functions[service] + parts.path + (f"?{parts.query}" if parts.query else "")
        kwargs["headers"] = {**(kwargs.get("headers") or {}), "X-Real-Ip": self.address}
        return super().request(method, target, *args, **kwargs)


@dataclass
class Crowd:
    """The people around the page: other browsers on its address, neighbours on its network.

    Each creates through the real API, solving the puzzle as a person would. `reset` ends the
    scene: every container anyone made (the pages' too) is deleted by its owner, and the limits'
    windows are emptied, as if the hour had passed.
    """

    stack: RunningStack
    redis: redis.Redis
    members: list[Visitor] = field(default_factory=list)

    def other_browser(self) -> Visitor:
        """Another browser on the page's own address (through the gateway, as the page goes)."""
        visitor = Visitor(self.stack.url, self.redis, seed=len(self.members) + 11)
        self.members.append(visitor)
        return visitor

    def neighbour(self, address: str) -> Visitor:
        """Someone at another address of the page's network (127.0.0.0/24)."""
        functions = {
            part["name"]: part["address"]
            for part in self.stack.description["parts"]
            if str(part["address"]).startswith("http://")
        }
        visitor = Visitor("", self.redis, seed=len(self.members) + 11)
        visitor.http.close()
        visitor.http = FromAddress(functions, address)
        self.members.append(visitor)
        return visitor

    def create(self, visitor: Visitor, *, keep: bool = True) -> dict[str, Any]:
        """One container for `visitor`: kept live, or deleted at once (its create still counts)."""
        response = visitor.create()
        assert response.status_code == 202, response.text
        record: dict[str, Any] = response.json()
        if not keep:
            assert visitor.delete(f"/containers/{record['id']}").status_code == 202
        return record

    def reset(self, browser: Browser) -> None:
        owners = list(self.members)
        for context in browser.contexts:
            for cookie in context.cookies():
                if cookie["name"] == identity.OWNER_COOKIE:
                    page_owner = Visitor(self.stack.url, self.redis)
                    page_owner.http.cookies.set(identity.OWNER_COOKIE, cookie["value"])
                    owners.append(page_owner)
        for owner in owners:
            listed = owner.get("/containers")
            for record in listed.json()["containers"] if listed.status_code == 200 else []:
                if record["state"] in ("pending", "running", "failed"):
                    owner.delete(f"/containers/{record['id']}")
            owner.close()
        for key in self.redis.scan_iter(f"{keys.PREFIX}rl:*"):
            self.redis.delete(key)
        self.members.clear()
