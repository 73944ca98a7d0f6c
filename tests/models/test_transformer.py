"""The transformer backend on a tiny randomly initialised BERT built here (no download)."""

import numpy as np
import pandas as pd
import pytest

from models.analyzer import load_analyzer
from models.pyfunc import FeedbackAnalyzerModel
from models.taxonomy import load_taxonomy
from models.transformer import TransformerAnalyzer
from tests.conftest import TINY_AUTHORED, make_settings, write_tiny_corpus
from training import registry, tracking
from training.dataset import load_corpus
from training.train import fit_analyzer, make_analyzer, run_training


def build_tiny_bert(path, texts):
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    chars = sorted({c for t in texts for c in t})
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *chars, *"0123456789abcdefghijklmnopqrstuvwxyz"]
    path.mkdir(parents=True, exist_ok=True)
    (path / "vocab.txt").write_text("\n".join(dict.fromkeys(vocab)), encoding="utf-8")
    tok = BertTokenizerFast(vocab_file=str(path / "vocab.txt"), do_lower_case=True)
    tok.save_pretrained(path)
    config = BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128, num_labels=2)
    BertForSequenceClassification(config).save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def tiny_setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("transformer")
    write_tiny_corpus(root / "data")
    settings = make_settings(root)
    tax = load_taxonomy(settings.taxonomy_path)
    corpus = load_corpus(settings.data_dir / "corpus", tax)
    base = build_tiny_bert(root / "tiny-bert", [e.text for e in corpus] + [t for t, *_ in TINY_AUTHORED])
    return root, settings, tax, corpus, base


def test_fit_predict_save_load(tiny_setup, tmp_path):
    _root, _settings, tax, corpus, base = tiny_setup
    train = [e for e in corpus if e.split == "train"]
    analyzer = fit_analyzer(train, tax, seed=1, weak_sentiment=False,
                            analyzer=TransformerAnalyzer(tax, base_model=base, seed=1, epochs=2, batch_size=8))
    val = [e for e in corpus if e.split == "val"] or train
    analyzer.tune([e.text for e in val], [list(e.issue_types) for e in val], [e.urgency for e in val])
    # a stacking stage (fit_and_tune fits it on out-of-fold outputs with FEEDBACK_TUNING_FOLDS ≥ 2) is saved too
    train_texts = [e.text for e in train]
    analyzer.stacker = analyzer.new_stacker(*analyzer.head_probabilities(train_texts),
                                            [list(e.issue_types) for e in train], [e.sentiment for e in train],
                                            [e.urgency for e in train], analyzer.stage_cue_flags(train_texts))
    assert analyzer.stacker.uses_cues  # saved as JSON with the cues it reads
    texts = ["手机屏幕碎了", "请问有发票吗", "很好"]
    out = analyzer.predict_outputs(texts)
    assert out.issue_proba.shape == (3, len(tax.issue_type_ids))
    assert np.allclose(out.sentiment_proba.sum(1), 1, atol=1e-5) and np.allclose(out.urgency_proba.sum(1), 1, atol=1e-5)
    saved = analyzer.save(tmp_path / "analyzer")
    again = load_analyzer(saved)
    assert isinstance(again, TransformerAnalyzer)
    back = again.predict_outputs(texts)
    assert np.allclose(back.issue_proba, out.issue_proba, atol=1e-5)
    assert np.array_equal(back.issue_thresholds, out.issue_thresholds)
    assert again.stacker is not None and again.stacker.issue["fitted"].any()
    assert np.allclose(back.urgency_proba, out.urgency_proba, atol=1e-5)
    results = FeedbackAnalyzerModel(again, tax).predict_records(pd.DataFrame({"text": texts}))
    assert [r["id"] for r in results] == ["0", "1", "2"] and all(r["priority"] in {"P1", "P2", "P3", "P4"} for r in results)


