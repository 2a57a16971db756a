"""A real headless Chromium (Debian's ``chromium``) driven over the DevTools protocol on a pipe.

``--remote-debugging-pipe`` reads NUL-separated JSON commands on fd 3 and answers on fd 4, so the
tests need no WebDriver, no websocket client and no port. Input goes through ``Input.dispatch*``
(the browser's own mouse and key events, as a person's would), and every uncaught script error or
``console.error`` is kept in :attr:`Page.errors` for the tests to assert on.

Chromium is installed from Debian (``apt-get install chromium``; ``.ci/run`` does it); without it
the ``page`` fixture (``tests/conftest.py``) skips, saying so.
"""

import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
TIMEOUT_SECONDS = 30.0


def to_fixed(value: float, digits: int) -> str:
    """``value`` as a page's ``Number.prototype.toFixed(digits)`` shows it (a non-negative number): a tie
    on the exact binary value rounds up, where Python's ``f"{value:.3f}"`` rounds it to even (0.0625:
    "0.063" on the page, "0.062" in Python)."""
    return str(Decimal(value).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP))


class BrowserError(RuntimeError):
    pass


class Page:
    """One tab of a headless Chromium: navigate, evaluate, click, press keys, take screenshots."""

    def __init__(self, width: int = 1100, height: int = 1400):
        self._profile = tempfile.TemporaryDirectory(prefix="automl-video-chromium-")
        commands_read, self._commands = os.pipe()
        self._answers, answers_write = os.pipe()

        def wire_pipes() -> None:  # in the child: fd 3 = commands, fd 4 = answers
            low, high = os.dup(commands_read), os.dup(answers_write)  # copies: wiring one cannot close the other
            os.dup2(low, 3)
            os.dup2(high, 4)

        self._process = subprocess.Popen(
            [
                CHROMIUM,
                "--headless",
                "--remote-debugging-pipe",
                "--no-sandbox",  # root in a container: the setuid sandbox is unavailable
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--disable-extensions",
                f"--user-data-dir={self._profile.name}",
                "about:blank",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=(3, 4),  # kept open after preexec_fn (subprocess closes the others after it)
            preexec_fn=wire_pipes,
        )
        os.close(commands_read)
        os.close(answers_write)
        self._buffer = b""
        self._next_id = 0
        self.errors: list[str] = []
        target = self._call("Target.createTarget", url="about:blank")["targetId"]
        self._session = self._call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Runtime"):
            self.call(f"{domain}.enable")
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False)

    # -- protocol --------------------------------------------------------------------------------

    def _send(self, message: dict[str, Any]) -> None:
        os.write(self._commands, json.dumps(message).encode() + b"\0")

    def _receive(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            if time.monotonic() > deadline:
                raise BrowserError("Chromium did not answer in time")
            chunk = os.read(self._answers, 1 << 20)
            if not chunk:
                raise BrowserError(f"Chromium exited (status {self._process.poll()})")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)

    def _call(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        self._send(message)
        deadline = time.monotonic() + TIMEOUT_SECONDS
        while True:
            answer = self._receive(deadline)
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise BrowserError(f"{method}: {answer['error']}")
                return answer.get("result", {})
            self._note_event(answer)

    def _note_event(self, event: dict[str, Any]) -> None:
        params = event.get("params", {})
        if event.get("method") == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            self.errors.append(details.get("exception", {}).get("description") or details.get("text", "?"))
        elif event.get("method") == "Runtime.consoleAPICalled" and params.get("type") == "error":
            self.errors.append(" ".join(str(a.get("value", a.get("description"))) for a in params.get("args", [])))

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        """A DevTools command in this tab."""
        return self._call(method, session=self._session, **params)

    # -- what tests use ---------------------------------------------------------------------------

    def open(self, path: str) -> None:
        """Load a local file and wait until its scripts have run."""
        self.call("Page.navigate", url=f"file://{os.path.abspath(path)}")
        deadline = time.monotonic() + TIMEOUT_SECONDS
        while self.evaluate("document.readyState") != "complete":
            if time.monotonic() > deadline:
                raise BrowserError(f"{path} did not finish loading")
            time.sleep(0.05)

    def evaluate(self, expression: str) -> Any:
        """A JavaScript expression's value (JSON-able), raising on a script error."""
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def text(self, selector: str) -> str:
        return self.evaluate(f"document.querySelector({json.dumps(selector)}).textContent")

    def click(self, selector: str) -> None:
        """A real mouse click at the middle of the element (scrolled into view first)."""
        box = self.evaluate(
            f"(function() {{ var e = document.querySelector({json.dumps(selector)}); e.scrollIntoView({{block: 'center'}});"
            " var r = e.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })()"
        )
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", type=kind, x=box[0], y=box[1], button="left", clickCount=1)

    def press(self, key: str, code: int, times: int = 1) -> None:
        """Key presses on the focused element (e.g. ``"ArrowRight", 39`` on a range input)."""
        for _ in range(times):
            for kind in ("rawKeyDown", "keyUp"):
                self.call("Input.dispatchKeyEvent", type=kind, key=key, code=key, windowsVirtualKeyCode=code)

    def screenshot(self, folder: str, name: str) -> str:
        """A PNG of the whole page in ``folder``, copied to ``$AUTOML_VIDEO_SCREENSHOTS`` when set (to look at)."""
        data = base64.b64decode(self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)["data"])
        if not data.startswith(b"\x89PNG\r\n\x1a\n"):
            raise BrowserError(f"the screenshot {name} is not a PNG")
        path = os.path.join(folder, name)
        kept = os.environ.get("AUTOML_VIDEO_SCREENSHOTS")
        for target in [path] + ([os.path.join(kept, name)] if kept else []):
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, "wb") as f:
                f.write(data)
        return path

    def close(self) -> None:
        try:
            self._call("Browser.close")
        except BrowserError:
            pass
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        os.close(self._commands)
        os.close(self._answers)
        self._profile.cleanup()
