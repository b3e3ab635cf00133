"""The words the knowledge base's full-text index holds for an article, and the words a query
looks for: the same function cuts both, so a query finds what the index holds.

Neither SQLite's FTS5 nor PostgreSQL's text search can cut Chinese into words (there are no
spaces), and most Chinese words are two characters, shorter than the trigrams of FTS5's
``trigram`` tokenizer and of pg_trgm, which then cannot serve them from their index. So the
text is cut here into overlapping n-grams, written as space-separated words in two columns of
the article (``search_head``: title and tags; ``search_body``: the text), and the database
indexes those words (SQLite: an FTS5 table; PostgreSQL: GIN indexes of ``to_tsvector('simple',
...)``). Every search is then an index lookup of whole words:

- a run of Chinese characters gives its character **bigrams** (``会员卡`` -> ``会员 员卡``): a
  word of two or more characters anywhere in the text is found by its bigrams, all present;
  a single character gives itself. The head also holds every character alone (**unigrams**),
  so a one-character search finds titles and tags, and a mistyped character still leaves the
  others to match (the fuzzy search, below);
- a run of Latin letters and digits gives its **trigrams** (``wifi`` -> ``wif ifi``), or itself
  when shorter than three: a substring of three or more finds it, and a typo in a long word
  leaves most trigrams matching;
- the head also holds the **pinyin** of its Chinese (``pypinyin``, the maintained library the
  kernel uses for product initials): the trigrams of the full syllables run together
  (``王府井`` -> ``wangfujing`` -> ``wan ang ngf ...``) and of the initials (``wfj``), so a
  name typed in pinyin, whole or by initials, finds the article.

Text is NFKC-normalised (full-width letters and digits become ASCII) and lower-cased first.
No segmenter (jieba) is needed for this: bigrams find every Chinese substring of two or more
characters, where a segmenter would miss words cut differently in the query and the text.
"""
from __future__ import annotations

import re
import unicodedata

#: Chinese characters (CJK unified ideographs and extension A, compatibility ideographs)
_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_RUN = re.compile(f"[{_CJK}]+|[0-9a-z]+")
_IS_CJK = re.compile(f"[{_CJK}]")
#: at most this many words are indexed per column (a 100,000-character text stays bounded)
MAX_WORDS = 20_000


def _normal(text: str | None) -> str:
    return unicodedata.normalize("NFKC", text or "").lower()


def _grams(run: str, n: int) -> list[str]:
    if len(run) <= n:
        return [run]
    return [run[i:i + n] for i in range(len(run) - n + 1)]


def terms(text: str | None, *, head: bool = False) -> list[str]:
    """The index words of ``text`` in order (see the module docstring), duplicates kept
    only once. ``head``: also unigrams and pinyin (titles and tags)."""
    out: list[str] = []
    seen: set[str] = set()

    def add(words):
        for w in words:
            if w not in seen:
                seen.add(w)
                out.append(w)

    for run in _RUN.findall(_normal(text)):
        if _IS_CJK.match(run):
            add(_grams(run, 2))
            if head:
                add(run)  # unigrams
                add(_grams(_pinyin(run), 3))
                add(_grams(_initials(run), 3))
        else:
            add(_grams(run, 3))
        if len(out) >= MAX_WORDS:
            break
    return out[:MAX_WORDS]


def head_text(title: str | None, tags: str | None) -> str:
    """What ``search_head`` holds for an article's title and comma-separated tags."""
    return " ".join(terms(f"{title or ''} {(tags or '').replace(',', ' ')}", head=True))


def body_text(body: str | None) -> str:
    """What ``search_body`` holds for an article's text."""
    return " ".join(terms(body))


def query_words(text: str | None, max_words: int = 8) -> list[list[str]]:
    """The index words each word of a query (split on white space, at most ``max_words``)
    must find: ``[[bigrams/trigrams of word 1], ...]``; a word with no letter, digit or
    Chinese character (``%``) gives an empty list, which matches nothing."""
    return [terms(w) for w in (text or "").split()[:max_words]]


def fuzzy_words(text: str | None, max_words: int = 8) -> list[str]:
    """The words of a forgiving search in titles and tags: every index word of the query
    plus its Chinese characters one by one (a mistyped character leaves the others)."""
    out: list[str] = []
    for w in (text or "").split()[:max_words]:
        for t in terms(w) + [ch for ch in _normal(w) if _IS_CJK.match(ch)]:
            if t not in out:
                out.append(t)
    return out


def _pinyin(run: str) -> str:
    from pypinyin import lazy_pinyin

    return "".join(lazy_pinyin(run))


def _initials(run: str) -> str:
    from core.pinyin import initials

    return initials(run)
