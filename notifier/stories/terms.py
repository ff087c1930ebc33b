"""The terms two reports of one event share, and how much that says.

A story's terms are the words of its title and of the start of its summary, split and folded as
topic matching does (Unicode words, NFKC + casefold, any script); scripts written without spaces
give overlapping character pairs instead of single characters, which say almost nothing alone.
Accents on Latin, Greek, Cyrillic, Hebrew and Arabic letters are dropped (Jerí = Jeri) and every
word is cut to its first five letters, so "impeach", "impeached" and "impeachment", or "Ukraine"
and "Ukrainian", are one term in any language that inflects at the end of a word.

Weights come from how rare a term is among the stories published around the same time (inverse
document frequency over the window's days): a name, a place or a number few stories carry counts
far more than "says" or "the", in any language, with no stop list. Title terms count twice, very
short words a third. Two stories are as alike as the cosine of their weighted terms. The weighing
runs inside Redis, next to the frequencies (cluster_place.lua); this module gives it the terms.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from notifier.stories.match import split_words

SUMMARY_CHARS = 150  # the lede: past it, summaries drift into background that other events share
PREFIX = 5  # letters kept of each word (tuned on the published clusters, see docs/clustering.md)
TITLE_WEIGHT = 2.0
# Words of three letters or fewer are mostly grammar in any alphabet (in, and, на, في, של): they
# count less even before the window has shown how common they are. Digits and characters of
# scripts without spaces are not words in that sense.
SHORT, SHORT_WEIGHT = 3, 0.3
_MARKED_SCRIPTS_END = "\u0800"  # below: Latin, Greek, Cyrillic, Armenian, Hebrew, Arabic, Syriac


@dataclass(frozen=True)
class Terms:
    """A story's distinct terms: those of its title, then those only its summary has."""

    title: tuple[str, ...]
    body: tuple[str, ...]

    def all(self) -> tuple[str, ...]:
        return self.title + self.body


def terms_of(title: str, summary: str) -> Terms:
    heading = _unique(_terms(title))
    seen = set(heading)
    return Terms(heading, _unique(t for t in _terms(summary[:SUMMARY_CHARS]) if t not in seen))


def is_short(term: str) -> bool:
    return len(term) <= SHORT and term.isalpha() and not _unspaced(term[0])


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def _terms(text: str) -> list[str]:
    out: list[str] = []
    run: list[str] = []  # consecutive characters of a script written without spaces
    for word in split_words(text):
        if len(word) == 1 and _unspaced(word):
            run.append(word)
            continue
        out += _pairs(run)
        run = []
        out.append(_stem(word))
    return out + _pairs(run)


def _unspaced(char: str) -> bool:
    return char >= "\u0e00" and unicodedata.name(char, "").startswith(
        ("CJK", "HIRAGANA", "KATAKANA", "HALFWIDTH", "HANGUL", "THAI", "LAO", "KHMER", "MYANMAR")
    )


def _pairs(run: list[str]) -> list[str]:
    return ["".join(pair) for pair in zip(run, run[1:], strict=False)] if len(run) > 1 else run


def _stem(word: str) -> str:
    if word.isascii():
        return word[:PREFIX]
    kept: list[str] = []
    for char in unicodedata.normalize("NFD", word):
        # a mark on a letter of an alphabet with separate vowel letters is an accent; in Indic
        # and other abugidas marks are vowels and must stay
        if unicodedata.category(char) == "Mn" and kept and kept[-1] < _MARKED_SCRIPTS_END:
            continue
        kept.append(char)
    return unicodedata.normalize("NFC", "".join(kept))[:PREFIX]
