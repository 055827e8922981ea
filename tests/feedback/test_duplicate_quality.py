"""Floors on duplicate quality (bench/duplicate_quality.py), read on the held-out pairs of
bench/data/duplicate_pairs.csv with the real model: a change that makes suggestions
worse fails here. The figures when the floors were set (2026-12-03, the distilled static
model): trigram P 0.889, R 0.113, paraphrases 0.000; combined P 0.947, R 0.507,
paraphrases 0.615."""

from bench.duplicate_quality import pairs, quality


def test_the_labelled_set_is_split_two_thirds_one_third_and_fixed():
    assert (len(pairs("tuning")), len(pairs("heldout"))) == (243, 117)


def test_the_combination_finds_paraphrases_trigram_misses_without_losing_precision():
    figures = quality("heldout")
    trigram, combined = figures["trigram"], figures["combined"]

    assert combined.paraphrase_recall - trigram.paraphrase_recall >= 0.25
    assert combined.precision >= trigram.precision
    assert combined.precision >= 0.92
    assert combined.recall >= 0.45
    assert combined.paraphrase_recall >= 0.55
    assert combined.f1 >= 0.60
