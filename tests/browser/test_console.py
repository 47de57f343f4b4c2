"""The console in a real browser (Debian's chromium through Playwright) against the real
`alertwrite serve`: the board, live updates, actions and their audit trail, refusals, 375 px.

These need alert-api (contracts §2) and serve's /console/ and /stream (§4). Until serve has
them, every test here skips with the reason; they run as soon as those land.
"""
from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest

from e2e_support import Alertmanager, Process, free_port, ready_port, wait_until
from support import TOKEN

ROOT = Path(__file__).resolve().parents[2]
SHOTS = Path(__file__).resolve().parent / "screenshots"
CHROMIUM = "/usr/bin/chromium"
# Never download a browser: Debian's chromium, with the flags that keep it off the network.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
TOKENS = {"admin": "console-admin-token-0123456789", "responder": "console-responder-token-012345",
          "viewer": "console-viewer-token-0123456789"}
API_TOKENS = ",".join(f"{name}:{role}:{token}" for role, token, name in
                      ((r, t, {"admin": "alice", "responder": "bob", "viewer": "vic"}[r]) for r, t in TOKENS.items()))

pytestmark = pytest.mark.browser


def _missing(reason: str):
    if os.environ.get("CI") == "true":
        pytest.fail(reason + "; under CI a missing browser is a failure")
    pytest.skip(reason)


class Serve:
    def __init__(self, workdir: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "ALERTWRITE_WEBHOOK_TOKENS": TOKEN, "ALERTWRITE_API_TOKENS": API_TOKENS,
               "PYTHONUNBUFFERED": "1"}
        self.process = Process([os.sys.executable, "-m", "provision", "--root", str(ROOT), "serve", "--port",
                                str(self.port), "--db", str(workdir / "alertwrite.db")], workdir / "serve.log", env, workdir)
        wait_until(lambda: ready_port(self.port) or self._died(), 60, "alertwrite serve")

    def _died(self):
        if self.process.proc.poll() is not None:
            raise AssertionError("serve exited:\n" + self.process.output()[-3000:])

    def api(self, method: str, path: str, role: str = "admin", **kwargs) -> httpx.Response:
        return httpx.request(method, f"{self.url}/functions/alert-api{path}", timeout=10,
                             headers={"Authorization": f"Bearer {TOKENS[role]}"}, **kwargs)

    def deliver(self, *alerts: dict, status: str = "firing") -> None:
        """POST a webhook v4 delivery as Alertmanager sends it (format of tests/fixtures/alertmanager)."""
        name = alerts[0]["labels"]["alertname"]
        body = {"receiver": "alertwrite", "status": status, "alerts": list(alerts), "groupLabels": {"alertname": name},
                "commonLabels": {"alertname": name}, "commonAnnotations": {}, "externalURL": "http://am.test:9093",
                "version": "4", "groupKey": f'{{}}:{{alertname="{name}"}}', "truncatedAlerts": 0}
        answer = httpx.post(self.url + "/", json=body, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
        assert answer.status_code == 200, answer.text

    def stop(self):
        self.process.stop()


def alert(name: str, instance: str, fingerprint: str, severity: str = "critical", **labels) -> dict:
    start = (datetime.now(timezone.utc) - timedelta(minutes=3)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return {"status": "firing", "labels": {"alertname": name, "instance": instance, "job": "node", "severity": severity,
                                           **labels},
            "annotations": {"summary": f"{name} on {instance} <img src=x onerror=alert(1)>",
                            "runbook_url": "javascript:alert(1)", "dashboard": "https://grafana.example/d/x"},
            "startsAt": start, "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "http://prometheus.example:9090/graph",
            "fingerprint": fingerprint}


@pytest.fixture(scope="module")
def serve(tmp_path_factory):
    server = Serve(tmp_path_factory.mktemp("console-serve"))
    try:
        health = httpx.get(server.url + "/functions/alert-api/health", timeout=10)
        if health.status_code != 200:
            pytest.skip(f"serve has no alert-api yet (GET /functions/alert-api/health answered {health.status_code}); "
                        "these tests run once the operator API (contracts §2) is merged")
        page = httpx.get(server.url + "/console/", timeout=10)
        if page.status_code != 200 or "js/main.js" not in page.text:
            pytest.skip(f"serve does not serve the console at /console/ yet ({page.status_code}; contracts §4)")
        server.deliver(alert("HighCPU", "web-1:9100", "c0a1000000000001"),
                       alert("HighCPU", "web-2:9100", "c0a1000000000002", severity="warning"),
                       alert("HighCPU", "web-3:9100", "c0a1000000000003"))
        server.deliver(alert("DiskFull", "db-1:9100", "c0a1000000000011", tenant="acme"),
                       alert("DiskFull", "db-2:9100", "c0a1000000000012", severity="warning", tenant="acme"))
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("the playwright Python package is not installed (tests/run.sh installs it with the test extras)")
    if not Path(CHROMIUM).exists():
        _missing(f"{CHROMIUM} missing (tests/run.sh installs Debian's chromium)")
    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield instance
        instance.close()


class Console:
    """One tab, signed in with a role's token; every console message of type error is kept."""

    def __init__(self, browser, serve, role: str, width: int = 1200, path: str = "#/board"):
        self.serve = serve
        self.context = browser.new_context(viewport={"width": width, "height": 900})
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))
        self.page.goto(f"{serve.url}/console/{path}")
        self.page.fill("#login input[name=token]", TOKENS[role])
        self.page.click("#login button[type=submit]")
        self.page.wait_for_selector("#login", state="hidden", timeout=10000)
        self.page.wait_for_selector("main > :not(p.muted)", timeout=10000)

    def row(self, fingerprint: str):
        return self.page.locator(f'li.alert[data-fp="{fingerprint}"]')

    def state_of(self, fingerprint: str) -> str:
        return self.row(fingerprint).get_attribute("data-state")

    def close(self):
        real = [e for e in self.errors if not _role_probe_noise(self.serve, e)]
        self.context.close()
        assert real == [], f"console errors: {real}"


