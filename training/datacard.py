"""Keeps the generated tables of the data card (`data/README.md`) in step with the corpus.

The card's prose is written by people; the blocks between ``<!-- NAME:begin -->`` and
``<!-- NAME:end -->`` are produced by code, so figures in the card are never typed by hand.
"""

from __future__ import annotations

import re
from pathlib import Path

from models.taxonomy import Taxonomy
from training.agreement import ROUND_GROUPS, agreement, format_markdown
from training.dataset import corpus_stats, load_corpus, stats_markdown
from training.weak_sentiment import weak_label_quality, weak_quality_markdown


def generated_blocks(data_dir: Path, taxonomy: Taxonomy) -> dict[str, str]:
    corpus_dir = Path(data_dir) / "corpus"
    corpus = load_corpus(corpus_dir, taxonomy)
    return {
        "counts": stats_markdown(*corpus_stats(corpus, taxonomy)),
        **{block: format_markdown(agreement(corpus_dir, taxonomy, rounds=rounds))
           for block, (_title, rounds) in ROUND_GROUPS.items()},
        "weak": weak_quality_markdown(weak_label_quality(corpus)),
    }


def update_card(card: Path, blocks: dict[str, str]) -> str:
    text = card.read_text(encoding="utf-8")
    for name, body in blocks.items():
        pattern = re.compile(rf"(<!-- {name}:begin -->\n).*?(<!-- {name}:end -->)", re.S)
        if not pattern.search(text):
            raise ValueError(f"{card} has no <!-- {name}:begin --> … <!-- {name}:end --> block")
        text = pattern.sub(lambda m, body=body: m.group(1) + body + "\n" + m.group(2), text)
    card.write_text(text, encoding="utf-8")
    return text
