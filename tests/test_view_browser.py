"""``mist view`` pages in a real browser: headless Chromium (Debian's ``chromium`` package).

A tiny Chrome DevTools Protocol client (stdlib only) talks to Chromium over
``--remote-debugging-pipe``: it loads the generated page, collects every console error, uncaught
exception and browser log error (CSP violations, blocked loads), checks in the rendered DOM that
each chart's SVG is present and has drawn content, switches runs with the ``<select>``, and saves a
full-page screenshot to a temporary directory (its path is printed; run pytest with ``-s`` to see).

Skipped, with the reason, when no Chromium binary is found (install: ``apt-get install -y chromium``).
"""
from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest

from mist.cli import main

DATA = Path(__file__).parent / "data"
CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")


def find_chromium() -> Optional[str]:
    env = os.environ.get("MIST_CHROMIUM")
    if env and os.path.exists(env):
        return env
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


class Chromium:
    """Headless Chromium driven over the DevTools pipe (fd 3: commands in, fd 4: messages out)."""

    def __init__(self, binary: str, width: int = 1280, height: int = 2400) -> None:
        import fcntl  # POSIX only, like the pipe wiring below

        self.profile = tempfile.mkdtemp(prefix="mist-chromium-")
        cmd_r, self._cmd_w = os.pipe()
        self._out_r, out_w = os.pipe()

        def wire() -> None:  # in the child: commands on fd 3, responses on fd 4
            # move both ends out of the way first: a pipe end may itself be fd 3 or 4
            a, b = fcntl.fcntl(cmd_r, fcntl.F_DUPFD, 10), fcntl.fcntl(out_w, fcntl.F_DUPFD, 10)
            os.dup2(a, 3)
            os.dup2(b, 4)

        args = [binary, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--no-first-run", "--no-default-browser-check", "--disable-extensions",
                "--disable-background-networking", "--disable-sync", "--hide-scrollbars", "--mute-audio",
                f"--user-data-dir={self.profile}", f"--window-size={width},{height}",
                "--remote-debugging-pipe", "about:blank"]
        # close_fds=False: the pipe ends are not inheritable (PEP 446), only their dup2 copies on fds
        # 3 and 4 are, and subprocess's own fd closing would otherwise run after wire() and drop them
        self.proc = subprocess.Popen(args, preexec_fn=wire, close_fds=False,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(cmd_r)
        os.close(out_w)
        self._buf = b""
        self._id = 0
        self.events: List[Dict[str, Any]] = []
        self.session: Optional[str] = None
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.call(f"{domain}.enable")
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1,
                  mobile=False)

    def _read_message(self, deadline: float) -> Dict[str, Any]:
        while b"\0" not in self._buf:
            if time.monotonic() > deadline:
                raise TimeoutError("no answer from Chromium")
            ready, _, _ = select.select([self._out_r], [], [], 0.2)
            if ready:
                chunk = os.read(self._out_r, 1 << 20)
                if not chunk:
                    raise RuntimeError("Chromium closed the DevTools pipe")
                self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        return json.loads(raw)

    def call(self, method: str, timeout: float = 30.0, **params: Any) -> Dict[str, Any]:
        self._id += 1
        msg: Dict[str, Any] = {"id": self._id, "method": method, "params": params}
        if self.session and not method.startswith(("Target.", "Browser.")):
            msg["sessionId"] = self.session
        os.write(self._cmd_w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            m = self._read_message(deadline)
            if m.get("id") == self._id:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m.get("result", {})
            self.events.append(m)

    def wait_event(self, name: str, timeout: float = 30.0) -> Dict[str, Any]:
        for i, e in enumerate(self.events):
            if e.get("method") == name:
                return self.events.pop(i)
        deadline = time.monotonic() + timeout
        while True:
            m = self._read_message(deadline)
            if m.get("method") == name:
                return m
            self.events.append(m)

    def load(self, url: str) -> float:
        """Navigate and wait for the load event; returns the seconds it took."""
        t0 = time.monotonic()
        self.call("Page.navigate", url=url)
        self.wait_event("Page.loadEventFired")
        return time.monotonic() - t0

    def evaluate(self, expression: str) -> Any:
        res = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in res:
            raise RuntimeError(res["exceptionDetails"])
        return res["result"].get("value")

    def screenshot(self, path: str) -> None:
        data = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)["data"]
        Path(path).write_bytes(base64.b64decode(data))

    def errors(self) -> List[str]:
        """Console errors, uncaught exceptions and browser log errors seen so far."""
        self.call("Runtime.evaluate", expression="0")  # flush pending events
        out = []
        for e in self.events:
            m, p = e.get("method"), e.get("params", {})
            if m == "Runtime.exceptionThrown":
                d = p.get("exceptionDetails", {})
                out.append("uncaught: " + str(d.get("exception", {}).get("description") or d.get("text")))
            elif m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert", "warning"):
                out.append(f"console.{p.get('type')}: " + " ".join(str(a.get("value", a.get("description")))
                                                                  for a in p.get("args", [])))
            elif m == "Log.entryAdded" and p.get("entry", {}).get("level") in ("error", "warning"):
                out.append("log: " + p["entry"].get("text", ""))
        return out

    def close(self) -> None:
        try:
            self.call("Browser.close", timeout=5)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self._cmd_w, self._out_r):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self.profile, ignore_errors=True)


