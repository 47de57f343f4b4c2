"""`alertwrite channels` and `alertwrite notifications` on --db and on --backend appwrite."""
import json

from click.testing import CliRunner

from chat_fakes import ChatFakes
from provision.cli import main


def cli(project, *args, env=None):
    return CliRunner().invoke(main, ["--root", str(project.root), *args],
                              env={"ALERTWRITE_CHANNELS_ALLOW_PRIVATE": "1", **(env or {})})


def test_add_list_show_update_test_disable_remove_on_the_local_store(project, tmp_path):
    db = str(tmp_path / "c.db")
    with ChatFakes() as fakes:
        url = fakes.url("slack", "ops")
        added = cli(project, "channels", "add", "ops", "--type", "slack", "--url", url, "--severity", "critical",
                    "--match", "!team=db", "--db", db)
        assert added.exit_code == 0, added.output
        assert "/slack/ops" not in added.output
        listed = cli(project, "channels", "list", "--json", "--db", db)
        by_name = {c["name"]: c for c in json.loads(listed.output)["channels"]}
        assert set(by_name) == {"ops", "critical-pages", "everything"}  # declared ones seeded beside it
        assert by_name["ops"]["url"] == "http://127.0.0.1:" + url.split(":")[2].split("/")[0] + "/…"
        assert by_name["ops"]["filter"] == {"severities": ["critical"], "match": {"!team": ["db"]}}
        tested = cli(project, "channels", "test", "ops", "--db", db)
        assert tested.exit_code == 0 and tested.stdout.strip() == "sent: answer 200", tested.output
        assert "[TEST]" in fakes.got("slack", "ops")[0].body.decode()
        fakes.script("slack", "ops", ["400"])
        failed = cli(project, "channels", "test", "ops", "--db", db)
        assert failed.exit_code == 3 and "dead: answer 400: 400: invalid_payload" in failed.output
        dead = cli(project, "notifications", "list", "--status", "dead", "--db", db)
        assert "ops" in dead.output and "last: 400 400: invalid_payload" in dead.output
        health = {c["name"]: c for c in json.loads(cli(project, "channels", "list", "--json", "--db", db).output)
                  ["channels"]}["ops"]
        assert (health["successes"], health["failures"], health["dead"]) == (1, 1, 1)
        fakes.script("slack", "ops", ["200"])
        assert "queued 1 notification again" in cli(project, "notifications", "retry", "--dead", "--db", db).output
        assert cli(project, "channels", "update", "ops", "--no-resolved", "--alertname", "HighCPU", "--db", db).exit_code == 0
        shown = json.loads(cli(project, "channels", "show", "ops", "--json", "--db", db).output)
        assert shown["filter"] == {"severities": ["critical"], "alertnames": ["HighCPU"], "match": {"!team": ["db"]},
                                   "send_resolved": False}
        assert "disabled channel ops" in cli(project, "channels", "disable", "ops", "--db", db).output
        assert cli(project, "channels", "test", "ops", "--db", db).exit_code == 3
        refused = cli(project, "channels", "remove", "ops", "--db", db)
        assert refused.exit_code == 3 and "nothing changed" in refused.output
        assert cli(project, "channels", "remove", "ops", "--yes", "--db", db).exit_code == 0
        assert "no channel 'ops'" in cli(project, "channels", "show", "ops", "--db", db).output


def test_webhook_secret_is_generated_shown_once_and_rotated(project, tmp_path):
    db = str(tmp_path / "w.db")
    added = cli(project, "channels", "add", "hook", "--type", "webhook", "--url", "https://r.example/h", "--db", db)
    secret = added.output.split("shown once; give it to the receiver): ")[1].strip()
    assert secret.startswith("whsec_")
    listed = cli(project, "channels", "list", "--json", "--db", db).output
    assert secret not in listed and secret[6:20] not in listed
    rotated = cli(project, "channels", "update", "hook", "--rotate-secret", "--db", db)
    new = rotated.output.split("--drop-old-secret): ")[1].strip()
    from alertwrite.channels import admin
    from alertwrite.settings import Settings
    from alertwrite.stores import open_rows
    with open_rows(Settings((), "sqlite", sqlite_path=db), project.load_schema()) as rows:
        assert admin.get(rows, "hook").secrets == (new, secret)
    cli(project, "channels", "update", "hook", "--drop-old-secret", "--db", db)
    with open_rows(Settings((), "sqlite", sqlite_path=db), project.load_schema()) as rows:
        assert admin.get(rows, "hook").secrets == (new,)


