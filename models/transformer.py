"""Transformer backend: fine-tunes one ``AutoModelForSequenceClassification`` for all three heads.

The classifier has one output per issue type, sentiment class and urgency level (11 + 3 + 4 logits);
issue types use a sigmoid and binary cross-entropy, sentiment and urgency a softmax and cross-entropy
over their slices. One encoder pass therefore scores every head, as the linear backend does.

``base_model`` is any local Hugging Face checkpoint directory (e.g. a copy of ``bert-base-chinese``);
nothing is downloaded. Weakly labelled sentiment texts contribute only to the sentiment loss.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path

import numpy as np

from models.analyzer import AnalyzerBase
from models.stacking import HeadStacker
from models.taxonomy import Taxonomy
from models.text import normalize

HF_DIR = "hf"
META_FILE = "analyzer.json"


class TransformerAnalyzer(AnalyzerBase):
    backend = "transformer"
    artifact_name = "analyzer"  # a directory

    def __init__(
        self,
        taxonomy: Taxonomy,
        base_model: str | Path,
        seed: int = 42,
        max_length: int = 128,
        epochs: int = 2,
        batch_size: int = 16,
        learning_rate: float = 5e-5,
        threads: int | None = None,
        freeze_word_embeddings: bool = True,
    ):
        super().__init__(taxonomy, seed)
        self.base_model = str(base_model)
        self.max_length = max_length
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.threads = threads
        # A multilingual vocabulary (250k rows for XLM-R/e5) is most of the parameters: updating it costs
        # more CPU per step than the whole encoder (4.1 s vs 2.4 s per batch of 16 on two cores), and a
        # few thousand texts touch only a small part of it anyway. The encoder layers still fine-tune.
        self.freeze_word_embeddings = freeze_word_embeddings
        self.model = None
        self.tokenizer = None

    # ---- layout of the output vector ------------------------------------------------------
    @property
    def _slices(self) -> tuple[slice, slice, slice]:
        n_i, n_s, n_u = (len(self.taxonomy.issue_type_ids), len(self.taxonomy.sentiment_ids),
                         len(self.taxonomy.urgency_ids))
        return slice(0, n_i), slice(n_i, n_i + n_s), slice(n_i + n_s, n_i + n_s + n_u)

    @property
    def n_outputs(self) -> int:
        return self._slices[2].stop

    def _load_base(self) -> None:
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        torch.manual_seed(self.seed)
        self.tokenizer = AutoTokenizer.from_pretrained(self.base_model, local_files_only=True)
        self.model = AutoModelForSequenceClassification.from_pretrained(
            self.base_model, num_labels=self.n_outputs, ignore_mismatched_sizes=True, local_files_only=True
        )

    def _tokenize(self, texts: list[str]):
        """Token ids of every text, unpadded: each text is tokenized once, then batches are padded from it."""
        return self.tokenizer([normalize(t) for t in texts], truncation=True, max_length=self.max_length)

    def _pad(self, encoded, idx) -> dict:
        """The tensors of the texts ``idx`` of ``encoded``, padded to the longest of them."""
        return self.tokenizer.pad({k: [v[i] for i in idx] for k, v in encoded.items()}, return_tensors="pt")

    def _batches(self, n: int, lengths: np.ndarray, rng: np.random.Generator) -> list[np.ndarray]:
        """Shuffled batches of similar length: texts are shuffled, sorted by length inside pools of 50
        batches, cut into batches, and the batches shuffled. Padding to the longest text of a batch then
        wastes little (median 34 tokens, 90th percentile 92 on the corpus)."""
        order = rng.permutation(n)
        pool = self.batch_size * 50
        batches = []
        for start in range(0, n, pool):
            chunk = order[start : start + pool]
            chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
            batches += [chunk[i : i + self.batch_size] for i in range(0, len(chunk), self.batch_size)]
        return [batches[i] for i in rng.permutation(len(batches))]

    # ---- training -------------------------------------------------------------------------
    def fit(
        self,
        issue_texts: list[str],
        issue_labels: list[list[str]],
        urgency_labels: list[str],
        sentiment_texts: list[str],
        sentiment_labels: list[str],
        sentiment_weights: np.ndarray | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> TransformerAnalyzer:
        """Gold texts (the first ``len(issue_texts)`` sentiment texts, as the training pipeline passes
        them) train all heads; further sentiment texts train only the sentiment slice."""
        import torch
        import torch.nn.functional as F

        if self.threads:
            torch.set_num_threads(self.threads)
        random.seed(self.seed)
        np.random.seed(self.seed)
        self._load_base()
        self.stacker = None  # it read the previous model's outputs
        n_gold = len(issue_texts)
        if list(sentiment_texts[:n_gold]) != list(issue_texts):
            raise ValueError("sentiment_texts must start with the gold issue_texts")
        texts = list(sentiment_texts)
        Y_issue = np.zeros((len(texts), len(self.taxonomy.issue_type_ids)), dtype=np.float32)
        Y_issue[:n_gold] = self.binarize(issue_labels)
        gold_mask = np.r_[np.ones(n_gold), np.zeros(len(texts) - n_gold)].astype(np.float32)
        y_sent = np.array([self.taxonomy.sentiment_ids.index(s) for s in sentiment_labels])
        y_urg = np.full(len(texts), -100)
        y_urg[:n_gold] = [self.taxonomy.urgency_ids.index(u) for u in urgency_labels]
        w_sent = np.ones(len(texts), dtype=np.float32) if sentiment_weights is None else np.asarray(
            sentiment_weights, dtype=np.float32)
        # balanced positive weights so rare issue types are not drowned by "no issue"
        pos = Y_issue[:n_gold].sum(0)
        pos_weight = torch.tensor(np.clip((n_gold - pos) / np.maximum(pos, 1), 1.0, 50.0), dtype=torch.float32)
        i_sl, s_sl, u_sl = self._slices

        if self.freeze_word_embeddings:
            self.model.get_input_embeddings().weight.requires_grad_(False)
        optim = torch.optim.AdamW([p for p in self.model.parameters() if p.requires_grad], lr=self.learning_rate)
        encoded = self._tokenize(texts)
        lengths = np.array([len(ids) for ids in encoded["input_ids"]])
        rng = np.random.default_rng(self.seed)
        steps_per_epoch = (len(texts) + self.batch_size - 1) // self.batch_size
        total = steps_per_epoch * self.epochs
        scheduler = torch.optim.lr_scheduler.LambdaLR(optim, lambda step: max(0.0, 1 - step / max(total, 1)))
        self.model.train()
        step = 0
        for _epoch in range(self.epochs):
            for idx in self._batches(len(texts), lengths, rng):
                logits = self.model(**self._pad(encoded, idx)).logits
                mask = torch.tensor(gold_mask[idx])
                issue_loss = F.binary_cross_entropy_with_logits(
                    logits[:, i_sl], torch.tensor(Y_issue[idx]), pos_weight=pos_weight, reduction="none"
                ).sum(1)  # summed, not averaged, over labels: each issue type weighs like a softmax head
                issue_loss = (issue_loss * mask).sum() / mask.sum().clamp(min=1)
                sent_loss = F.cross_entropy(logits[:, s_sl], torch.tensor(y_sent[idx]), reduction="none")
                sent_loss = (sent_loss * torch.tensor(w_sent[idx])).mean()
                urg_target = torch.tensor(y_urg[idx])
                urg_loss = (F.cross_entropy(logits[:, u_sl], urg_target, ignore_index=-100)
                            if (urg_target >= 0).any() else logits.sum() * 0)
                loss = issue_loss + sent_loss + urg_loss
                optim.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
                optim.step()
                scheduler.step()
                step += 1
                if progress:
                    progress(step, total)
        self.model.eval()
        return self

    # ---- inference ------------------------------------------------------------------------
    def head_probabilities(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        import torch

        if self.model is None:
            raise RuntimeError("model is not fitted or loaded")
        i_sl, s_sl, u_sl = self._slices
        texts = list(texts)
        if not texts:
            z = np.zeros((0, self.n_outputs))
            return z[:, i_sl], z[:, s_sl], z[:, u_sl]
        encoded = self._tokenize(texts)
        by_length = np.argsort([len(ids) for ids in encoded["input_ids"]], kind="stable")  # less padding
        outs = []
        with torch.inference_mode():
            for start in range(0, len(texts), 64):
                outs.append(self.model(**self._pad(encoded, by_length[start : start + 64])).logits.float())
        logits = torch.empty((len(texts), self.n_outputs))
        logits[torch.from_numpy(by_length)] = torch.cat(outs)
        return (torch.sigmoid(logits[:, i_sl]).numpy().astype(np.float64),
                torch.softmax(logits[:, s_sl], dim=1).numpy().astype(np.float64),
                torch.softmax(logits[:, u_sl], dim=1).numpy().astype(np.float64))

    def params(self) -> dict[str, object]:
        return {**super().params(), "base_model": self.base_model, "max_length": self.max_length,
                "epochs": self.epochs, "batch_size": self.batch_size, "learning_rate": self.learning_rate,
                "freeze_word_embeddings": self.freeze_word_embeddings}

    # ---- persistence ----------------------------------------------------------------------
    def save(self, path: Path) -> Path:
        path = Path(path)
        (path / HF_DIR).mkdir(parents=True, exist_ok=True)
        self.model.save_pretrained(path / HF_DIR)
        self.tokenizer.save_pretrained(path / HF_DIR)
        meta = {
            "taxonomy": self.taxonomy.to_dict(),
            "issue_thresholds": self.issue_thresholds.tolist(),
            "urgency_cuts": None if self.urgency_cuts is None else self.urgency_cuts.tolist(),
            "stacker": None if self.stacker is None else self.stacker.to_dict(),
            "params": self.params(),
        }
        (path / META_FILE).write_text(json.dumps(meta, ensure_ascii=False, indent=1), encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: Path) -> TransformerAnalyzer:
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        path = Path(path)
        meta = json.loads((path / META_FILE).read_text(encoding="utf-8"))
        p = meta["params"]
        obj = cls(Taxonomy.from_dict(meta["taxonomy"]), base_model=p["base_model"], seed=p["seed"],
                  max_length=p["max_length"], epochs=p["epochs"], batch_size=p["batch_size"],
                  learning_rate=p["learning_rate"], freeze_word_embeddings=p.get("freeze_word_embeddings", False))
        obj.tokenizer = AutoTokenizer.from_pretrained(path / HF_DIR, local_files_only=True)
        obj.model = AutoModelForSequenceClassification.from_pretrained(path / HF_DIR, local_files_only=True).eval()
        obj.issue_thresholds = np.array(meta["issue_thresholds"])
        obj.urgency_cuts = None if meta["urgency_cuts"] is None else np.array(meta["urgency_cuts"])
        stacker = meta.get("stacker")
        obj.stacker = None if stacker is None else HeadStacker.from_dict(stacker)
        return obj
