"""Statistics read through the RowStore (SQLite and the Appwrite fake), the CLI, and the corpus."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner

from support import all_captures, webhook_request
from test_statistics import HISTORY, WEEK

from alertwrite.records import episode_id
from alertwrite.settings import Settings
from alertwrite.stats.query import ALERTS_PER_CALL, load_episodes, stats
from alertwrite.stats.statistics import Options, compute
from alertwrite.stores import open_rows
from alertwrite.timeutil import format_ms, parse_rfc3339
from provision.cli import main
from provision.runtime import invoke

NOW = datetime(2026, 11, 8, tzinfo=timezone.utc)


def alert_row(ep) -> dict:
    return {"$id": ep.fingerprint, "fingerprint": ep.fingerprint, "status": "resolved", "severity": ep.severity,
            "alertname": ep.alertname, "instance": ep.instance, "startsAt": format_ms(ep.started), "occurrences": 1,
            "labels": json.dumps(dict(ep.labels)), "receiver": ep.receiver}


def episode_row(ep) -> dict:
    row = {"$id": episode_id(ep.fingerprint, ep.started), "fingerprint": ep.fingerprint,
           "startsAt": format_ms(ep.started), "status": ep.status, "alertname": ep.alertname,
           "severity": ep.severity, "instance": ep.instance, "silencedSeconds": ep.silenced_seconds}
    if ep.resolved_at:
        row.update(resolvedAt=format_ms(ep.resolved_at), endsAt=format_ms(ep.resolved_at), resolvedBy=ep.resolved_by)
    if ep.first_ack_at:
        row.update(firstAckAt=format_ms(ep.first_ack_at), ackedBy="alice")
    return row


def seed(rows, episodes) -> None:
    rows.create("alerts", list({e.fingerprint: alert_row(e) for e in episodes}.values()))
    rows.create("alert_episodes", [episode_row(e) for e in episodes])


@pytest.fixture(params=["sqlite", "appwrite"])
def settings(request, tmp_path):
    if request.param == "sqlite":
        return Settings(tokens=(), backend="sqlite", sqlite_path=str(tmp_path / "stats.db"))
    fake = request.getfixturevalue("fake")
    return Settings(tokens=(), backend="appwrite", endpoint=fake.endpoint, project_id=fake.project, api_key=fake.key)


def test_the_store_gives_the_same_report_as_the_records(settings, schema):
    with open_rows(settings, schema) as rows:
        seed(rows, HISTORY)
    with open_rows(settings, schema) as rows:
        loaded = load_episodes(rows, WEEK)
        report = stats(rows, NOW, from_="2026-11-01", until="2026-11-08", by="label:team", env={})
    assert len(loaded) == 6 and {e.labels["team"] for e in loaded} == {"db", "web"}
    assert report == compute(HISTORY, WEEK, Options(by="label:team"))
    assert report["overall"]["mttr"]["mean"] == 750.0


@pytest.mark.parametrize("fraction", [0.0, 1.0])  # always scan the table / always use the startsAt index
def test_the_local_store_reads_the_same_window_by_scan_or_by_index(tmp_path, schema, monkeypatch, fraction):
    from alertwrite.stats import query

    settings = Settings(tokens=(), backend="sqlite", sqlite_path=str(tmp_path / "stats.db"))
    with open_rows(settings, schema) as rows:
        seed(rows, HISTORY)
    monkeypatch.setattr(query, "SCAN_FRACTION", fraction)
    with open_rows(settings, schema) as rows:
        loaded = load_episodes(rows, WEEK)
    assert sorted((e.fingerprint, e.started) for e in loaded) == sorted(
        (e.fingerprint, e.started) for e in HISTORY if WEEK.since <= e.started < WEEK.until)
    assert [e.started for e in loaded] == sorted(e.started for e in loaded)


def test_janitor_resolve_from_before_episodes_kept_resolved_by_is_still_left_out(tmp_path, schema):
    settings = Settings(tokens=(), backend="sqlite", sqlite_path=str(tmp_path / "old.db"))
    start = datetime(2026, 11, 3, tzinfo=timezone.utc)
    with open_rows(settings, schema) as rows:
        rows.create("alerts", [{"$id": "f", "fingerprint": "f", "status": "resolved", "startsAt": format_ms(start),
                                "occurrences": 1, "resolvedBy": "janitor", "labels": "{}"}])
        rows.create("alert_episodes", [{"$id": episode_id("f", start), "fingerprint": "f", "status": "resolved",
                                        "startsAt": format_ms(start), "resolvedAt": format_ms(start + timedelta(hours=12))}])
        report = stats(rows, NOW, since="7d", env={})
    assert report["overall"]["janitorResolved"] == 1 and report["overall"]["mttr"]["n"] == 0


def test_settings_from_the_environment(tmp_path, schema):
    settings = Settings(tokens=(), backend="sqlite", sqlite_path=str(tmp_path / "env.db"))
    with open_rows(settings, schema) as rows:
        seed(rows, HISTORY)
        report = stats(rows, NOW, since="7d", by="tenant",
                       env={"ALERTWRITE_STATS_PAGE_SEVERITIES": "warning", "ALERTWRITE_TENANT_LABEL": "team",
                            "ALERTWRITE_STATS_FLAP_REFIRES": "1", "ALERTWRITE_STATS_FLAP_WINDOW": "90m"})
    assert report["overall"]["pages"] == 2  # the two HighLatency episodes
    assert [g["key"] for g in report["groups"]] == ["db", "web"]
    assert {r["fingerprint"] for r in report["flapping"]} == {"a", "b"}


def test_calls_per_episodes_on_appwrite(fake, schema):
    """The rule behind the README's figure (10,000 episodes on 250 alerts: 104 calls): one call per
    100 episodes, a last short page, and one call per 100 alerts. 2,000 episodes keep it quick:
    the fake filters by scanning, so 10,000 took minutes on 2 shared cores."""
    settings = Settings(tokens=(), backend="appwrite", endpoint=fake.endpoint, project_id=fake.project,
                        api_key=fake.key)
    start = datetime(2026, 11, 1, tzinfo=timezone.utc)
    alerts = 250
    episodes = 2000
    history = [HISTORY[0].__class__(f"fp{i % alerts:04d}", start + timedelta(seconds=60 * i), "resolved",
                                    alertname="Load", severity="warning", labels={"alertname": "Load"},
                                    resolved_at=start + timedelta(seconds=60 * i + 30), resolved_by="alertmanager")
               for i in range(episodes)]
    with open_rows(settings, schema) as rows:
        seed(rows, history)
    fake.reset_calls()
    with open_rows(settings, schema) as rows:
        report = stats(rows, NOW, from_="2026-11-01", until="2026-11-08", env={})
    assert report["overall"]["episodes"] == episodes and report["overall"]["mttr"]["mean"] == 30.0
    pages = episodes // 100 + 1  # the last, empty page tells find_all it is done
    assert fake.count("GET") == fake.count() == pages + -(-alerts // ALERTS_PER_CALL)


def run_cli(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_cli_tables_json_and_bad_input(tmp_path, schema, project):
    db = tmp_path / "cli.db"
    with open_rows(Settings(tokens=(), backend="sqlite", sqlite_path=str(db)), schema) as rows:
        seed(rows, HISTORY)
    root = ["--root", str(project.root)]
    window = ["--from", "2026-11-01", "--until", "2026-11-08", "--db", str(db)]
    as_json = run_cli(*root, "stats", *window, "--by", "alertname", "--json")
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.output) == json.loads(json.dumps(compute(HISTORY, WEEK, Options(by="alertname"))))
    shown = run_cli(*root, "stats", *window, "--by", "alertname")
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    assert "Episodes 6 on 3 alerts: 1 open, 5 resolved (1 by the janitor, 0 superseded), 3 acked" in lines
    assert any(line.split()[:5] == ["MTTA", "1m", "30s", "1m", "00s"] for line in lines)
    assert any(line.split()[:3] == ["DiskFull", "4", "2"] for line in lines)
    bad = CliRunner().invoke(main, [*root, "stats", *window, "--since", "7d"])
    assert bad.exit_code == 2 and "--since or --from" in bad.output
    missing = CliRunner().invoke(main, [*root, "stats", "--db", str(tmp_path / "none.db")])
    assert missing.exit_code == 3 and "no local store" in missing.output


def test_corpus_replay_gives_sensible_figures(sqlite_env, processor, schema):
    """Replay every captured delivery, then compare with the episode rows the processor wrote."""
    for cap in all_captures():
        invoke(processor, webhook_request(cap["body_raw"].encode("utf-8")))
    settings = Settings(tokens=(), backend="sqlite", sqlite_path=str(sqlite_env))
    with open_rows(settings, schema) as rows:
        written = list(rows.find_all("alert_episodes"))
        starts = sorted(parse_rfc3339(r["startsAt"]) for r in written)
        report = stats(rows, NOW, from_=format_ms(starts[0]), until=format_ms(starts[-1] + timedelta(seconds=1)),
                       by="alertname", env={})
    o = report["overall"]
    assert o["episodes"] == len(written) > 5
    durations = [r["durationSeconds"] for r in written if r["status"] == "resolved" and r.get("durationSeconds") is not None]
    assert o["mttr"]["n"] == len(durations) > 0
    # durationSeconds comes from the resolve's startsAt, which amtool's resolves round to the
    # second (capture 0004), so the two agree to within a second.
    assert o["mttr"]["mean"] == pytest.approx(sum(durations) / len(durations), abs=1.0)
    assert report["noisy"][0]["episodes"] == max(r["episodes"] for r in report["noisy"])
    assert sum(g["episodes"] for g in report["groups"]) == len(written)
