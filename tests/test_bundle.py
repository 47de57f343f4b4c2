"""The bundle Appwrite runs: imported from its own folder, with nothing from this repository."""
import subprocess
import sys
import textwrap

from provision.bundle import build_bundle, pack

IMPORT_LIKE_THE_RUNTIME = textwrap.dedent("""
    import importlib, json, sys
    # the runtime has neither this repository's packages nor its path
    for name in ("alertwrite", "provision"):
        sys.modules[name] = None
    sys.path = [p for p in sys.path if p not in ("", ".") and (not p.startswith(REPO) or "site-packages" in p)]
    sys.path.insert(0, SERVER_SRC)
    module = importlib.import_module("function.src.main")  # as open-runtimes server.py does
    print(json.dumps({"main": callable(module.main), "file": module.__file__}))
""")


def test_bundle_imports_from_the_deployed_layout_alone(project, schema, tmp_path):
    for fn in schema.functions:
        server_src = tmp_path / fn.id / "server-src"
        bundle = build_bundle(project, fn.id, server_src, schema)
        bundle.rename(server_src / "function")
        code = f"REPO={str(project.root)!r}\nSERVER_SRC={str(server_src)!r}\n" + IMPORT_LIKE_THE_RUNTIME
        out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        assert '"main": true' in out.stdout and str(server_src / "function") in out.stdout


def test_bundle_contents(project, schema, tmp_path):
    import io
    import tarfile
    bundle = build_bundle(project, "alert-processor", tmp_path, schema)
    with tarfile.open(fileobj=io.BytesIO(pack(bundle)), mode="r:gz") as tar:
        names = set(tar.getnames())
    assert {"src/main.py", "requirements.txt", "src/alertwrite/schema.json", "src/alertwrite/processor.py",
            "src/alertwrite/stores/appwrite.py"} <= names
    assert not any("__pycache__" in n or n.endswith(".db") for n in names)
    requirements = (bundle / "requirements.txt").read_text()
    assert "appwrite>=22.2,<23" in requirements