def test_bad_input_is_a_clear_error(project, tmp_path):
    db = str(tmp_path / "b.db")
    bad = cli(project, "channels", "add", "t", "--type", "teams", "--url", "https://x.webhook.office.com/webhookb2/1",
              "--db", db)
    assert bad.exit_code == 2 and "Office 365 connector URLs are retired" in bad.output
    bad = cli(project, "channels", "add", "s", "--type", "slack", "--url", "https://a.example", "--match-re", "a=(",
              "--db", db)
    assert bad.exit_code == 2 and "bad regular expression" in bad.output
    bad = cli(project, "channels", "add", "s", "--type", "slack", "--url", "https://a.example", "--title-template",
              "{{ broken", "--db", db)
    assert bad.exit_code == 3 and "s.templates.title" in bad.output


def test_commands_work_on_appwrite(project, fake):
    env = {"APPWRITE_ENDPOINT": fake.endpoint, "APPWRITE_PROJECT_ID": fake.project, "APPWRITE_API_KEY": fake.key}
    added = cli(project, "channels", "add", "ops", "--type", "discord", "--url", "https://discord.com/api/webhooks/1/t",
                "--backend", "appwrite", env=env)
    assert added.exit_code == 0, added.output
    row = fake.rows("monitoring", "channels")["ops"]
    assert row["url"] == "https://discord.com/api/webhooks/1/t" and row["type"] == "discord"
    listed = json.loads(cli(project, "channels", "list", "--json", "--backend", "appwrite", env=env).output)
    assert {c["name"] for c in listed["channels"]} == {"ops", "critical-pages", "everything"}
    assert "no notifications" in cli(project, "notifications", "list", "--backend", "appwrite", env=env).output


def test_plan_and_apply_sync_declared_channels_and_leave_runtime_ones_alone(project, tmp_path):
    import shutil

    from appwrite_fake import AppwriteFake
    root = tmp_path / "proj"
    shutil.copytree(project.root / "schemas", root / "schemas")
    (root / "functions").mkdir()
    fake = AppwriteFake()
    with fake.running():
        env = {"APPWRITE_ENDPOINT": fake.endpoint, "APPWRITE_PROJECT_ID": fake.project, "APPWRITE_API_KEY": fake.key}
        run = lambda *a: CliRunner().invoke(main, ["--root", str(root), *a], env=env)
        assert "would create channel critical-pages" in run("plan").output
        assert run("apply", "--poll", "0").exit_code == 0
        assert set(fake.rows("monitoring", "channels")) == {"critical-pages", "everything"}
        assert run("channels", "add", "ops", "--type", "slack", "--url", "https://hooks.slack.com/services/x",
                   "--backend", "appwrite").exit_code == 0
        assert run("channels", "disable", "everything", "--backend", "appwrite").exit_code == 0
        planned = run("plan", "--check")
        assert planned.exit_code == 0 and "unmanaged channel ops (created at runtime)" in planned.output
        text = (root / "schemas" / "channels.yaml").read_text().replace("media: [email]", "media: [email, push]")
        (root / "schemas" / "channels.yaml").write_text(text)
        assert "would update channel everything (media)" in run("plan").output
        assert run("apply", "--poll", "0").exit_code == 0
        rows = fake.rows("monitoring", "channels")
        assert rows["everything"]["media"] == "email,push" and rows["everything"]["enabled"] is False  # kept
        assert "ops" in rows
        pruned = run("apply", "--poll", "0", "--prune", "--yes")
        assert pruned.exit_code == 0 and "deleted channel ops" in pruned.output
        assert "ops" not in fake.rows("monitoring", "channels")