def _role_probe_noise(serve, message: str) -> bool:
    # Until alert-api has GET /me, the page learns its role from 403/404/400 answers that change
    # nothing (js/main.js whoAmI), and Chromium logs each such answer as "Failed to load resource".
    if "Failed to load resource" not in message or not any(f"status of {c}" in message for c in (400, 403, 404)):
        return False
    return serve.api("GET", "/me").status_code == 404


@pytest.fixture
def console(browser, serve):
    opened = []

    def open_(role: str = "responder", **kwargs) -> Console:
        tab = Console(browser, serve, role, **kwargs)
        opened.append(tab)
        return tab
    yield open_
    for tab in opened:
        tab.close()


def test_board_loads_grouped_with_counts_and_escaped(console):
    tab = console("responder")
    page = tab.page
    page.wait_for_selector('li.alert[data-fp="c0a1000000000001"]')
    group = page.locator('section.group[data-group="HighCPU"]')
    assert group.locator(".count").inner_text() == "3"
    assert page.locator('section.group[data-group="DiskFull"] .count').inner_text() == "2"
    # the summary annotation is shown as text, never as markup
    assert "<img src=x onerror=alert(1)>" in tab.row("c0a1000000000001").locator(".title").inner_text()
    assert page.locator("li.alert img").count() == 0
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "board.png"))


def test_detail_shows_labels_links_and_only_http_links(console):
    tab = console("responder", path="#/alert/c0a1000000000011")
    page = tab.page
    page.wait_for_selector("article.detail")
    labels = page.locator("section:has(h3:text('Labels')) dl").inner_text()
    assert "tenant" in labels and "acme" in labels
    hrefs = page.eval_on_selector_all("article.detail a[href]", "els => els.map(e => e.getAttribute('href'))")
    assert not any(h.lower().startswith("javascript") for h in hrefs)
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "detail.png"), full_page=True)


def test_a_delivery_appears_without_reload(console, serve):
    tab = console("responder")
    tab.page.evaluate("window.__sameDocument = true")
    serve.deliver(alert("LiveProbe", "probe-1:9100", "c0a1000000000021"))
    # the delivery is stored once POST / answered 200; the board must show it by push, not reload
    tab.page.wait_for_selector('li.alert[data-fp="c0a1000000000021"]', timeout=2000)
    assert tab.page.evaluate("window.__sameDocument") is True


