import json
import subprocess
import sys

from wx_utils.provenance import find_lockfile, git_state, provenance


def test_provenance_is_json_and_lists_packages():
    record = provenance({"recipe": {"a": 1}})
    json.dumps(record)
    assert record["wx"]["wx-utils"]
    assert record["config"] == {"recipe": {"a": 1}}
    assert record["python"] == ".".join(map(str, sys.version_info[:3]))
    for key in ("platform", "hostname", "created", "command", "uv_lock_sha256", "git"):
        assert key in record
    assert record["created"].endswith("Z")


def test_provenance_without_timestamp_is_reproducible():
    assert provenance(timestamp=False) == provenance(timestamp=False)
    assert "created" not in provenance(timestamp=False)


def test_git_state_reports_commit_and_dirty(tmp_path):
    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    assert git_state(tmp_path) is None
    git("init", "-q")
    (tmp_path / "f.txt").write_text("a")
    git("add", "f.txt")
    git("-c", "user.email=a@b", "-c", "user.name=n", "commit", "-qm", "c")
    state = git_state(tmp_path)
    assert len(state["commit"]) == 40 and state["dirty"] is False
    (tmp_path / "f.txt").write_text("b")
    assert git_state(tmp_path)["dirty"] is True


def test_lockfile_hash_found_from_subfolder(tmp_path):
    (tmp_path / "uv.lock").write_text("lock")
    (tmp_path / "sub").mkdir()
    assert find_lockfile(tmp_path / "sub") == tmp_path / "uv.lock"
    record = provenance(where=tmp_path / "sub", timestamp=False)
    import hashlib

    assert record["uv_lock_sha256"] == hashlib.sha256(b"lock").hexdigest()


def test_provenance_does_not_import_torch():
    code = "import sys, wx_utils.provenance as p; p.provenance(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
