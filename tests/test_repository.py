"""Generated state never reaches git: the MLflow store, databases and the virtualenv are ignored."""

import shutil
import subprocess

import pytest

from models.settings import REPO_ROOT

GENERATED = ["mlruns/mlflow.db", "mlruns/artifacts/1/model.pkl", "var/feedback.db", "data/annotation/work/real_01.jsonl",
             ".venv/bin/python", "some.db"]


@pytest.mark.skipif(shutil.which("git") is None or not (REPO_ROOT / ".git").exists(), reason="not a git checkout")
@pytest.mark.parametrize("path", GENERATED)
def test_generated_paths_are_git_ignored(path):
    result = subprocess.run(["git", "check-ignore", "-q", path], cwd=REPO_ROOT)
    assert result.returncode == 0, f"{path} is not git-ignored"


@pytest.mark.skipif(shutil.which("git") is None or not (REPO_ROOT / ".git").exists(), reason="not a git checkout")
def test_nothing_generated_is_tracked():
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO_ROOT, capture_output=True, text=True, check=True).stdout.split()
    assert not [p for p in tracked if p.endswith((".db", ".joblib", ".pkl")) or (p.startswith("mlruns/") and p != "mlruns/.gitkeep")]