def test_a_real_alertmanager_delivery_appears_without_reload(console, serve, tmp_path):
    manager = Alertmanager(tmp_path / "am", serve.url + "/", TOKEN)
    try:
        tab = console("responder")
        tab.page.evaluate("window.__sameDocument = true")
        manager.fire("ConsoleAmProbe", instance="am-1:9100", severity="critical")

        def stored():
            alerts = serve.api("GET", "/alerts", params={"alertname": "ConsoleAmProbe"}).json()["alerts"]
            return alerts[0]["fingerprint"] if alerts else None
        fingerprint = wait_until(stored, 30, "Alertmanager's delivery to be stored")
        tab.page.wait_for_selector(f'li.alert[data-fp="{fingerprint}"]', timeout=2000)
        assert tab.page.evaluate("window.__sameDocument") is True
    finally:
        manager.stop()


def test_ack_updates_the_board_and_the_audit_trail(console, serve):
    tab = console("responder")
    fp = "c0a1000000000002"
    tab.row(fp).locator("button.act-ack").click()
    tab.page.wait_for_function(f"document.querySelector('li.alert[data-fp=\"{fp}\"]')?.dataset.state === 'acknowledged'",
                               timeout=5000)
    assert serve.api("GET", f"/alerts/{fp}").json()["alert"]["state"] == "acknowledged"
    tab.row(fp).locator("a.title").click()
    tab.page.wait_for_selector("#audit table")
    audit = tab.page.locator("#audit").inner_text()
    assert "bob" in audit and "ack" in audit


def test_bulk_ack_of_three(console, serve):
    fps = ["c0a1000000000031", "c0a1000000000032", "c0a1000000000033"]
    serve.deliver(*(alert("BulkProbe", f"bulk-{i}:9100", fp) for i, fp in enumerate(fps)))
    tab = console("responder")
    tab.page.wait_for_selector(f'li.alert[data-fp="{fps[-1]}"]')
    for fp in fps:
        tab.row(fp).locator("input.select-alert").check()
    assert tab.page.locator(".bulk-count").inner_text() == "3 selected"
    tab.page.click('button[data-bulk="ack"]')
    tab.page.fill("#action textarea[name=comment]", "bulk from the browser test")
    tab.page.click("#action-ok")
    for fp in fps:
        tab.page.wait_for_function(f"document.querySelector('li.alert[data-fp=\"{fp}\"]')?.dataset.state === 'acknowledged'",
                                   timeout=5000)
        assert serve.api("GET", f"/alerts/{fp}").json()["alert"]["state"] == "acknowledged"


def test_filters_survive_a_reload(console):
    tab = console("responder")
    page = tab.page
    page.select_option('.filters select[name="severity"]', "warning")
    page.fill('.filters input[name="q"]', "db-2")
    page.wait_for_function("location.hash.includes('severity=warning') && location.hash.includes('q=db-2')")
    page.reload()
    page.wait_for_selector("#board")
    page.wait_for_selector('li.alert[data-fp="c0a1000000000012"]')
    assert page.input_value('.filters select[name="severity"]') == "warning"
    assert page.input_value('.filters input[name="q"]') == "db-2"
    shown = page.eval_on_selector_all("li.alert", "els => els.map(e => e.dataset.fp)")
    assert shown == ["c0a1000000000012"]


def test_a_viewer_sees_no_actions_and_the_api_refuses(console, serve):
    tab = console("viewer")
    tab.page.wait_for_selector('li.alert[data-fp="c0a1000000000003"]')
    assert tab.page.locator("button.act-ack, button.act-resolve, input.select-alert").count() == 0
    assert serve.api("POST", "/alerts/c0a1000000000003/ack", role="viewer", json={}).status_code == 403
    assert serve.api("GET", "/alerts/c0a1000000000003").json()["alert"]["state"] != "acknowledged"


@pytest.mark.parametrize("path,drawn", [("#/board", "li.alert"), ("#/alert/c0a1000000000011", "#audit"),
                                        ("#/stats", "main .cards, main p.error"), ("#/oncall", "main h2, main p.error")])
def test_nothing_overflows_at_375px(console, path, drawn):
    tab = console("admin", width=375, path=path)
    tab.page.wait_for_selector(drawn)
    width = tab.page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"{path} is {width}px wide"
