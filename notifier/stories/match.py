"""Topic expressions: parse a subscriber's expression once, match it against story text in linear time.

Words and "quoted phrases", AND, OR, NOT, parentheses; adjacent terms mean AND; ``-word`` means NOT word.
NOT binds tightest, then AND, then OR. Only upper-case operators count: ``and`` is a word.

Text and terms are split into words alike: a word is a run of letters, digits (str.isalnum) and
combining marks; anything else separates words ("Kyiv-based" is kyiv + based, "Navalny's" is navalny + s,
``world-cup`` is the phrase world cup). Single letters joined by dots are one word ("U.S." matches US).
Scripts written without spaces (Han, kana, Hangul, Thai, Lao, Khmer, Myanmar) give one word per character.
Words are folded with NFKC and casefold (STRASSE = straße, ΟΔΟΣ = οδος, ＧＤＰ = gdp, İ = i); accents stay.
A phrase matches consecutive words across punctuation. User input never becomes a regular expression.
"""

from __future__ import annotations

import unicodedata
from collections import namedtuple
from collections.abc import Iterator
from dataclasses import dataclass, field

MAX_LENGTH = 1000
MAX_DEPTH = 50  # each parenthesis and each NOT is a level; keeps recursion far from Python's limit
_UNSPACED_SCRIPTS = tuple("CJK IDEOGRAPHIC HIRAGANA KATAKANA HALFWIDTH HANGUL THAI LAO KHMER MYANMAR".split())


class ExpressionError(ValueError):
    """An invalid topic expression; ``position`` is the 0-based offset the message names."""

    def __init__(self, problem: str, position: int) -> None:
        super().__init__(f"{problem} at position {position}")
        self.position = position


def split_words(text: str) -> list[str]:
    """The folded words of text, in order, by the rules in the module docstring."""
    words: list[str] = []
    for chunk in text.split():
        simple = chunk.isalnum() and max(chunk) < "\u0e00"  # most chunks are one word: skip the scan
        words.extend(map(_fold, [chunk] if simple else _split_chunk(chunk)))
    return words


def _split_chunk(chunk: str) -> list[str]:
    spaced = "".join(_spaced(char, previous) for char, previous in zip(chunk, " " + chunk[:-1], strict=True))
    words: list[str] = []
    for piece in spaced.split():
        parts = [part for part in piece.split(".") if part]
        if len(parts) > 1 and all(len(part) == 1 and part.isalpha() for part in parts):
            words.append("".join(parts))  # a dotted initialism such as U.S.
        else:
            words.extend(parts)
    return words


def _spaced(char: str, previous: str) -> str:
    """char with a space before it where a word starts, or a space where it separates words."""
    if char.isalnum():
        return " " + char if _is_unspaced(char) or _is_unspaced(previous) else char
    # Dots survive until initialisms are joined; a mark continues the word it follows.
    return char if char == "." or unicodedata.category(char)[0] == "M" else " "


def _is_unspaced(char: str) -> bool:
    return char >= "\u0e00" and char.isalnum() and unicodedata.name(char, "").startswith(_UNSPACED_SCRIPTS)


def _fold(word: str) -> str:
    # NFKC before casefold so compatibility forms fold like plain letters, and after it because
    # casefold can leave decomposed sequences; the dot of a folded İ would keep it from matching i.
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", word).casefold())
    return folded.replace("i\u0307", "i")


@dataclass(frozen=True, eq=False)
class TextIndex:
    """The words of one text and where each occurs, so a term costs a lookup, not a scan."""

    words: tuple[str, ...]
    positions: dict[str, list[int]]

    def contains(self, phrase: tuple[str, ...]) -> bool:
        # Try only where the rarest word of the phrase occurs: linear in the text, usually far less.
        offset, rarest = min(enumerate(phrase), key=lambda item: len(self.positions.get(item[1], ())))
        starts = (p - offset for p in self.positions.get(rarest, ()) if p >= offset)
        return any(self.words[start : start + len(phrase)] == phrase for start in starts)


def index_text(text: str) -> TextIndex:
    words = tuple(split_words(text))
    positions: dict[str, list[int]] = {}
    for position, word in enumerate(words):
        positions.setdefault(word, []).append(position)
    return TextIndex(words, positions)


def story_text(title: str, summary: str) -> str:
    return f"{title}\n{summary}"


@dataclass(frozen=True)
class Term:
    """A word, or a phrase of consecutive words; ``written`` is its casefolded source, for explaining."""

    words: tuple[str, ...]
    written: str = field(default="", compare=False)


@dataclass(frozen=True)
class Not:
    child: Expr


@dataclass(frozen=True)
class And:
    children: tuple[Expr, ...]


@dataclass(frozen=True)
class Or:
    children: tuple[Expr, ...]


Expr = Term | Not | And | Or


