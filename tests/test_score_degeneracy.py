"""The degeneracy guard: repetitive noise is flagged, ordinary answers in any script and short ones are not."""

from __future__ import annotations

from langlock.score.degeneracy import is_repetitive, repetitive_share

PROSE_KO = ("한국어는 한글이라는 고유한 문자를 사용하며, 세종대왕이 1443년에 창제하였다. 자음과 모음을 조합하여 "
            "음절 단위로 적는 것이 특징이다.")
PROSE_EN = ("Photosynthesis turns light, water and carbon dioxide into sugar and oxygen; it happens in the "
            "chloroplasts of plant cells.")


def test_repetition_is_flagged_in_any_script():
    assert is_repetitive("새로운 " * 30)
    assert is_repetitive("Hangul: HANGUL: " * 12)
    assert not is_repetitive(PROSE_KO) and not is_repetitive(PROSE_EN)


def test_short_answers_are_never_judged_and_thresholds_apply():
    assert not is_repetitive("네 네 네 네")           # < 60 bytes
    assert is_repetitive("ab" * 40, min_bytes=60)
    assert not is_repetitive("ab" * 40, min_bytes=100)
    assert not is_repetitive(PROSE_EN, ratio=0.25) and is_repetitive(PROSE_EN, ratio=0.99)


def test_share():
    assert repetitive_share([]) is None
    assert repetitive_share(["새로운 " * 30, PROSE_KO, PROSE_EN, "ok"]) == 0.25
