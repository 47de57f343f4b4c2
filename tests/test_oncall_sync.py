"""`plan` shows and `apply` copies the declared policies, schedules and people into their tables."""
from __future__ import annotations

import shutil

import yaml
from click.testing import CliRunner

from appwrite_fake import AppwriteFake
from provision.cli import main


def test_plan_shows_apply_syncs_and_a_runtime_edit_shows_as_drift(project, tmp_path):
    root = tmp_path / "proj"
    shutil.copytree(project.root / "schemas", root / "schemas")
    shutil.copytree(project.root / "functions", root / "functions", ignore=shutil.ignore_patterns("__pycache__"))
    doc = yaml.safe_load((root / "schemas" / "escalation.yaml").read_text())
    doc["schedules"] = {"primary": {"timezone": "UTC", "layers": [{"users": ["a"], "rotation_start": "2026-01-01"}]}}
    doc["policies"] = {"pages": {"steps": [{"notify": ["oncall:primary"]}]}}
    (root / "schemas" / "escalation.yaml").write_text(yaml.safe_dump(doc))
    fake = AppwriteFake()
    with fake.running():
        env = {"APPWRITE_ENDPOINT": fake.endpoint, "APPWRITE_PROJECT_ID": fake.project, "APPWRITE_API_KEY": fake.key}

        def cli(*args):
            return CliRunner().invoke(main, ["--root", str(root), *args], env=env, catch_exceptions=False)
        plan = cli("plan")
        assert "would create policy pages" in plan.stdout and "would create schedule primary" in plan.stdout
        applied = cli("apply", "--poll", "0")
        assert applied.exit_code == 0, applied.output
        assert "created policy pages" in applied.stdout
        assert fake.rows("monitoring", "policies")["pages"]["name"] == "pages"
        again = cli("apply", "--poll", "0")
        assert again.stdout.strip() == "Everything up to date"
        assert cli("plan", "--check").exit_code == 0
        spec = tmp_path / "p.yaml"
        spec.write_text(yaml.safe_dump({"steps": [{"notify": ["user:b"]}]}))
        edit = cli("oncall", "set-policy", "pages", "--file", str(spec), "--backend", "appwrite")
        assert edit.exit_code == 0, edit.output
        drift = cli("plan", "--check")
        assert drift.exit_code == 1 and "would update policy pages" in drift.stdout
        doc["policies"]["pages"]["steps"][0]["after"] = "soon"
        (root / "schemas" / "escalation.yaml").write_text(yaml.safe_dump(doc))
        bad = cli("plan")
        assert bad.exit_code == 3 and "policies.pages.steps[0].after" in bad.output


def test_oncall_check_on_appwrite_flags_users_without_a_target_for_a_policy_medium(fake, schema, project):
    from alertwrite.scheduling import service
    from alertwrite.stores.appwrite import make_client
    from alertwrite.stores.appwrite_rows import AppwriteRows

    fake.messaging.add_user("ann", email="ann@example.com", phone="+15550101")
    fake.messaging.add_user("bob", email="bob@example.com")
    rows = AppwriteRows(make_client(fake.endpoint, fake.project, fake.key, 5), schema)
    service.put_schedule(rows, "primary", {"timezone": "UTC", "layers": [
        {"users": ["ann", "bob"], "rotation_start": "2026-01-01", "turn": "1d"}]})
    service.put_policy(rows, "pages", {"steps": [{"notify": ["oncall:primary"], "media": ["sms", "email"]}]})
    env = {"APPWRITE_ENDPOINT": fake.endpoint, "APPWRITE_PROJECT_ID": fake.project, "APPWRITE_API_KEY": fake.key}
    result = CliRunner().invoke(main, ["--root", str(project.root), "oncall", "check", "--backend", "appwrite", "--json"],
                                env=env)
    import json
    problems = json.loads(result.stdout)["problems"]
    assert result.exit_code == 1
    assert [(p["user"], p["medium"]) for p in problems if p["kind"] == "target"] == [("bob", "sms")]
    assert not [p for p in problems if p["kind"] == "gap"]
