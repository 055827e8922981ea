"""``python -m bench duplicate_quality [--split heldout|tuning|all]``: how well duplicates
are found, on the labelled pairs of bench/data/duplicate_pairs.csv.

Prints precision, recall and F1 for trigram alone (the words), semantic alone (the
embeddings' cosine at its threshold) and their combination at the chosen thresholds
(``feedback.similarity.combined_score``), overall and per kind of pair. The targets are
read on the held-out part: the combination's recall on paraphrases at least 25 points
above trigram's, its precision no lower. tests/feedback/test_duplicate_quality.py holds
the floors.
"""

from __future__ import annotations

import argparse
import csv
import os
from dataclasses import dataclass
from pathlib import Path

PAIRS = Path(__file__).parent / "data" / "duplicate_pairs.csv"
METHODS = ("trigram", "semantic", "combined")


@dataclass(frozen=True)
class Figures:
    precision: float
    recall: float
    f1: float
    paraphrase_recall: float
    found: int
    false: int


def pairs(split: str = "heldout") -> list[dict]:
    """The labelled pairs of ``split`` (``all`` for both parts)."""
    with PAIRS.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return [r for r in rows if split == "all" or r["split"] == split]


def predictions(rows: list[dict]) -> dict[str, list[bool]]:
    """Each method's verdict on each pair: suggested as a duplicate or not."""
    from feedback import embeddings
    from feedback.matching import match_text, trigram_similarity
    from feedback.similarity import ITEM_THRESHOLD, SEMANTIC_ITEM_THRESHOLD, combined_score

    a = embeddings.embed([r["a"] for r in rows])
    b = embeddings.embed([r["b"] for r in rows])
    verdicts: dict[str, list[bool]] = {m: [] for m in METHODS}
    for i, row in enumerate(rows):
        words = trigram_similarity(match_text(row["a"]), match_text(row["b"]))
        embedded = i not in a.skipped and i not in b.skipped
        cosine = float(a.vectors[i] @ b.vectors[i]) if embedded else None
        verdicts["trigram"].append(words >= ITEM_THRESHOLD)
        verdicts["semantic"].append(cosine is not None and cosine >= SEMANTIC_ITEM_THRESHOLD)
        verdicts["combined"].append(combined_score(words=words, meaning=cosine).score >= ITEM_THRESHOLD)
    return verdicts


def figures(rows: list[dict], verdicts: list[bool], kind: str | None = None) -> Figures:
    chosen = [(r, v) for r, v in zip(rows, verdicts, strict=True) if kind is None or r["kind"] == kind]
    tp = sum(1 for r, v in chosen if v and r["label"] == "1")
    fp = sum(1 for r, v in chosen if v and r["label"] == "0")
    fn = sum(1 for r, v in chosen if not v and r["label"] == "1")
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    paraphrases = [v for r, v in zip(rows, verdicts, strict=True) if r["kind"] == "paraphrase"]
    return Figures(
        precision=round(precision, 3),
        recall=round(recall, 3),
        f1=round(f1, 3),
        paraphrase_recall=round(sum(paraphrases) / len(paraphrases), 3) if paraphrases else 0.0,
        found=tp,
        false=fp,
    )


def quality(split: str = "heldout") -> dict[str, Figures]:
    """Each method's figures on ``split``."""
    rows = pairs(split)
    verdicts = predictions(rows)
    return {method: figures(rows, verdicts[method]) for method in METHODS}


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench duplicate_quality")
    parser.add_argument("--split", choices=["heldout", "tuning", "all"], default="heldout")
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "productops.settings")
    os.environ.setdefault("DEBUG", "1")  # no database or secret is used: settings need one
    import django

    django.setup()
    from feedback import embeddings
    from feedback.similarity import ITEM_THRESHOLD, MEANING_WORDS_PENALTY, SEMANTIC_ITEM_THRESHOLD

    rows = pairs(args.split)
    verdicts = predictions(rows)
    kinds = sorted({r["kind"] for r in rows})
    print(f"duplicate quality on the {args.split} pairs ({len(rows)}), model {embeddings.model_id()}")
    print(
        f"thresholds: words {ITEM_THRESHOLD}; meaning: cosine >= {SEMANTIC_ITEM_THRESHOLD} "
        f"+ {MEANING_WORDS_PENALTY} x words"
    )
    print(
        f"{'method':10s} {'precision':>9s} {'recall':>7s} {'F1':>6s} {'paraphrase recall':>18s} "
        f"{'TP':>4s} {'FP':>4s}"
    )
    results = {}
    for method in METHODS:
        f = figures(rows, verdicts[method])
        results[method] = f
        print(
            f"{method:10s} {f.precision:9.3f} {f.recall:7.3f} {f.f1:6.3f} {f.paraphrase_recall:18.3f} "
            f"{f.found:4d} {f.false:4d}"
        )
    print()
    print("suggested share per kind (label 1: recall; label 0: false positives)")
    print(f"{'kind':14s} " + " ".join(f"{m:>9s}" for m in METHODS))
    for kind in kinds:
        members = [i for i, r in enumerate(rows) if r["kind"] == kind]
        shares = [sum(verdicts[m][i] for i in members) / len(members) for m in METHODS]
        print(f"{kind:14s} " + " ".join(f"{s:9.2f}" for s in shares))
    gain = results["combined"].paraphrase_recall - results["trigram"].paraphrase_recall
    print()
    print(
        f"paraphrase recall +{gain * 100:.1f} points over trigram (target >= 25); precision "
        f"{results['combined'].precision:.3f} vs trigram {results['trigram'].precision:.3f} "
        "(target: no lower)"
    )
