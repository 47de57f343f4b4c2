"""Provisioning commands through Click's CliRunner, the real SDK and the Appwrite fake."""
import io
import shutil
import subprocess
import tarfile

import pytest
from click.testing import CliRunner

from appwrite_fake import AppwriteFake
from provision.cli import main
from support import TOKEN, seed_schema


@pytest.fixture(params=["1.9.0", "1.9.6"])
def bare_fake(request):
    """Every command against both servers: 1.9.0's Function lacks providerBranches/providerPaths
    (SDK 22 cannot parse it unaided) and ignores variableId; 1.9.6 has both."""
    fake = AppwriteFake(version=request.param)
    with fake.running():
        yield fake


@pytest.fixture
def cli(bare_fake, project, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    env = {"APPWRITE_ENDPOINT": bare_fake.endpoint, "APPWRITE_PROJECT_ID": bare_fake.project,
           "APPWRITE_API_KEY": bare_fake.key, "ALERTWRITE_WEBHOOK_TOKENS": TOKEN,
           "ALERTWRITE_API_TOKENS": "ci:admin:api-token-0123456789"}

    def run(*args, input=None, extra_env=None):
        result = CliRunner().invoke(main, ["--root", str(project.root), *args], env={**env, **(extra_env or {})},
                                    input=input, catch_exceptions=False)
        assert bare_fake.key not in result.output and bare_fake.key not in (result.stderr or "")
        return result
    return run


def table_shape(fake):
    """Tables, columns and indexes as the schema defines them (statuses included)."""
    return {t: (sorted((c["key"], c["type"], c.get("size"), c["required"], c["status"]) for c in v["columns"]),
                sorted((i["key"], i["type"], tuple(i["columns"]), i["status"]) for i in v["indexes"]))
            for (_, t), v in fake.db.tables.items()}


def test_fresh_apply_builds_what_the_schema_declares(cli, bare_fake, schema):
    bare_fake.worker_steps = 60  # a worker slower than apply's requests, so apply has to wait
    result = cli("apply", "--poll", "0")
    assert result.exit_code == 0, result.output
    assert "created column alerts.severity" in result.stdout
    assert "waiting for columns of " in result.stderr  # progress shows while the worker builds them
    reference = AppwriteFake()
    seed_schema(reference, schema)
    assert table_shape(bare_fake) == table_shape(reference)
    assert set(bare_fake.messaging.topics) == {"critical-alerts", "monitoring-alerts"}


def test_second_apply_makes_no_writes(cli, bare_fake):
    assert cli("apply", "--poll", "0").exit_code == 0
    writes = bare_fake.writes()
    result = cli("apply", "--poll", "0")
    assert result.exit_code == 0 and result.stdout.strip() == "Everything up to date"
    assert bare_fake.writes() == writes
    assert cli("plan", "--check").exit_code == 0


@pytest.mark.parametrize("fraction", [0.1, 0.3, 0.5, 0.7, 0.95])
def test_partial_failure_then_resume(cli, bare_fake, schema, fraction):
    cli("apply", "--poll", "0")
    total = len(bare_fake.calls)  # a whole apply, measured on a first project
    cli("destroy", "--yes")
    bare_fake.reset_calls()
    bare_fake.fail_at(max(4, int(total * fraction)), "503")
    failed = cli("apply", "--poll", "0")
    assert failed.exit_code == 3 and "503" in failed.output, failed.output
    assert "Traceback" not in failed.output
    resumed = cli("apply", "--poll", "0")
    assert resumed.exit_code == 0, resumed.output
    reference = AppwriteFake()
    seed_schema(reference, schema)
    assert table_shape(bare_fake) == table_shape(reference)
    assert cli("plan", "--check").exit_code == 0


def test_plan_shows_drift_and_check_exits_1(cli, bare_fake):
    cli("apply", "--poll", "0")
    table = bare_fake.db.tables[("monitoring", "alerts")]
    table["columns"] = [c for c in table["columns"] if c["key"] != "job"]
    next(c for c in table["columns"] if c["key"] == "summary")["size"] = 512
    bare_fake.messaging.topics.pop("critical-alerts")
    result = cli("plan", "--check")
    assert result.exit_code == 1
    assert result.stdout.splitlines()[:3] == [
        "would create column alerts.job",
        "would create topic critical-alerts",
        "would recreate column alerts.summary (size 512 -> 1024) [DELETES DATA]",
    ]
    refused = cli("apply", "--poll", "0")
    assert refused.exit_code == 3 and "--allow-recreate" in refused.output
    declined = cli("apply", "--poll", "0", "--allow-recreate", input="n\n")
    assert declined.exit_code == 3 and "nothing changed" in declined.output
    assert cli("apply", "--poll", "0", "--allow-recreate", "--yes").exit_code == 0
    assert cli("plan", "--check").exit_code == 0


def test_prune_deletes_only_when_asked(cli, bare_fake):
    cli("apply", "--poll", "0")
    bare_fake.messaging.topics["old-topic"] = dict(bare_fake.messaging.topics["critical-alerts"], **{"$id": "old-topic"})
    bare_fake.messaging.subscribers["old-topic"] = {}
    plan = cli("plan", "--check")
    assert plan.exit_code == 0 and "unmanaged topic old-topic" in plan.stdout
    assert cli("apply", "--poll", "0").stdout.strip() == "Everything up to date"
    assert "old-topic" in bare_fake.messaging.topics
    assert cli("apply", "--poll", "0", "--prune", "--yes").exit_code == 0
    assert "old-topic" not in bare_fake.messaging.topics


def test_server_warnings_are_said_once(cli, bare_fake, monkeypatch):
    from alertwrite.stores import transport
    bare_fake.warning = "The current SDK is built for Appwrite 1.9.5"
    monkeypatch.setattr(transport, "_warnings_seen", set())
    result = cli("plan")
    assert result.stderr.count("Appwrite warning: The current SDK is built for Appwrite 1.9.5") == 1


def test_verify_reports_in_a_table(cli, bare_fake):
    result = cli("verify")
    assert result.exit_code == 1 and "missing" in result.stdout
    cli("apply", "--poll", "0")
    result = cli("verify")
    assert result.exit_code == 0 and "monitoring: matches schemas/" in result.stdout
    assert result.stdout.splitlines()[0].split() == ["KIND", "NAME", "STATE", "DETAIL"]


def test_destroy_asks_first_and_is_idempotent(cli, bare_fake):
    cli("apply", "--poll", "0")
    cli("deploy", "--poll", "0")
    kept = cli("destroy", input="\n")
    assert kept.exit_code == 3 and "monitoring" in bare_fake.db.databases
    gone = cli("destroy", "--yes")
    assert gone.exit_code == 0 and "deleted function alert-processor" in gone.stdout
    assert bare_fake.db.databases == {} and bare_fake.messaging.topics == {} and bare_fake.functions.functions == {}
    again = cli("destroy", "--yes")
    assert again.exit_code == 0 and again.stdout.strip() == "Nothing to delete"


def test_column_that_fails_or_sticks_is_a_clear_error(cli, bare_fake):
    bare_fake.db.column_outcome["severity"] = "failed"
    result = cli("apply", "--poll", "0")
    assert result.exit_code == 3 and "column alerts.severity is failed" in result.output
    bare_fake.db.column_outcome["severity"] = "available"
    table = bare_fake.db.tables[("monitoring", "alert_episodes")]
    table["columns"] = [c for c in table["columns"] if c["key"] != "summary"]
    bare_fake.db.column_outcome["summary"] = "stuck"  # never leaves `processing`
    result = cli("apply", "--poll", "0", "--allow-recreate", "--yes", "--timeout", "1")
    assert result.exit_code == 3 and "columns of alert_episodes still not available after 1s (summary)" in result.output


def test_wrong_key_missing_scope_and_missing_settings(cli, bare_fake):
    wrong = cli("plan", extra_env={"APPWRITE_API_KEY": "not-the-key"})
    assert wrong.exit_code == 3 and "refused the API key" in wrong.output and "not-the-key" not in wrong.output
    bare_fake.scopes = {"databases.read"}
    scoped = cli("apply", "--poll", "0")
    assert scoped.exit_code == 3 and "lacks the scope" in scoped.output
    missing = CliRunner().invoke(main, ["plan"], env={"APPWRITE_ENDPOINT": "", "APPWRITE_PROJECT_ID": "",
                                                      "APPWRITE_API_KEY": ""})
    assert missing.exit_code == 3
    for name in ("APPWRITE_ENDPOINT", "APPWRITE_PROJECT_ID", "APPWRITE_API_KEY"):
        assert name in missing.output
    unreachable = cli("plan", extra_env={"APPWRITE_ENDPOINT": "http://127.0.0.1:9/v1"})
    assert unreachable.exit_code == 3 and "cannot reach Appwrite at http://127.0.0.1:9/v1" in unreachable.output


def test_bad_schema_file_names_file_and_key(tmp_path, project):
    root = tmp_path / "proj"
    shutil.copytree(project.root / "schemas", root / "schemas")
    (root / "functions").mkdir()
    text = (root / "schemas" / "monitoring.yaml").read_text().replace("size: 64, required: true}", "size: 900, required: true}", 1)
    (root / "schemas" / "monitoring.yaml").write_text(text)
    result = CliRunner().invoke(main, ["--root", str(root), "plan"], env={"APPWRITE_ENDPOINT": "http://x/v1",
                                                                          "APPWRITE_PROJECT_ID": "p", "APPWRITE_API_KEY": "k"})
    assert result.exit_code == 3
    assert "monitoring.yaml: tables.alerts.indexes.fingerprint_unique.columns: index length 900" in result.output
    channels_yaml = (root / "schemas" / "channels.yaml").read_text()
    (root / "schemas" / "channels.yaml").write_text(channels_yaml.replace("topic: critical-alerts", "topic: pager"))
    (root / "schemas" / "monitoring.yaml").write_text(text.replace("size: 900", "size: 64"))
    result = CliRunner().invoke(main, ["--root", str(root), "plan"])
    assert "channels.yaml: channels.critical-pages.topic: topic 'pager' is not declared" in result.output
    (root / "schemas" / "channels.yaml").write_text("channels: [\n")
    assert "channels.yaml:" in CliRunner().invoke(main, ["--root", str(root), "plan"]).output


def test_options_beat_environment_which_beats_dotenv(tmp_path, bare_fake, project):
    from provision.connection import resolve
    (tmp_path / ".env").write_text("APPWRITE_ENDPOINT=http://from-dotenv/v1\nAPPWRITE_PROJECT_ID=dotenv\nAPPWRITE_API_KEY=k\n")
    import os
    os.environ.pop("APPWRITE_ENDPOINT", None)
    assert resolve({}, tmp_path).endpoint == "http://from-dotenv/v1"
    os.environ["APPWRITE_PROJECT_ID"] = "from-env"
    try:
        assert resolve({}, tmp_path).project == "from-env"
        assert resolve({"project": "from-option"}, tmp_path).project == "from-option"
    finally:
        del os.environ["APPWRITE_PROJECT_ID"]
    assert "k" not in repr(resolve({}, tmp_path)).replace("key=<hidden>", "")


def test_deploy_end_to_end(cli, bare_fake, tmp_path):
    cli("apply", "--poll", "0")
    result = cli("deploy", "--poll", "0")
    assert result.exit_code == 0, result.output
    fn = bare_fake.functions.functions["alert-processor"]
    assert fn["execute"] == ["any"] and fn["scopes"] == ["rows.read", "rows.write", "messages.write"]
    assert fn["runtime"] == "python-3.12" and fn["deploymentId"]
    scheduler = bare_fake.functions.functions["alert-scheduler"]
    assert scheduler["execute"] == [] and scheduler["schedule"] == "* * * * *"
    tokens = next(v for v in bare_fake.functions.variables["alert-processor"].values()
                  if v["key"] == "ALERTWRITE_WEBHOOK_TOKENS")
    assert tokens["secret"] and tokens["value"] == TOKEN
    assert TOKEN not in result.output
    # the uploaded archive holds what the runtime imports
    archive = bare_fake.functions.archives[fn["deploymentId"]]
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        names = set(tar.getnames())
        tar.extractall(tmp_path / "server" / "function")
    assert {"src/main.py", "requirements.txt", "src/alertwrite/schema.json"} <= names
    from provision.runtime import load_entrypoint
    assert callable(load_entrypoint(tmp_path / "server" / "function", "src/main.py", package="deployed_check").main)
    domain = bare_fake.functions.rules[0]["domain"]
    assert f"Webhook URL: https://{domain}/" in result.stdout
    block = result.stdout.split("credentials_file on the Alertmanager host:\n\n", 1)[1]
    config = tmp_path / "am.yml"
    config.write_text(block)
    (tmp_path / "alertwrite.token").write_text(TOKEN)
    if shutil.which("amtool"):
        check = subprocess.run(["amtool", "check-config", str(config)], capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr
    writes = bare_fake.writes()
    again = cli("deploy", "--poll", "0")
    assert again.exit_code == 0 and again.stdout.startswith("Functions up to date")
    assert bare_fake.writes() == writes


def test_deploy_without_rules_scope_still_deploys(cli, bare_fake):
    bare_fake.scopes = {"functions.read", "functions.write"}
    result = cli("deploy", "--poll", "0")
    assert result.exit_code == 0 and "Functions > Domains" in result.output
    assert bare_fake.functions.functions["alert-processor"]["deploymentId"]


def test_deploy_needs_the_token_and_shows_a_failed_build(cli, bare_fake):
    missing = cli("deploy", "--poll", "0", extra_env={"ALERTWRITE_WEBHOOK_TOKENS": ""})
    assert missing.exit_code == 3 and "set ALERTWRITE_WEBHOOK_TOKENS" in missing.output
    bare_fake.functions.build_outcome = "failed"
    failed = cli("deploy", "--poll", "0")
    assert failed.exit_code == 3 and "Build log:" in failed.output and "No matching distribution" in failed.output


def test_token_block_passes_amtool(tmp_path):
    if not shutil.which("amtool"):
        pytest.skip("amtool not installed")
    out = CliRunner().invoke(main, ["token", "--url", "https://fn.example.com/"]).output
    token = out.split("ALERTWRITE_WEBHOOK_TOKENS=")[1].split()[0]
    assert len(token) > 40
    config = tmp_path / "am.yml"
    config.write_text(out.split("\n\n", 1)[1])  # the block as printed is a whole alertmanager.yml
    check = subprocess.run(["amtool", "check-config", str(config)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr


def test_subscribe_and_topics(cli, bare_fake):
    cli("apply", "--poll", "0")
    bare_fake.messaging.add_user("ann", email="ann@example.com", phone="+15550100")
    topics = cli("topics")
    assert topics.exit_code == 1 and "critical-alerts/sms but nobody would receive it" in topics.stdout
    assert cli("subscribe", "critical-alerts", "--user", "ann", "--medium", "sms").exit_code == 0
    again = cli("subscribe", "critical-alerts", "--user", "ann", "--medium", "sms")
    assert "already subscribed" in again.stdout
    cli("subscribe", "monitoring-alerts", "--user", "ann")
    listed = cli("topics")
    assert "critical-alerts/push" in listed.stdout and "critical-alerts/sms" not in listed.stdout
    assert cli("subscribe", "critical-alerts", "--user", "bob").output.strip().endswith("no user 'bob' in this project")


def test_appwrite_json_matches_the_schema(project, schema):
    from provision.appwrite_json import render
    assert (project.root / "appwrite.json").read_text() == render(schema)
    generated = __import__("json").loads(render(schema))
    assert [t["$id"] for t in generated["tables"]] == [t.id for t in schema.tables]
    for table, spec in zip(generated["tables"], schema.tables):
        assert [c["key"] for c in table["columns"]] == [c.key for c in spec.columns]
        assert [(i["key"], i["columns"]) for i in table["indexes"]] == [(i.key, list(i.columns)) for i in spec.indexes]
    assert {t["$id"] for t in generated["topics"]} == {c["topic"] for c in schema.section("channels").values()}
    assert "projectName" not in generated and "settings" not in generated


def test_every_command_has_help_and_is_in_the_readme(project):
    readme = (project.root / "README.md").read_text()
    for name, command in main.commands.items():
        assert command.help, name
        assert f"alertwrite {name}" in readme, f"{name} is not documented in the README"


# -- issue 8 §4 ------------------------------------------------------------------------------
def test_deploy_parses_the_function_model_of_both_servers(cli, bare_fake):
    """1.9.0's Function has no providerBranches/providerPaths; SDK 22 alone raises "Unable to
    parse response" (capture sdk-functions-get), which used to read "cannot reach Appwrite"."""
    result = cli("deploy", "--poll", "0")
    assert result.exit_code == 0, result.output
    assert ("providerBranches" in bare_fake.functions.functions["alert-processor"]) == (bare_fake.version == "1.9.6")
    assert "cannot reach" not in result.output


def test_destroy_then_deploy_waits_for_lingering_variables(cli, bare_fake):
    assert cli("deploy", "--poll", "0").exit_code == 0
    bare_fake.functions.linger_steps = 40
    assert cli("destroy", "--yes").exit_code == 0
    result = cli("deploy", "--poll", "0")
    assert result.exit_code == 0, result.output
    assert "waiting for Appwrite to finish deleting" in result.output
    keys = {v["key"] for v in bare_fake.functions.variables["alert-processor"].values()}
    assert "ALERTWRITE_WEBHOOK_TOKENS" in keys


def test_the_token_digest_is_salted_and_stretched(cli, bare_fake):
    assert cli("deploy", "--poll", "0").exit_code == 0
    import hashlib
    plain = [v for v in bare_fake.functions.variables["alert-processor"].values() if not v["secret"]]
    digests = [v["value"] for v in plain if v["value"].startswith("pbkdf2$")]
    assert len(digests) == 1
    unsalted = hashlib.sha256(f"ALERTWRITE_WEBHOOK_TOKENS={TOKEN}".encode()).hexdigest()
    assert all(unsalted not in v["value"] for v in plain)


def test_plan_treats_deleting_as_absent_and_broken_as_recreate(cli, bare_fake):
    assert cli("apply", "--poll", "0").exit_code == 0
    columns = bare_fake.db.tables[("monitoring", "alerts")]["columns"]
    next(c for c in columns if c["key"] == "job")["status"] = "deleting"
    next(c for c in columns if c["key"] == "receiver")["status"] = "failed"
    result = cli("plan")
    assert "alerts.job" in result.output and "being deleted" in result.output
    assert "alerts.receiver" in result.output and "it is failed" in result.output


def test_a_json_answer_that_is_not_appwrite_is_reported_as_such(cli, bare_fake):
    """e.g. --endpoint pointing at `alertwrite serve`: JSON errors without Appwrite's `message`
    made SDK 22 raise KeyError('message'), exit 1 ("differences found")."""
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    class NotAppwrite(BaseHTTPRequestHandler):
        def do_GET(self):
            body = b'{"error": "not_found"}'
            self.send_response(404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass
    server = HTTPServer(("127.0.0.1", 0), NotAppwrite)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        result = cli("plan", extra_env={"APPWRITE_ENDPOINT": f"http://127.0.0.1:{server.server_address[1]}/v1"})
    finally:
        server.shutdown()
    assert result.exit_code == 3, result.output
    assert "not an Appwrite answer" in result.output and "KeyError" not in result.output


def test_destroy_with_stdin_closed_refuses_without_a_traceback(cli, bare_fake):
    result = CliRunner().invoke(main, ["destroy"], input=None, env={"APPWRITE_ENDPOINT": bare_fake.endpoint,
                                "APPWRITE_PROJECT_ID": bare_fake.project, "APPWRITE_API_KEY": bare_fake.key},
                                catch_exceptions=True)
    assert result.exit_code != 0 and "--yes" in result.output
    assert not isinstance(result.exception, RuntimeError)


def test_a_non_utf8_schema_or_env_file_is_one_line(tmp_path, project):
    root = tmp_path / "p"
    shutil.copytree(project.root / "schemas", root / "schemas")
    (root / "functions").mkdir()
    (root / "schemas" / "messaging.yaml").write_bytes(b"topics:\n  x:\n    name: \xff\xfe\n")
    result = CliRunner().invoke(main, ["--root", str(root), "appwrite-json"], catch_exceptions=True)
    assert result.exit_code == 3 and "messaging.yaml" in result.output and "UTF-8" in result.output
    shutil.copy(project.root / "schemas" / "messaging.yaml", root / "schemas" / "messaging.yaml")
    (root / ".env").write_bytes(b"APPWRITE_ENDPOINT=\xff\n")
    result = CliRunner().invoke(main, ["--root", str(root), "plan"], catch_exceptions=True)
    assert result.exit_code == 3 and ".env" in result.output and "Traceback" not in result.output


def test_missing_channels_or_functions_file_is_an_error(tmp_path, project, bare_fake):
    import yaml
    for name in ("channels.yaml", "functions.yaml"):
        root = tmp_path / name
        shutil.copytree(project.root / "schemas", root / "schemas")
        (root / "functions").mkdir()
        (root / "schemas" / name).unlink()
        result = CliRunner().invoke(main, ["--root", str(root), "appwrite-json"], catch_exceptions=True)
        assert result.exit_code == 3 and name in result.output, result.output
    root = tmp_path / "no-channels"
    shutil.copytree(project.root / "schemas", root / "schemas")
    (root / "functions").mkdir()
    path = root / "schemas" / "channels.yaml"
    doc = yaml.safe_load(path.read_text())
    del doc["channels"]
    path.write_text(yaml.safe_dump(doc))
    result = CliRunner().invoke(main, ["--root", str(root), "appwrite-json"], catch_exceptions=True)
    assert result.exit_code == 3 and "channels: {}" in result.output, result.output
    path.write_text(yaml.safe_dump({**doc, "channels": {}}))
    env = {"APPWRITE_ENDPOINT": bare_fake.endpoint, "APPWRITE_PROJECT_ID": bare_fake.project,
           "APPWRITE_API_KEY": bare_fake.key}
    result = CliRunner().invoke(main, ["--root", str(root), "plan"], env=env, catch_exceptions=True)
    assert "declares no channels" in result.output, result.output


def test_topics_warns_about_the_25_target_cap_on_servers_before_1_9_5(cli, bare_fake):
    cli("apply", "--poll", "0")
    for i in range(26):
        bare_fake.messaging.add_user(f"u{i}", email=f"u{i}@example.com")
        assert cli("subscribe", "monitoring-alerts", "--user", f"u{i}", "--medium", "email").exit_code == 0
    listed = cli("topics")
    warned = "monitoring-alerts has 26 targets" in listed.stdout
    assert warned == (bare_fake.version == "1.9.0"), listed.stdout
    assert "critical-alerts has" not in listed.stdout


def test_format_and_enum_columns_are_created_as_such_and_stay_up_to_date(cli, bare_fake, project, tmp_path):
    root = tmp_path / "p"
    shutil.copytree(project.root / "schemas", root / "schemas")
    shutil.copytree(project.root / "functions", root / "functions", ignore=shutil.ignore_patterns("__pycache__"))
    text = (root / "schemas" / "monitoring.yaml").read_text()
    text = text.replace("      acknowledgedBy: {type: string, size: 255}\n",
                        "      acknowledgedBy: {type: string, size: 255}\n"
                        "      priority: {type: string, size: 8, format: enum, elements: [low, high], default: low}\n"
                        "      owner: {type: string, size: 254, format: email}\n")
    (root / "schemas" / "monitoring.yaml").write_text(text)
    env = {"APPWRITE_ENDPOINT": bare_fake.endpoint, "APPWRITE_PROJECT_ID": bare_fake.project,
           "APPWRITE_API_KEY": bare_fake.key}
    run = lambda *a: CliRunner().invoke(main, ["--root", str(root), *a], env=env, catch_exceptions=False)
    assert run("apply", "--poll", "0").exit_code == 0
    columns = {c["key"]: c for c in bare_fake.db.tables[("monitoring", "alerts")]["columns"]}
    assert (columns["priority"]["format"], columns["priority"]["elements"]) == ("enum", ["low", "high"])
    assert columns["owner"]["format"] == "email"
    assert run("plan").stdout.strip() == "Everything up to date"