def matches(expr: Expr, index: TextIndex) -> bool:
    if isinstance(expr, Term):
        return index.contains(expr.words)
    if isinstance(expr, Not):
        return not matches(expr.child, index)
    return (all if isinstance(expr, And) else any)(matches(child, index) for child in expr.children)


def matched_terms(expr: Expr, index: TextIndex) -> list[str]:
    """The positive terms that make expr match, in expression order, once each; [] if it does not."""
    if not matches(expr, index):
        return []
    if isinstance(expr, Term):
        return [expr.written or " ".join(expr.words)]
    if isinstance(expr, Not):  # it holds because something is absent: nothing to show, unless NOT NOT
        return matched_terms(expr.child.child, index) if isinstance(expr.child, Not) else []
    return list(dict.fromkeys(term for child in expr.children for term in matched_terms(child, index)))


_OPERATORS = {"AND": "AND", "OR": "OR", "NOT": "NOT", "-": "NOT", "(": "(", ")": ")"}  # as written: kind
# kind is "term" or an operator's kind; text is a term's casefolded source or an operator as shown.
_Token = namedtuple("_Token", "kind position text words", defaults=[()])


def compile_expression(text: str) -> Expr:
    """Parse a topic expression; raises ExpressionError naming the position of the first problem."""
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"expression longer than {MAX_LENGTH} characters", MAX_LENGTH)
    tokens = list(_tokenize(text))
    if not tokens:
        raise ExpressionError("empty expression", 0)
    parser = _Parser(tokens)
    expr = parser.or_(0)
    if parser.i < len(tokens):  # nothing but a stray ')' stops or_ early
        raise ExpressionError("unexpected ')'", tokens[parser.i].position)
    return expr


def _tokenize(text: str) -> Iterator[_Token]:
    start = 0
    while start < len(text):
        end = _token_end(text, start)
        if not text[start].isspace():
            yield _token(text[start:end], start)
        start = end


def _token_end(text: str, start: int) -> int:
    if text[start] in "()-" or text[start].isspace():
        return start + 1
    if text[start] == '"':
        end = text.find('"', start + 1)
        if end < 0:
            raise ExpressionError("unclosed quote starting", start)
        return end + 1
    end = start
    while end < len(text) and not text[end].isspace() and text[end] not in '()"':
        end += 1
    return end


def _token(written: str, start: int) -> _Token:
    if written in _OPERATORS:
        return _Token(_OPERATORS[written], start, written if written.isalpha() else f"'{written}'")
    source = written[1:-1] if written.startswith('"') else written
    if not source.strip():
        raise ExpressionError("empty quotes", start)
    words = tuple(split_words(source))
    if not words:
        raise ExpressionError(f"term {written} has no letters or digits", start)
    return _Token("term", start, " ".join(source.casefold().split()), words)


@dataclass
class _Parser:
    """Recursive descent. or_: and_ (OR and_)*  and_: unary ([AND] unary)*  unary: NOT unary | term | (or_)"""

    tokens: list[_Token]
    i: int = 0

    def kind(self) -> str | None:
        return self.tokens[self.i].kind if self.i < len(self.tokens) else None

    def accept(self, *kinds: str) -> _Token | None:
        """The next token if it is of one of these kinds, consumed; otherwise None."""
        if self.kind() not in kinds:
            return None
        self.i += 1
        return self.tokens[self.i - 1]

    def or_(self, depth: int) -> Expr:
        children = [self.and_(depth)]
        while self.accept("OR"):
            children.append(self.and_(depth))
        return children[0] if len(children) == 1 else Or(tuple(children))

    def and_(self, depth: int) -> Expr:
        children = [self.unary(depth)]
        while self.accept("AND") or self.kind() in ("term", "(", "NOT"):  # adjacent terms mean AND
            children.append(self.unary(depth))
        return children[0] if len(children) == 1 else And(tuple(children))

    def unary(self, depth: int) -> Expr:
        token = self.accept("term", "NOT", "(")
        if token is None:
            raise self.missing_term()
        if token.kind == "term":
            return Term(token.words, token.text)
        if depth >= MAX_DEPTH:
            raise ExpressionError(f"nested deeper than {MAX_DEPTH} levels", token.position)
        if token.kind == "NOT":
            return Not(self.unary(depth + 1))
        expr = self.or_(depth + 1)
        if not self.accept(")"):
            raise ExpressionError("unclosed '('", token.position)
        return expr

    def missing_term(self) -> ExpressionError:
        previous = self.tokens[self.i - 1] if self.i else None
        if previous is not None and previous.kind in ("AND", "OR", "NOT"):
            return ExpressionError(f"expected a term after {previous.text}", previous.position)
        if self.i == len(self.tokens):  # only a '(' just before the end leads here
            return ExpressionError("unclosed '('", self.tokens[-1].position)
        return ExpressionError(f"unexpected {self.tokens[self.i].text}", self.tokens[self.i].position)