DOM_CHECK = r"""
(() => {
  const charts = [...document.querySelectorAll("svg.chart")].map(svg => {
    const box = svg.getBoundingClientRect();
    const marks = svg.querySelectorAll("rect,path,circle,line").length;
    const drawn = [...svg.querySelectorAll("rect")].filter(r => r.getBBox().width > 0 && r.getBBox().height > 0).length;
    return {label: svg.getAttribute("aria-label"), width: box.width, height: box.height, marks, drawn,
            texts: svg.querySelectorAll("text").length};
  });
  const sel = document.getElementById("trace-select");
  return {charts, options: sel ? sel.options.length : 0,
          waterfallRows: document.querySelectorAll("#waterfall svg g").length,
          treeRows: document.querySelectorAll("#tree .n").length,
          marks: [...document.querySelectorAll("#marks p")].map(p => p.textContent),
          title: document.title};
})()
"""

SWITCH = r"""
(() => {
  const sel = document.getElementById("trace-select");
  sel.value = String(sel.options.length - 1);
  sel.dispatchEvent(new Event("change"));
  return {rows: document.querySelectorAll("#tree .n").length,
          first: document.querySelector("#tree .n").textContent};
})()
"""


@pytest.fixture(scope="module")
def browser():
    binary = find_chromium()
    if binary is None:
        pytest.skip("no Chromium binary found (Debian: apt-get install -y chromium); set MIST_CHROMIUM to use another")
    b = Chromium(binary)
    yield b
    b.close()


def _page(tmp_path: Path, src: Path) -> Path:
    copy = tmp_path / src.name
    shutil.copy(src, copy)
    assert main(["view", str(copy)]) == 0
    return copy.with_suffix(".html")


def test_fixture_page_renders_without_errors(browser, tmp_path, capsys):
    page = _page(tmp_path, DATA / "report_fixture.jsonl")
    browser.events.clear()
    browser.load(page.as_uri())
    state = browser.evaluate(DOM_CHECK)
    assert browser.errors() == []
    labels = [c["label"] for c in state["charts"]]
    for expected in ("cost by model", "cost by agent step", "latency distribution per operation",
                     "cost over time", "scores over time", "waterfall"):
        assert expected in labels, labels
    for chart in state["charts"]:
        assert chart["width"] > 100 and chart["height"] > 20, chart
        assert chart["marks"] > 0 and chart["texts"] > 0, chart
    bars = {c["label"]: c["drawn"] for c in state["charts"]}
    assert bars["cost by model"] == 2 and bars["cost by agent step"] == 3  # unpriced models: no bar
    assert state["options"] == 3 and state["waterfallRows"] == 2 and state["treeRows"] == 2  # newest run: 2 spans
    switched = browser.evaluate(SWITCH)  # the oldest run: 9 spans, a failure and a score drop
    assert switched["rows"] == 9 and "agent.run" in switched["first"]
    state = browser.evaluate(DOM_CHECK)
    assert state["waterfallRows"] == 9
    assert any("first error" in m and "RateLimitError" in m for m in state["marks"])
    assert browser.errors() == []
    shots = Path(tempfile.mkdtemp(prefix="mist-view-shots-"))
    browser.screenshot(str(shots / "fixture.png"))
    assert (shots / "fixture.png").stat().st_size > 10_000
    with capsys.disabled():
        print(f"\nscreenshot: {shots / 'fixture.png'}")


