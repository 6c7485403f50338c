"""The topic match of cross-lingual answers (`langlock.quality.topic`) and its metric ``on_topic_cross``."""

from __future__ import annotations

import pytest

from langlock.evaluate.result import METRICS, Metrics
from langlock.quality.topic import TopicMatcher, bigrams, in_language_requests, on_topic_share
from langlock.suites import load_suite

# Answers of the Gemma-3-270M-it subject to builtin-confusion requests (excerpts, unedited), read by hand.
ON_TOPIC_JA = ("良い質問ですね。まず、トマトの苗を植えるための材料や方法を説明すると、まず最初にトマトの苗を植えるための"
               "肥料や水を与える必要があります。次に、ポットに苗を植えるときやポットを開けたときに水を注いで")  # request 9
OFF_TOPIC_KO = ("안녕하세요. 오늘은 한국어 문법에 대해 알아보려고 합니다.  먼저, '추운 날씨가 추운 겨울'이라는 문장을 "
                "생각해 보세요.")  # request 0 (rainy-afternoon activities): Korean grammar instead
ON_TOPIC_KO = ("안녕하세요? 저는 새로운 친구와 함께 여행을 떠나는 것을 원합니다. 저는 여행을 준비하면서 친구들과의 소통과 "
               "연결을 위해 다양한 방법을 모색 중입니다. 오늘은 이러한 고민들을 해소하기 위해 도움이 필요한 사람들을 "
               "위해 답변을 드리려고 합니다.\n\n먼저, 친구와 소통의 기초를 다지는 방법에")  # request 5, partly on topic
# On topic in other words: 緑茶 (the request) written グリーンティー. A lexical match misses it (a lower bound).
MISSED_JA = ("良い質問ですね。まず、グリーンティーの作り方を説明すると、最初に茶葉を洗って冷水に注いで濾過し、抽出物を残し、"
             "抽出物として抽出抽出物を製造する工程を説明します。")  # request 1


def test_bigrams_are_taken_inside_words():
    assert bigrams("녹차 한 잔!") == {"녹차"}
    assert bigrams("Tea, TEA") == {"te", "ea"}
    assert bigrams("トマトの苗") == {"トマ", "マト", "トの", "の苗"}
    assert bigrams("") == frozenset()


def test_shared_phrasing_weighs_nothing_and_the_own_request_wins():
    m = TopicMatcher(["녹차를 설명해 주세요.", "자전거를 설명해 주세요.", "토마토를 설명해 주세요."])
    assert m.scores("설명해 주세요") == [0.0, 0.0, 0.0]  # every request says it
    assert m.matches("녹차는 따뜻한 물에 우립니다.", 0)
    assert not m.matches("녹차는 따뜻한 물에 우립니다.", 1)
    assert not m.matches("", 0)  # nothing named: no match, not a tie at zero
    s = m.scores("자전거 타이어와 토마토")
    assert s[1] > 0 and s[2] > 0 and s[0] == 0


def test_a_matcher_needs_requests():
    with pytest.raises(ValueError):
        TopicMatcher([])


def test_the_suites_carry_their_requests_in_korean_and_japanese():
    for lang in ("ko", "ja"):
        cross = load_suite("builtin-confusion", task="crosslingual", langs=lang)
        assert len(cross) == 30 and all(p.meta.get("request_in_language") for p in cross)
        known = in_language_requests(lang)
        assert all(p.key in known for p in cross)
        assert sum(k.startswith("crosslingual/builtin-train/") for k in known) == 100
    tomato = next(p for p in load_suite("builtin-confusion", task="crosslingual", langs="ja") if p.id == "9")
    assert "tomato" in tomato.prompt and "トマト" in tomato.meta["request_in_language"]
    assert not in_language_requests("zh")  # no Chinese versions written: the metric is None there


def test_real_answers_match_as_read():
    known = in_language_requests("ja")
    matcher, own = known["crosslingual/builtin-confusion/ja/9"]
    assert matcher.matches(ON_TOPIC_JA, own)
    known = in_language_requests("ko")
    matcher, own = known["crosslingual/builtin-confusion/ko/0"]
    assert not matcher.matches(OFF_TOPIC_KO, own)
    matcher, own = known["crosslingual/builtin-confusion/ko/5"]
    assert matcher.matches(ON_TOPIC_KO, own)


def test_an_answer_in_other_words_is_missed():
    matcher, own = in_language_requests("ja")["crosslingual/builtin-confusion/ja/1"]
    assert not matcher.matches(MISSED_JA, own)


def test_on_topic_share_counts_target_language_answers_on_topic():
    m = TopicMatcher(["녹차를 설명해 주세요.", "자전거를 설명해 주세요."])
    known = {"k0": (m, 0), "k1": (m, 1), "k2": (m, 0)}
    rows = [
        {"key": "k0", "language": "ko", "task": "crosslingual", "completion": "녹차는 좋아요"},  # on topic
        {"key": "k1", "language": "ko", "task": "crosslingual", "completion": "녹차는 좋아요"},  # off topic
        {"key": "k2", "language": "ko", "task": "crosslingual", "completion": "Green tea (녹차) is nice"},  # English
        {"key": "kx", "language": "ko", "task": "crosslingual", "completion": "녹차"},  # no request known: left out
        {"key": "m0", "language": "ko", "task": "monolingual", "completion": "녹차"},
    ]
    identify = lambda text: "en" if text.startswith("Green") else "ko"  # noqa: E731
    assert on_topic_share("ko", rows, identify=identify, requests=known) == pytest.approx(1 / 3)
    assert on_topic_share("ko", rows[3:], identify=identify, requests=known) is None
    assert on_topic_share("en", rows, identify=identify, requests=known) is None


def test_the_metric_is_a_column_of_every_evaluation():
    assert "on_topic_cross" in METRICS
    assert Metrics.from_dict({"on_topic_cross": 0.25}).on_topic_cross == 0.25
    assert Metrics.from_dict({}).on_topic_cross is None  # evaluations cached before the metric


def test_agreement_with_reading():
    """38 real answers read by hand (tests/fixtures/topic_read.jsonl: the Korean answers of the demo's ko fix at
    seeds 0-2 and 20 primed Japanese answers of the subject), 29 on topic: the match never calls an off-topic answer
    on topic, and finds about half (14) of the on-topic ones (other words for the same thing are missed)."""
    import json
    from pathlib import Path

    rows = [json.loads(line) for line in (Path(__file__).parent / "fixtures" / "topic_read.jsonl").open(encoding="utf-8")]
    known = {lang: in_language_requests(lang) for lang in ("ko", "ja")}
    found = [r for r in rows if r["on_topic"] and _match(known, r)]
    false = [r for r in rows if not r["on_topic"] and _match(known, r)]
    assert len(rows) == 38 and sum(r["on_topic"] for r in rows) == 29
    assert not false  # precision 14 / 14
    assert len(found) == 14  # recall 14 / 29: a lower bound on what a reader calls on topic


def _match(known, row) -> bool:
    matcher, own = known[row["key"].split("/")[2]][row["key"]]
    return matcher.matches(row["completion"], own)