def test_training_pipeline_registers_a_transformer_model(tiny_setup):
    _root, settings, _tax, _corpus, base = tiny_setup
    settings = settings.model_copy(update={"backend": "transformer", "base_model": base, "transformer_epochs": 1})
    report = run_training(settings, seed=2, weak_sentiment=False)
    assert report.version == "1" and report.promoted
    tracking.use_store(settings)
    import mlflow

    loaded = mlflow.pyfunc.load_model(settings.champion_uri)
    assert isinstance(loaded.unwrap_python_model().analyzer, TransformerAnalyzer)
    out = loaded.predict(pd.DataFrame({"id": ["a"], "text": ["快递太慢了"]}))
    assert list(out["id"]) == ["a"]
    assert registry.champion(settings).version == "1"


def test_backend_choice_is_configuration(tiny_setup):
    _root, _settings, tax, _corpus, base = tiny_setup
    assert make_analyzer(tax, 1, "tfidf").backend == "tfidf"
    assert make_analyzer(tax, 1, "transformer", base).backend == "transformer"
    with pytest.raises(ValueError, match="base-model"):
        make_analyzer(tax, 1, "transformer", None)
    with pytest.raises(ValueError, match="unknown backend"):
        make_analyzer(tax, 1, "bert")


def test_length_sorted_inference_keeps_input_order(tiny_setup):
    """Scoring sorts texts by length to pad less; every row must still belong to its own text."""
    _root, _settings, tax, corpus, base = tiny_setup
    train = [e for e in corpus if e.split == "train"]
    analyzer = fit_analyzer(train, tax, seed=2, weak_sentiment=False,
                            analyzer=TransformerAnalyzer(tax, base_model=base, seed=2, epochs=1, batch_size=8))
    texts = ["手机屏幕碎了，快递包装也压坏了，客服一直不回复", "很好", "请问有发票吗", "充电器冒烟了！！"]
    together = analyzer.head_probabilities(texts)
    for i, text in enumerate(texts):
        alone = analyzer.head_probabilities([text])
        for head_all, head_one in zip(together, alone, strict=True):
            np.testing.assert_allclose(head_all[i], head_one[0], atol=1e-5)


def test_batches_cover_every_text_once_and_group_similar_lengths(tiny_setup):
    _root, _settings, tax, _corpus, base = tiny_setup
    analyzer = TransformerAnalyzer(tax, base_model=base, batch_size=4)
    lengths = np.random.default_rng(0).integers(3, 120, size=403)
    batches = analyzer._batches(len(lengths), lengths, np.random.default_rng(1))
    assert sorted(np.concatenate(batches).tolist()) == list(range(403))
    assert max(len(b) for b in batches) == 4
    spread = np.median([lengths[b].max() - lengths[b].min() for b in batches])
    random_spread = np.median([np.ptp(lengths[np.random.default_rng(i).choice(403, 4)]) for i in range(100)])
    assert spread < random_spread / 3  # batches are of similar length, so little padding
    again = analyzer._batches(len(lengths), lengths, np.random.default_rng(1))
    assert all(np.array_equal(a, b) for a, b in zip(batches, again, strict=True))  # seeded


def test_word_embeddings_stay_fixed_when_frozen(tiny_setup):
    import torch

    _root, _settings, tax, corpus, base = tiny_setup
    train = [e for e in corpus if e.split == "train"]
    before = TransformerAnalyzer(tax, base_model=base)
    before._load_base()
    start = before.model.get_input_embeddings().weight.detach().clone()
    for freeze in (True, False):
        a = fit_analyzer(train, tax, seed=3, weak_sentiment=False, analyzer=TransformerAnalyzer(
            tax, base_model=base, seed=3, epochs=1, batch_size=8, freeze_word_embeddings=freeze))
        same = torch.equal(a.model.get_input_embeddings().weight.detach(), start)
        assert same is freeze
        assert a.params()["freeze_word_embeddings"] is freeze
