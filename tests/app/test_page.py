"""The chat page in a real browser (Debian's headless Chromium) against a real server."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path

import pytest
from playwright.async_api import async_playwright, expect

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
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(chromium), args=ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1200, "height": 800})
            await page.goto(url)
            await page.fill("#token", "alice-token")
            await page.click("#token-form button")
            await expect(page.locator("#whoami")).to_have_text("Signed in as alice (support)")

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
        finally:
            await browser.close()

    assert names == ["intake", "support"]
    assert markers == ["⇢ intake hands off to support: Welcome! Passing you to support."]
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