def test_hostile_page_runs_no_injected_code(browser, tmp_path):
    evil = "</script><script>window.__pwned=1</script><img src=x onerror=window.__pwned=2>"
    lines = []
    for i in range(3):
        p = {"trace_id": "%032x" % (i + 1), "span_id": "%016x" % (i + 1), "operation": evil, "start_ns": i * 10**9,
             "end_ns": i * 10**9 + 5 * 10**8, "status": "error",
             "attrs": {"model": evil, "input": evil, "output": evil, "error": evil, "cost_usd": 0.01,
                       "tokens_in": 5, "tokens_out": 1, "step": i, "score." + evil: 0.2}}
        lines.append(json.dumps({"version": "1", "id": "%032x" % i, "source": evil, "type": "trace.span",
                                 "timestamp_ns": p["end_ns"], "payload": p}))
        lines.append(json.dumps({"version": "1", "id": "%032x" % (9 + i), "source": evil, "type": "trace.alert",
                                 "timestamp_ns": p["end_ns"], "payload": {"level": "critical", "metric": evil,
                                                                          "value": 1, "threshold": 0, "message": evil}}))
    src = tmp_path / "evil.jsonl"
    src.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    out.mkdir()
    page = _page(out, src)
    browser.events.clear()
    browser.load(page.as_uri())
    assert browser.evaluate("window.__pwned === undefined") is True
    assert browser.evaluate("document.querySelectorAll('img').length") == 0
    assert browser.evaluate("document.querySelectorAll('script').length") == 2
    assert browser.errors() == []
    switched = browser.evaluate(SWITCH)
    assert evil[:20] in switched["first"]  # shown as text
    assert browser.evaluate("window.__pwned === undefined") is True


TIME_CHARTS = r"""
(() => {
  const out = {};
  for (const label of ["cost over time", "scores over time"]) {
    const svg = document.querySelector(`svg.chart[aria-label="${label}"]`);
    if (!svg) continue;
    const axis = svg.querySelector("line.axis").getBoundingClientRect();
    const markers = [...svg.querySelectorAll("g.alert > line")].map(l => {
      const r = l.getBoundingClientRect();
      return (r.left + r.right) / 2;
    });
    const bars = [...svg.querySelectorAll(":scope > rect")].filter(r => r.getBBox().width > 0).length;
    out[label] = {left: axis.left, right: axis.right, markers, bars};
  }
  return out;
})()
"""


def test_demo_page_puts_alert_markers_where_they_fired(browser, tmp_path):
    """The demo's spans, scores and alerts share one clock: its time charts span the simulated
    runs (many bars, not one squeezed bar) and each alert marker sits inside the plot at the
    time its envelope says it fired (not piled up at the right edge)."""
    from mist.alerts import pipeline as _alert_pipeline
    from mist.core import hooks

    out = tmp_path / "demo.jsonl"
    hooks.drain()
    _alert_pipeline._engine = None  # `mist demo` normally runs in a fresh process
    try:
        assert main(["demo", "--out", str(out), "--steps", "300"]) == 0
    finally:
        hooks.drain()
        _alert_pipeline._engine = None
    msgs = [json.loads(line) for line in out.read_bytes().splitlines()]
    spans = [m["payload"] for m in msgs if m["type"] == "trace.span"]
    t0, t1 = min(s["start_ns"] for s in spans), max(s["end_ns"] for s in spans)
    expected = sorted((m["timestamp_ns"] - t0) / (t1 - t0) for m in msgs if m["type"] == "trace.alert")
    assert expected, "the demo fired no alert"
    browser.events.clear()
    browser.load(out.with_suffix(".html").as_uri())
    charts = browser.evaluate(TIME_CHARTS)
    assert browser.errors() == []
    assert set(charts) == {"cost over time", "scores over time"}, charts
    assert charts["cost over time"]["bars"] >= 48, charts  # the runs spread over the axis
    for label, c in charts.items():
        left, right = c["left"], c["right"]
        assert right - left > 300, (label, c)
        assert len(c["markers"]) == len(expected), (label, c)
        for x in c["markers"]:
            assert left <= x <= right, (label, x, c)
        got = sorted((x - left) / (right - left) for x in c["markers"])
        assert all(abs(g - e) < 0.005 for g, e in zip(got, expected)), (label, got, expected)
        assert min(got) < 0.9, (label, got)  # not all at the right edge


if __name__ == "__main__":  # pragma: no cover - manual: python tests/test_view_browser.py PAGE.html [SHOT.png]
    b = Chromium(find_chromium() or sys.exit("no chromium"))
    try:
        secs = b.load(Path(sys.argv[1]).resolve().as_uri())
        print(f"loaded in {secs:.2f} s; errors: {b.errors()}")
        print(json.dumps(b.evaluate(DOM_CHECK), indent=1)[:2000])
        if len(sys.argv) > 2:
            b.screenshot(sys.argv[2])
    finally:
        b.close()
