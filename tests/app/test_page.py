"""The chat page in a real browser (Debian's headless Chromium) against a real server."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from langgraph.types import RetryPolicy
from playwright.async_api import Page, async_playwright, expect
from support import refund_graph, scripted

from accord.app import Client
from accord.graphs import consensus, delegation, handoff

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
WATCH_STREAMING = """() => {
  window.streamed = [];
  document.addEventListener('accord:event', (event) => {
    if (event.detail.kind !== 'token') return;
    const shown = document.querySelector('.bubble.streaming .text');
    window.streamed.push([event.detail.data.agent, shown ? shown.textContent : null]);
  });
}"""


def _install_chromium() -> str | None:
    """Installs Debian's chromium with apt when running as root; the reason it could not, else."""
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return "chromium is missing and apt-get cannot run here (not root, or not Debian)"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "chromium"]
    if subprocess.run(install, env=env, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True)
        done = subprocess.run(install, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            return f"apt-get install chromium failed: {done.stderr[-500:]}"
    return None


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's chromium, installed if missing (skipped with the reason outside CI)."""
    if not CHROMIUM.exists():
        problem = _install_chromium()
        if problem is not None or not CHROMIUM.exists():
            reason = problem or f"apt-get installed chromium but {CHROMIUM} is missing"
            if os.environ.get("CI") == "true":
                pytest.fail(reason)
            pytest.skip(reason)
    return CHROMIUM


def _console_errors(page: Page) -> list[str]:
    """Collects the page's console errors and uncaught exceptions as they happen."""
    seen: list[str] = []
    page.on("console", lambda m: seen.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: seen.append(str(e)))
    return seen


@asynccontextmanager
async def _signed_in(chromium: Path, url: str) -> AsyncIterator[tuple[Page, list[str]]]:
    """A browser page signed in as alice at `url`, and the console errors it collects."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(chromium), args=ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1200, "height": 800})
            errors = _console_errors(page)
            await _sign_in(page, url)
            yield page, errors
        finally:
            await browser.close()


async def _sign_in(page: Page, url: str) -> None:
    await page.goto(url)
    await page.fill("#token", "alice-token")
    await page.click("#token-form button")
    await expect(page.locator("#whoami")).to_have_text("Signed in as alice (support)")


def _png_size(path: Path) -> tuple[int, int]:
    """Width and height of a PNG file, after checking its signature and header chunk."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG file"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.mark.timeout(120)
async def test_the_chat_page_streams_a_reply_with_agents_and_handoffs(
    serve: Callable[..., str], chromium: Path, tmp_path: Path
) -> None:
    url = serve(latency=0.2)
    async with _signed_in(chromium, url) as (page, errors):
        await page.click("#new-session")
        await expect(page.locator("#sessions li")).to_have_count(1)
        await page.evaluate(WATCH_STREAMING)
        await page.fill("#message", "Hi, I'm Dana")
        await page.click("#send")

        answer = page.locator(".bubble.agent").nth(1)
        await expect(answer).to_contain_text("Support here: you said Hi, I'm Dana")
        await expect(page.locator("#status")).to_have_text("")
        await expect(page.locator("#agent")).to_have_text("support")
        names = await page.locator(".bubble.agent .name").all_text_contents()
        markers = await page.locator(".marker").all_text_contents()
        streamed: list[list[str]] = await page.evaluate("window.streamed")
        stored = await page.evaluate("localStorage.getItem('accord.token')")
        shot = tmp_path / "chat.png"
        await page.screenshot(path=str(shot), full_page=True)
        text = await page.inner_text("body")

        await page.reload()  # the token and the conversation come back
        await expect(page.locator("#whoami")).to_have_text("Signed in as alice (support)")
        await page.click("#sessions li")
        await expect(page.locator(".bubble")).to_have_count(3)

    assert errors == []
    assert names == ["intake", "support"]
    # The handoff's reason was intake's whole reply, shown just above: it is not repeated.
    assert markers == ["⇢ intake hands off to support"]
    # The page showed the reply growing with each token, in the speaking agent's bubble.
    support = [text for agent, text in streamed if agent == "support"]
    final = "Support here: you said Hi, I'm Dana"
    assert len(support) >= 4
    assert support[-1] == final
    assert all(final.startswith(t) and len(t) < len(n) for t, n in pairwise(support))
    assert stored == "alice-token"
    assert "You\nHi, I'm Dana" in text
    assert "Support here: you said Hi, I'm Dana" in text
    assert _png_size(shot) == (1200, 800)
    assert shot.stat().st_size > 10_000


@pytest.mark.timeout(120)
async def test_a_reply_the_facts_gate_replaced_shows_only_as_kept(
    serve: Callable[..., str], chromium: Path
) -> None:
    attempt = {"facts": {}, "handoff_to": "setup", "reply": "Great, passing you to setup now."}
    intake = scripted("intake", attempt)
    team = handoff([intake, scripted("setup", requires=("account_type",))])
    url = serve(team)
    async with _signed_in(chromium, url) as (page, errors):
        await page.click("#new-session")
        await page.evaluate(WATCH_STREAMING)
        await page.fill("#message", "Hi, I'm Dana")
        await page.click("#send")
        await expect(page.locator("#status")).to_have_text("")
        await expect(page.locator(".bubble.agent")).to_have_count(1)
        shown = await page.locator(".bubble.agent .text").all_text_contents()
        streamed: list[list[str]] = await page.evaluate("window.streamed")

    assert errors == []
    # An answer that hands off streams nothing: the bubble shows the reply that was kept.
    assert "Great, passing you to setup now." not in str(streamed)
    assert shown == ["Before we go on, could you tell me your account type?"]


def _vote(choice: str, confidence: float) -> dict[str, Any]:
    return {"choice": choice, "confidence": confidence, "rationale": f"I say {choice} here."}


@pytest.mark.timeout(120)
async def test_votes_and_the_decision_read_as_text_from_the_panel(
    serve: Callable[..., str], chromium: Path
) -> None:
    voters = [
        scripted("history", _vote("approve", 0.9)),
        scripted("market", _vote("approve", 0.7)),
        scripted("compliance", ConnectionError("endpoint down")),
    ]
    retry = RetryPolicy(max_attempts=1)
    url = serve(consensus(voters, options=["approve", "reject"], quorum=2, retry=retry))
    async with _signed_in(chromium, url) as (page, errors):
        await page.click("#new-session")
        await page.fill("#message", "Loan of 2000 EUR for a used car")
        await page.click("#send")
        decision = page.locator(".marker.decision")
        await expect(decision).to_have_count(1)
        markers = await page.locator(".marker").all_text_contents()
        names = await page.locator(".bubble.agent .name").all_text_contents()
        agent = await page.locator("#agent").text_content()

    assert errors == []
    assert sorted(markers[:3]) == [  # the voters run in parallel: any order
        "history votes approve (confidence 90%): I say approve here.",
        "market votes approve (confidence 70%): I say approve here.",
        "✗ compliance failed after 1 attempt (ConnectionError): endpoint down",
    ]
    assert markers[3:] == [
        "⚖ Decision: approve · confidence 80% · votes approve 2 · 'approve' has the most weight"
    ]
    assert not any("{" in marker for marker in markers)  # no raw JSON
    assert names == ["panel vote"]  # not the pseudo-agent "tally"
    assert agent == "panel vote"


@pytest.mark.timeout(120)
async def test_plans_and_results_are_shown_and_sessions_end_and_restore(
    serve: Callable[..., str], chromium: Path
) -> None:
    plan = {"subtasks": [{"worker": "rooms", "task": "Find a room for ten people."}]}
    boss = scripted("boss", plan, {"reply": "Room 4 is booked."}, plan, {"reply": "Again."})
    rooms = scripted("rooms", {"result": "Room 4, free on Monday."}, {"result": "Room 5."})
    url = serve(delegation(boss, [rooms]))
    async with _signed_in(chromium, url) as (page, errors):
        await page.click("#new-session")
        session_id = await page.locator("#sessions li .session-id").text_content()
        title = await page.locator("#session-title").text_content()
        for text in ("Book a room", "Book another"):
            await page.fill("#message", text)
            await page.click("#send")
            await expect(page.locator("#send")).to_be_enabled()  # the run is over
        log = await page.locator("#log").inner_text()
        plans = await page.locator(".marker.plan").all_text_contents()
        await page.locator(".card.result summary").first.click()
        result = await page.locator(".card.result .text").first.inner_text()
        card = await page.locator(".card.result summary").first.text_content()

        # Back to after the first reply: the second turn leaves the conversation.
        await page.click("#restore-session")
        await expect(page.locator("#restore-form")).to_be_visible()
        options = await page.locator("#restore-to option").all_text_contents()
        await page.select_option("#restore-to", index=0)
        await page.click("#restore-form button[type=submit]")
        await expect(page.locator("#status")).to_contain_text("Restored")
        restored = await page.locator(".bubble .text").all_text_contents()

        await page.click("#end-session")
        await expect(page.locator("#message")).to_be_disabled()
        await expect(page.locator("#sessions li .session-meta")).to_contain_text("ended")
        await expect(page.locator("#end-session")).to_be_hidden()

    assert errors == []
    assert session_id is not None
    assert len(session_id) > 8  # the whole id, not an 8-character prefix
    assert title == f"Session {session_id}"
    assert plans == ["☐ rooms is asked to: Find a room for ten people."] * 2
    # One bubble per reply, named after the coordinator (not its "synthesis" step).
    assert log.count("Room 4 is booked.") == 1
    assert "synthesis" not in log
    assert card == "✓ rooms finished: Find a room for ten people."
    assert result == "Room 4, free on Monday."
    assert [o.split(" (")[0] for o in options] == ["after reply 1", "after reply 2"]
    assert restored == ["Book a room", "Room 4 is booked."]


@pytest.mark.timeout(120)
async def test_thumbs_rate_an_answer_for_its_agent_and_stay_after_a_reload(
    serve: Callable[..., str], chromium: Path
) -> None:
    url = serve()
    async with _signed_in(chromium, url) as (page, errors):
        await page.click("#new-session")
        await page.fill("#message", "Hi, I'm Dana")
        await page.click("#send")
        await expect(page.locator(".bubble.agent .rate")).to_have_count(2)
        intake, support = (
            page.locator(".bubble.agent").nth(0),
            page.locator(".bubble.agent").nth(1),
        )
        await intake.get_by_role("button", name="Bad answer").click()
        await expect(page.locator("#status")).to_have_text("Thanks: your rating is saved.")
        await support.get_by_role("button", name="Good answer").click()
        good = support.get_by_role("button", name="Good answer")
        await expect(good).to_have_attribute("aria-pressed", "true")
        session_id = await page.locator("#sessions li .session-id").text_content()

        await page.reload()
        await page.click("#sessions li")
        pressed = page.locator(".thumb[aria-pressed=true]")
        await expect(pressed).to_have_count(2)
        kept = await pressed.evaluate_all("(all) => all.map((b) => b.title)")
    async with Client(url, "alice-token") as alice:
        trail = await alice.audit(str(session_id))

    assert errors == []
    assert kept == ["Bad answer", "Good answer"]
    rated = [
        (e["agent"], e["actor"], e["details"]["score"]) for e in trail if e["kind"] == "feedback"
    ]
    assert rated == [("intake", "alice", 0.0), ("support", "alice", 1.0)]


@pytest.mark.timeout(120)
async def test_a_question_waits_after_a_reload_and_approve_resumes_the_session(
    serve: Callable[..., str], chromium: Path
) -> None:
    url = serve(refund_graph())
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(chromium), args=ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1200, "height": 800})
            errors = _console_errors(page)
            await _sign_in(page, url)
            await page.click("#new-session")
            await page.fill("#message", "Refund my 9 EUR")
            await page.click("#send")
            question = page.locator(".question")
            await expect(question).to_contain_text('clerk asks to run refund {"eur":9}')
            await expect(page.locator("#message")).to_be_disabled()
            await expect(page.locator("#sessions li .session-meta")).to_contain_text("paused")

            await page.reload()  # the question is the session's, not the page's
            await page.click("#sessions li")
            await expect(question).to_have_count(1)
            await question.get_by_role("button", name="Approve").click()
            await expect(page.locator(".bubble.agent")).to_have_text(["clerkRefunded."])
            await expect(page.locator("#message")).to_be_enabled()
            await expect(page.locator("#status")).to_have_text("")
            session_id = await page.locator("#sessions li .session-id").text_content()
        finally:
            await browser.close()
    async with Client(url, "alice-token") as alice:
        trail = await alice.audit(str(session_id))

    assert errors == []
    answered = [e for e in trail if e["kind"] == "answered"]
    assert [(e["actor"], e["details"]["approved"]) for e in answered] == [("alice", True)]
