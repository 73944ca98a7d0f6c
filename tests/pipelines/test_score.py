"""Batch scoring: parallel workers write exactly what one process writes, in input order."""

import mlflow
import pandas as pd
import pytest

from pipelines.score import score_frame
from training import tracking


@pytest.fixture(scope="module")
def model(trained):
    settings, _report = trained
    tracking.use_store(settings)
    return mlflow.pyfunc.load_model(settings.champion_uri).unwrap_python_model()


def test_two_workers_write_the_same_lines_as_one(model, tmp_path):
    texts = ["手机屏幕碎了，快递包装太差", "请问发票什么时候开", "充电器冒烟了！！", "很满意，五星好评", ""] * 9
    frame = pd.DataFrame({"id": [f"t{i}" for i in range(len(texts))], "text": texts,
                          "created_at": "2026-11-23T10:00:00+08:00", "contact_count": [i % 4 for i in range(len(texts))]})
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    seen = []
    assert score_frame(model, frame, one, batch_size=4, workers=1) == len(texts)
    assert score_frame(model, frame, two, batch_size=4, workers=2, advance=seen.append) == len(texts)
    assert one.read_text(encoding="utf-8") == two.read_text(encoding="utf-8")
    assert sum(seen) == len(texts) and len(seen) == 12  # progress advanced once per chunk
    assert [line.split('"id": "')[1].split('"')[0] for line in one.read_text(encoding="utf-8").splitlines()] == list(frame["id"])


def test_missing_text_column_is_a_clear_error(model, tmp_path):
    with pytest.raises(ValueError, match="text"):
        score_frame(model, pd.DataFrame({"body": ["x"]}), tmp_path / "o.jsonl")
