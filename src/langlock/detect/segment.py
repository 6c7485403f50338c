"""Word segmentation shared by both detector profiles: jieba for Chinese, MeCab (fugashi + unidic-lite)
for Japanese. Both are loaded lazily, once per process, because they take a second or two to initialise.
"""

from __future__ import annotations

import functools
import logging

#: MeCab options used by the LCB metric and the TLPO detector alike (wakati output, large buffer).
MECAB_ARGS = "-O wakati -b 50000"


@functools.lru_cache(maxsize=1)
def _jieba():
    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba


@functools.lru_cache(maxsize=1)
def _mecab():
    import fugashi

    # `Tagger` finds the installed unidic-lite dictionary (and its mecabrc) by itself.
    return fugashi.Tagger(MECAB_ARGS)


def jieba_cut(text: str) -> list[str]:
    """jieba precise mode with HMM (its default): whitespace and punctuation come out as tokens too."""
    return list(_jieba().cut(text))


def mecab_wakati(text: str) -> list[str]:
    """MeCab wakati segmentation, split on whitespace (as `Tagger(...).parse(text).split()`)."""
    return _mecab().parse(text).split()
