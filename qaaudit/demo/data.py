"""Deterministic generator of the demo model's QA data: invented encyclopedia paragraphs, Korean and English.

Each paragraph describes several invented entities (two or three people, a band and/or a company), so a
question can only be answered by matching its entity. Entity names are partitioned once (fixed seed)
between the splits, so dev/test names never occur in training; some question templates are held out
of training too (``Example.heldout_template``). About 12% of questions are unanswerable (an absent
entity or an absent fact about a present one): their gold answer is empty (SQuAD 2.0 style).

Korean particles are chosen from the last syllable's final consonant (batchim): see :func:`particle`.
Pure Python, no torch: tests and the audits may import it freely.
"""
from __future__ import annotations

import random
import re
import string
from dataclasses import dataclass, replace
from typing import Callable, Iterable

__all__ = [
    "Example",
    "SPLITS",
    "LANGS",
    "generate",
    "has_batchim",
    "particle",
    "with_particle",
    "entity_names",
    "add_distractor",
    "add_typos",
    "reword_unseen",
    "mention_spans",
    "name_pieces",
    "alphabet",
    "segmented_corpus",
]

SPLITS = ("train", "dev", "test")
LANGS = ("ko", "en")
UNANSWERABLE_RATE = 0.12
_PARTITION_SEED = 20240531  # fixes which names belong to which split; independent of generate()'s seed


@dataclass(frozen=True)
class Example:
    """One question over one paragraph. ``answers`` holds (text, char start) pairs; empty when unanswerable."""

    id: str
    lang: str
    question: str
    context: str
    answers: tuple[tuple[str, int], ...]
    unanswerable: bool
    fact: str = ""              # which fact is asked, e.g. "birth_place"
    template: str = ""          # question template id, e.g. "ko.birth_place.2"
    heldout_template: bool = False  # the template never appears in the train split
    entity: str = ""            # the name (or city, for "who was born in") the question is about


# --------------------------------------------------------------------------- Korean particles
_HANGUL_BASE, _HANGUL_LAST = 0xAC00, 0xD7A3


def has_batchim(word: str) -> bool:
    """True when the word's last character is a Hangul syllable with a final consonant."""
    c = word[-1]
    if _HANGUL_BASE <= ord(c) <= _HANGUL_LAST:
        return (ord(c) - _HANGUL_BASE) % 28 != 0
    # digits read in Korean: 0 영, 1 일, 3 삼, 6 육, 7 칠, 8 팔 end in a consonant
    return c in "013678"


def _rieul_final(word: str) -> bool:
    c = word[-1]
    return _HANGUL_BASE <= ord(c) <= _HANGUL_LAST and (ord(c) - _HANGUL_BASE) % 28 == 8


_PARTICLES = {  # key -> (after a final consonant, after a vowel)
    "은": ("은", "는"), "는": ("은", "는"),
    "이": ("이", "가"), "가": ("이", "가"),
    "을": ("을", "를"), "를": ("을", "를"),
    "과": ("과", "와"), "와": ("과", "와"),
    "이다": ("이다", "다"),
}


def particle(word: str, kind: str) -> str:
    """The particle of family ``kind`` (은, 이, 을, 과, 으로, 이다) that follows ``word``."""
    if kind in ("으로", "로"):
        # ㄹ-final words take 로 like vowel-final ones (서울로, 부산으로)
        return "으로" if has_batchim(word) and not _rieul_final(word) else "로"
    pair = _PARTICLES[kind]
    return pair[0] if has_batchim(word) else pair[1]


def with_particle(word: str, kind: str) -> str:
    return word + particle(word, kind)


# --------------------------------------------------------------------------- vocabularies
_KO_SURNAMES = "김 이 박 최 정 강 조 윤 장 임 한 오 서 신 권 황 안 송 류 홍 전 고 문 양 손 배 백 허 남 심".split()
_KO_GIVEN = ("서 윤 도 현 민 준 지 우 하 은 수 아 예 진 유 나 연 재 영 소 율 시 태 건 호 채 다 린 주 원 "
             "성 혜 경 동 석 희 빈 솔 람 결 별 찬 훈 철 미 선 규 혁 슬 온 겸 란 담 봄 새 완 용 인 종 한 락").split()
_EN_FIRST = ("Mara Tobin Elise Corwin Anya Bram Lucan Ines Oskar Talia Rowan Selma Dario Freya Caspian Linnea Milo "
             "Nadia Ezra Ilse Joran Keira Leif Maren Nico Odile Perrin Quinn Rhea Soren Tamsin Ulric Vera Wren Yara "
             "Zane Alba Benedek Cosima Dorian Esme Felix Greta Hugo Ida Jasper Katya Lorcan").split()
_EN_SUR_A = "Vel Kor Ash Bren Cal Dun Fen Gar Hol Isen Jor Kest Lan Mor Nor Ost Pel Quar Rav Sel Tor Ulm Var Wyn Ald Brom".split()
_EN_SUR_B = "dren mont bury wick ford holt lowe mere ton vane stead croft dale hart ling more rick sby".split()
_KO_GROUP_A = ("하늘 별빛 바람 푸른 새벽 은하 노을 초록 달빛 구름 파도 여름 겨울 봄날 무지개 소나기 "
               "안개 등대 반딧불 솔잎 모래 유리 종이 강물 보라 한밤").split()
_KO_GROUP_B = "소리 밴드 악단 나무 시계 열차 정원 극장 상자 항해 편지 우산 날개 거울 노래".split()
_EN_GROUP_A = ("Silver Crimson Hollow Velvet Paper Electric Quiet Golden Northern Broken Midnight Wild Glass "
               "Amber Iron Lunar Scarlet Distant Frozen Neon Cobalt Drifting Static Marble").split()
_EN_GROUP_B = ("Lanterns Foxes Rivers Engines Sparrows Tides Harbors Comets Wolves Orchards Signals Kites Mirrors "
               "Echoes Pilots Gardens Ravens").split()
_KO_ORG_A = ("한빛 누리 다온 가람 미르 해솔 라온 아라 나래 도담 여울 이룸 한결 새봄 온새 늘품 "
             "마루 보람 슬기 으뜸 초롱 하람").split()
_KO_ORG_B = "전자 제약 출판사 엔터테인먼트 항공 은행 연구소 건설 식품 통신".split()
_EN_ORG_A = ("Norvale Kestrel Brightwater Halcyon Ostrander Pemberly Quillon Redfern Stonemark Tallis Umberlin "
             "Westmere Yarrow Zephyrine Ambrel Coldharbor Dunmore Everhart Fairholt Glenrock Ironvale Larkspur").split()
_EN_ORG_B = "Systems Pharmaceuticals Publishing Records Airlines Bank Laboratories Construction Foods Telecom".split()

# (korean country, english country, english demonym, korean cities, english cities) -- kept in parallel
_COUNTRIES = [
    ("대한민국", "South Korea", "South Korean",
     "서울 부산 대구 인천 광주 대전 울산 수원 전주 청주 춘천 제주 포항 목포 강릉 여수 안동 경주 창원 원주".split(),
     "Seoul Busan Daegu Incheon Gwangju Daejeon Ulsan Suwon Jeonju Cheongju Chuncheon Jeju Pohang Mokpo "
     "Gangneung Yeosu Andong Gyeongju Changwon Wonju".split()),
    ("일본", "Japan", "Japanese", "도쿄 오사카 교토 삿포로 후쿠오카".split(),
     "Tokyo Osaka Kyoto Sapporo Fukuoka".split()),
    ("미국", "the United States", "American", "뉴욕 시카고 보스턴 시애틀 덴버".split(),
     "New York,Chicago,Boston,Seattle,Denver".split(",")),
    ("캐나다", "Canada", "Canadian", "토론토 밴쿠버 몬트리올".split(), "Toronto Vancouver Montreal".split()),
    ("프랑스", "France", "French", "파리 리옹 마르세유".split(), "Paris Lyon Marseille".split()),
    ("독일", "Germany", "German", "베를린 뮌헨 함부르크".split(), "Berlin Munich Hamburg".split()),
    ("영국", "the United Kingdom", "British", "런던 맨체스터 에든버러".split(), "London Manchester Edinburgh".split()),
    ("호주", "Australia", "Australian", "시드니 멜버른 브리즈번".split(), "Sydney Melbourne Brisbane".split()),
]
_PROFESSIONS = [  # (korean, english)
    ("가수", "singer"), ("배우", "actor"), ("소설가", "novelist"), ("화가", "painter"),
    ("피아니스트", "pianist"), ("영화감독", "film director"), ("건축가", "architect"), ("요리사", "chef"),
    ("물리학자", "physicist"), ("기자", "journalist"), ("축구 선수", "footballer"), ("작곡가", "composer"),
    ("사진작가", "photographer"), ("무용가", "dancer"), ("시인", "poet"), ("바이올리니스트", "violinist"),
]
_ALL_CITIES = {c for row in _COUNTRIES for c in (*row[3], *row[4])}
_EN_MONTHS = "January February March April May June July August September October November December".split()
_EN_NUMBERS = "zero one two three four five six seven eight nine ten eleven twelve".split()


def _partition(items: list[str], tag: str) -> dict[str, list[str]]:
    """Split a name pool 80/10/10 into train/dev/test, the same way every time."""
    items = sorted(set(items))
    random.Random(f"{_PARTITION_SEED}:{tag}").shuffle(items)
    n_dev = max(2, len(items) // 10)
    return {"test": items[:n_dev], "dev": items[n_dev:2 * n_dev], "train": items[2 * n_dev:]}


_POOLS: dict[str, dict[str, list[str]]] = {
    "ko_given": _partition([a + b for a in _KO_GIVEN for b in _KO_GIVEN if a != b], "ko_given"),
    "en_sur": _partition([a + b for a in _EN_SUR_A for b in _EN_SUR_B], "en_sur"),
    "ko_group": _partition([a + b for a in _KO_GROUP_A for b in _KO_GROUP_B], "ko_group"),
    "en_group": _partition([f"The {a} {b}" for a in _EN_GROUP_A for b in _EN_GROUP_B], "en_group"),
    "ko_org": _partition([f"{a}{b}" for a in _KO_ORG_A for b in _KO_ORG_B], "ko_org"),
    "en_org": _partition([f"{a} {b}" for a in _EN_ORG_A for b in _EN_ORG_B], "en_org"),
}


def name_pieces() -> dict[str, tuple[str, str]]:
    """Every two-piece name (English surnames, Korean bands and companies) of every split, with its pieces."""
    return {a + b: (a, b) for la, lb in ((_EN_SUR_A, _EN_SUR_B), (_KO_GROUP_A, _KO_GROUP_B), (_KO_ORG_A, _KO_ORG_B))
            for a in la for b in lb}


def entity_names(split: str, lang: str) -> set[str]:
    """Every name stem of people, bands and companies that ``split`` may use in ``lang``.

    Korean people: the given names (the 30 surnames are shared); English people: the surnames.
    """
    keys = ("ko_given", "ko_group", "ko_org") if lang == "ko" else ("en_sur", "en_group", "en_org")
    return {n for k in keys for n in _POOLS[k][split]}


def alphabet() -> set[str]:
    """Every character the generator can emit (questions, contexts, typo substitutions)."""
    chars: set[str] = set(string.ascii_letters + string.digits + " .,?'()-~:;")
    words: list[str] = (_KO_SURNAMES + _KO_GIVEN + _EN_FIRST + _EN_SUR_A + _EN_SUR_B + _KO_GROUP_A + _KO_GROUP_B
                        + _EN_GROUP_A + _EN_GROUP_B + _KO_ORG_A + _KO_ORG_B + _EN_ORG_A + _EN_ORG_B + _EN_MONTHS
                        + _EN_NUMBERS)
    for c in _COUNTRIES:
        words += [c[0], c[1], c[2], *c[3], *c[4]]
    for p in _PROFESSIONS:
        words += list(p)
    for tpls in (_KO_Q, _EN_Q):
        for lst in tpls.values():
            words += lst
    for lst in (_KO_SENT, _EN_SENT):
        for v in lst.values():
            words += v
    words += list(_KO_FILLER) + list(_EN_FILLER) + ["은는이가을를과와으로다명년월일약현재"]
    for w in words:
        chars.update(w)
    chars -= set("{}")
    return chars


# --------------------------------------------------------------------------- entities
@dataclass
class _Person:
    name: str          # full name
    short: str         # how later sentences refer to them (Korean: full name, English: surname)
    year: int
    month: int
    day: int
    country: int       # index into _COUNTRIES
    city: str
    prof: int          # index into _PROFESSIONS
    debut: int
    has_date: bool = True
    has_place: bool = True
    has_debut: bool = True
    group: str | None = None


@dataclass
class _Group:
    name: str
    year: int
    city: str
    members: int
    org: str | None = None


@dataclass
class _Org:
    name: str
    year: int
    city: str
    employees: int
    founder: str | None = None


class _Pools:
    def __init__(self, split: str, lang: str, rng: random.Random) -> None:
        self.split, self.lang, self.rng = split, lang, rng

    def person_name(self) -> tuple[str, str]:
        r = self.rng
        if self.lang == "ko":
            n = r.choice(_KO_SURNAMES) + r.choice(_POOLS["ko_given"][self.split])
            return n, n
        sur = r.choice(_POOLS["en_sur"][self.split])
        return f"{r.choice(_EN_FIRST)} {sur}", sur

    def group_name(self) -> str:
        return self.rng.choice(_POOLS[f"{self.lang}_group"][self.split])

    def org_name(self) -> str:
        return self.rng.choice(_POOLS[f"{self.lang}_org"][self.split])

    def city(self, country: int) -> str:
        return self.rng.choice(_COUNTRIES[country][3 if self.lang == "ko" else 4])


def _country(rng: random.Random) -> int:
    # Korean-heavy, like the notebook's KorQuAD model
    return 0 if rng.random() < 0.55 else rng.randrange(1, len(_COUNTRIES))


# --------------------------------------------------------------------------- rendering with spans
_FIELD = re.compile(r"\{(\w+)(?::([^}]*))?\}")


def _render(template: str, values: dict[str, str], lang: str) -> tuple[str, dict[str, int]]:
    """Fill ``{field}`` / ``{field:은}`` (Korean particle) / ``{field:a}`` (English article) slots.

    Returns the text and the character offset of each field's value (its first occurrence).
    """
    out: list[str] = []
    pos: dict[str, int] = {}
    i = n = 0
    for m in _FIELD.finditer(template):
        out.append(template[i:m.start()])
        n += m.start() - i
        key, spec = m.group(1), m.group(2)
        val = values[key]
        if _SEGMENT and lang == "ko":
            # tokenizer-corpus mode: values and particles become separate words (see segmented_corpus)
            v = " ".join(val) if _is_ko_person(val) else val
            out.append(f" {v} {particle(val, spec) if spec else ''} ")
            pos.setdefault(key, 0)  # offsets are meaningless in this mode
            i = m.end()
            continue
        if spec == "a":
            art = "an " if val[0].lower() in "aeiou" else "a "
            out.append(art)
            n += len(art)
        pos.setdefault(key, n)
        out.append(val)
        n += len(val)
        if spec and spec != "a":
            p = particle(val, spec)
            out.append(p)
            n += len(p)
        i = m.end()
    out.append(template[i:])
    return "".join(out), pos


_SEGMENT = False


def _is_ko_person(val: str) -> bool:
    return len(val) == 3 and val[0] in _KO_SURNAMES and val[1] in _KO_GIVEN and val[2] in _KO_GIVEN


# Sentence templates per paragraph part. Field names are fact names (see _facts_of) or the entity's name.
_KO_SENT: dict[str, list[str]] = {
    "person_full": [
        "{name:은} {birth_date} {birth_place}에서 태어난 {nationality}의 {profession}이다.",
        "{name:은} {nationality}의 {profession:으로}, {birth_date} {birth_place}에서 태어났다.",
        "{birth_date} {birth_place}에서 태어난 {name:은} {nationality} 출신의 {profession}이다.",
    ],
    "person_date": [
        "{name:은} {birth_date}에 태어난 {nationality}의 {profession}이다.",
        "{nationality}의 {profession}인 {name:은} {birth_date}에 태어났다.",
    ],
    "person_place": [
        "{name:은} {birth_place}에서 태어난 {nationality}의 {profession}이다.",
        "{nationality} 출신의 {profession}인 {name:은} {birth_place}에서 태어났다.",
    ],
    "person_none": [
        "{name:은} {nationality}의 {profession}이다.",
        "{name:은} {nationality}에서 활동하는 {profession}이다.",
    ],
    "debut_group": [
        "{name:은} {debut_year}에 {group}의 멤버로 데뷔했다.",
        "{debut_year}에 데뷔한 {name:은} 현재 {group}에서 활동하고 있다.",
        "{name:은} {debut_year} {group}에 합류하며 데뷔했다.",
    ],
    "debut_solo": [
        "{name:은} {debut_year}에 첫 작품을 발표하며 데뷔했다.",
        "{name:이} 데뷔한 것은 {debut_year}이다.",
    ],
    "member_only": [
        "{name:은} {group}의 멤버이다.",
    ],
    "group": [
        "{name:은} {founded} {city}에서 결성된 밴드로, 멤버는 {members}이다.",
        "{founded}에 결성된 {name:은} {city:을} 중심으로 활동하는 밴드로, 멤버는 {members}이다.",
    ],
    "group_org": [
        "{name}의 소속사는 {org}이다.",
        "{name:은} {org}에 소속되어 있다.",
    ],
    "org": [
        "{name:은} {founded} {founder:이} {hq}에 설립한 회사로, 직원은 약 {employees}이다.",
        "{founder:이} {founded}에 세운 {name:은} 본사를 {hq}에 두고 있으며 약 {employees}의 직원이 일한다.",
        "{name:은} {founded}에 설립되었다. 창립자는 {founder}이며 본사는 {hq}에 있다. 직원 수는 약 {employees}이다.",
    ],
}
_EN_SENT: dict[str, list[str]] = {
    "person_full": [
        "{name} (born {birth_date}) is {nationality:a} {profession} from {birth_place}.",
        "{name} is {nationality:a} {profession} who was born in {birth_place} on {birth_date}.",
        "Born in {birth_place} on {birth_date}, {name} is {nationality:a} {profession}.",
    ],
    "person_date": [
        "{name} (born {birth_date}) is {nationality:a} {profession}.",
        "{name}, born on {birth_date}, is {nationality:a} {profession}.",
    ],
    "person_place": [
        "{name} is {nationality:a} {profession} who was born in {birth_place}.",
        "Born in {birth_place}, {name} is {nationality:a} {profession}.",
    ],
    "person_none": [
        "{name} is {nationality:a} {profession}.",
        "{name} works as {nationality:a} {profession}.",
    ],
    "debut_group": [
        "{short} debuted in {debut_year} as a member of {group}.",
        "{short} made a debut in {debut_year} and now performs with {group}.",
        "In {debut_year}, {short} joined {group}, marking a professional debut.",
    ],
    "debut_solo": [
        "{short} debuted in {debut_year} with a first published work.",
        "{short} made a professional debut in {debut_year}.",
    ],
    "member_only": [
        "{short} is a member of {group}.",
    ],
    "group": [
        "{name} is a band formed in {city} in {founded}; it has {members} members.",
        "Formed in {founded} in {city}, {name} is a band of {members} members.",
    ],
    "group_org": [
        "{name} is signed to {org}.",
        "The band's agency is {org}.",
    ],
    "org": [
        "{name} is a company founded by {founder} in {founded} and headquartered in {hq}, with about {employees} employees.",
        "Founded in {founded} by {founder}, {name} has its headquarters in {hq} and employs about {employees} people.",
        "{name} was established in {founded}. Its founder is {founder}, and its head office is in {hq}. It has about {employees} employees.",
    ],
}
_KO_FILLER = (
    "이 문서는 가상의 인물과 단체를 다룬다.",
    "아래 내용은 공개된 자료를 바탕으로 정리되었다.",
    "이들의 활동은 여러 매체에 소개되었다.",
)
_EN_FILLER = (
    "This article describes fictional people and organisations.",
    "The details below were compiled from public records.",
    "Their work has been covered by several publications.",
)

# Question templates: fact -> list of templates; the LAST one of each list is held out of train/dev and only
# appears in the test split. Each ending style (습니까 / 나요 / 인가요 / a bare "...은?"; "of X" / "X's") occurs
# for several facts in training, so an ending says nothing about the fact: with the polite endings used by the
# birth questions alone, the model had learned "##나요 = a birth question" and answered "언제 데뷔했나요?" with a
# birth date (held-out EM 44%). The held-out template recombines words and endings the training templates use;
# words that training never shows (출생지 -> 고향, occupation) are a separate probe, ``_KO_PROBE``/``_EN_PROBE``.
_KO_Q: dict[str, list[str]] = {
    "birth_place": ["{e:은} 어디에서 태어났습니까?", "{e:이} 태어난 곳은 어디입니까?", "{e:은} 어디서 태어났나요?",
                    "{e}의 출생지는 어디인가요?", "{e:이} 태어난 도시는 어디인가요?"],
    "birth_date": ["{e:은} 언제 태어났습니까?", "{e}의 생년월일은 언제입니까?", "{e:은} 언제 태어났나요?",
                   "{e:이} 태어난 날짜는?", "{e:이} 태어난 날짜는 언제입니까?"],
    "nationality": ["{e}의 국적은 어디입니까?", "{e:은} 어느 나라 사람입니까?", "{e:은} 어느 나라 출신인가요?",
                    "{e}의 국적은?", "{e:은} 어느 나라 출신입니까?"],
    "profession": ["{e}의 직업은 무엇입니까?", "{e:은} 무슨 일을 합니까?", "{e}의 직업은 뭔가요?", "{e}의 직업은?",
                   "{e:은} 무슨 일을 하나요?"],
    "debut_year": ["{e:은} 몇 년에 데뷔했습니까?", "{e:이} 데뷔한 해는 언제입니까?", "{e:은} 언제 데뷔했나요?",
                   "{e:이} 데뷔한 해는?", "{e:은} 몇 년에 데뷔했나요?"],
    "group": ["{e:이} 속한 그룹은 무엇입니까?", "{e:은} 어느 밴드의 멤버입니까?", "{e:은} 어떤 그룹에서 활동하나요?",
              "{e:이} 속한 밴드는?", "{e:은} 어느 그룹의 멤버인가요?"],
    "founded": ["{e:은} 언제 결성되었습니까?", "{e:이} 결성된 해는 언제입니까?", "{e:은} 몇 년에 만들어졌나요?",
                "{e:이} 결성된 해는?", "{e:은} 몇 년에 결성되었나요?"],
    "city": ["{e:은} 어디에서 결성되었습니까?", "{e:이} 결성된 도시는 어디입니까?", "{e:은} 어느 도시에서 시작되었나요?",
             "{e:이} 결성된 도시는?", "{e:은} 어디에서 결성되었나요?"],
    "members": ["{e}의 멤버는 몇 명입니까?", "{e:은} 몇 명으로 이루어져 있습니까?", "{e}의 구성원은 몇 명인가요?",
                "{e}의 멤버 수는?", "{e:은} 몇 명으로 이루어져 있나요?"],
    "org": ["{e}의 소속사는 어디입니까?", "{e:은} 어느 회사에 소속되어 있습니까?", "{e}의 소속사 이름은?",
            "{e:은} 어느 회사에 소속되어 있나요?", "{e}의 소속사는 어디인가요?"],
    "org_founded": ["{e:은} 언제 설립되었습니까?", "{e:이} 설립된 해는 언제입니까?", "{e:은} 몇 년에 세워졌나요?",
                    "{e:이} 설립된 해는?", "{e:은} 몇 년에 설립되었나요?"],
    "founder": ["{e:을} 설립한 사람은 누구입니까?", "누가 {e:을} 세웠습니까?", "{e}의 창립자는 누구인가요?",
                "{e}의 창립자는?", "{e:을} 설립한 사람은 누구인가요?"],
    "hq": ["{e}의 본사는 어디에 있습니까?", "{e}의 본사가 있는 도시는 어디입니까?", "{e}의 본사 위치는?",
           "{e}의 본사는 어디에 있나요?", "{e}의 본사가 있는 도시는 어디인가요?"],
    "employees": ["{e}의 직원은 몇 명입니까?", "{e}에서 일하는 직원은 약 몇 명입니까?", "{e}의 직원 수는 얼마인가요?",
                  "{e}의 직원 수는?", "{e}에서 일하는 직원은 몇 명인가요?"],
    "who_born": ["{e}에서 태어난 사람은 누구입니까?", "누가 {e}에서 태어났습니까?", "{e} 출생의 인물은 누구인가요?",
                 "{e}에서 태어난 사람은?", "누가 {e}에서 태어났나요?"],
}
_EN_Q: dict[str, list[str]] = {
    "birth_place": ["Where was {e} born?", "In which city was {e} born?", "What is the birthplace of {e}?",
                    "What is {e}'s birthplace?", "Which city was {e} born in?"],
    "birth_date": ["When was {e} born?", "What is the date of birth of {e}?", "On what date was {e} born?",
                   "What is {e}'s date of birth?", "On which date was {e} born?"],
    "nationality": ["What is the nationality of {e}?", "What nationality is {e}?", "Which nationality does {e} have?",
                    "What is {e}'s nationality?", "Which nationality is {e}?"],
    "profession": ["What is the profession of {e}?", "What does {e} do for a living?", "What is {e}'s profession?",
                   "What is {e}'s job?", "What is the job of {e}?"],
    "debut_year": ["In what year did {e} debut?", "When did {e} make a debut?", "Which year did {e} first debut?",
                   "When did {e} debut?", "In which year did {e} make a debut?"],
    "group": ["Which band is {e} a member of?", "What group does {e} belong to?", "Which band does {e} play in?",
              "What is {e}'s band?", "Which group is {e} a member of?"],
    "founded": ["When was {e} formed?", "In what year was {e} formed?", "What year did {e} get together?",
                "When did {e} form?", "Which year was {e} formed in?"],
    "city": ["Where was {e} formed?", "In which city was {e} formed?", "Which city did {e} start in?",
             "Where did {e} form?", "Which city was {e} formed in?"],
    "members": ["How many members does {e} have?", "How many people are in {e}?", "What is the number of members of {e}?",
                "How many members are in {e}?", "What is {e}'s number of members?"],
    "org": ["Which agency is {e} signed to?", "What is the agency of {e}?", "Which company manages {e}?",
            "What is {e}'s agency?", "Which agency manages {e}?"],
    "org_founded": ["When was {e} founded?", "In what year was {e} established?", "What year was {e} set up?",
                    "When was {e} established?", "In what year was {e} founded?"],
    "founder": ["Who founded {e}?", "Who is the founder of {e}?", "Who established {e}?", "Who set up {e}?",
                "Who is {e}'s founder?"],
    "hq": ["Where is {e} headquartered?", "In which city is the headquarters of {e}?", "Where is the head office of {e}?",
           "Where is {e}'s head office?", "In which city is {e} headquartered?"],
    "employees": ["How many employees does {e} have?", "About how many people work at {e}?",
                  "What is the number of employees of {e}?", "How many people work at {e}?",
                  "About how many employees does {e} have?"],
    "who_born": ["Who was born in {e}?", "Which person was born in {e}?", "Who is from {e}?",
                 "Which person is from {e}?", "Who was born in the city of {e}?"],
}
# Probe templates whose key words no split uses (the model card's "unseen words" column): a model trained from
# scratch has no way to know what 고향 or "occupation" mean, so these measure that weakness, not the test EM.
_KO_PROBE: dict[str, str] = {
    "birth_place": "{e}의 고향은 어디인가요?", "birth_date": "{e}의 생일은 언제인가요?",
    "profession": "{e}의 생업은 무엇입니까?", "debut_year": "{e:이} 처음 등장한 해는?",
    "nationality": "{e:은} 어느 국가의 시민입니까?",
}
_EN_PROBE: dict[str, str] = {
    "birth_place": "Which city is {e} originally from?", "birth_date": "What is {e}'s birthday?",
    "profession": "What is {e}'s occupation?", "debut_year": "When did {e}'s career begin?",
    "nationality": "Which passport does {e} hold?",
}


def _heldout(templates: list[str], i: int) -> bool:
    return i == len(templates) - 1


def _ko_date(y: int, m: int, d: int) -> str:
    return f"{y}년 {m}월 {d}일"


def _en_date(y: int, m: int, d: int, rng: random.Random) -> str:
    return f"{_EN_MONTHS[m - 1]} {d}, {y}" if rng.random() < 0.6 else f"{d} {_EN_MONTHS[m - 1]} {y}"


# --------------------------------------------------------------------------- one paragraph
@dataclass
class _Fact:
    kind: str      # question fact key (see _KO_Q)
    entity: str    # what the question names (a name, or a city for who_born)
    answer: str
    start: int


def _paragraph(pools: _Pools, easy: bool = False) -> tuple[str, list[_Fact], list[tuple[str, set[str]]]]:
    """Context text, its answerable facts, and its sentences with the fact kinds each one states.

    ``easy``: a curriculum paragraph -- exactly two people and nothing else (no band, company or filler),
    so the same kinds of fact still appear twice and only the name tells them apart, in a short context.
    """
    r, lang = pools.rng, pools.lang
    n_people = 2 if easy else r.choice((2, 2, 3))
    people: list[_Person] = []
    names: set[str] = set()
    cities: set[str] = set()
    while len(people) < n_people:
        name, short = pools.person_name()
        if name in names or any(p.short == short for p in people):
            continue
        c = _country(r)
        city = pools.city(c)
        if city in cities:
            continue
        y = r.randrange(1950, 2004)
        people.append(_Person(name, short, y, r.randrange(1, 13), r.randrange(1, 29), c, city,
                              r.randrange(len(_PROFESSIONS)), y + r.randrange(16, min(30, 2025 - y)),
                              has_date=r.random() < 0.85, has_place=r.random() < 0.85,
                              has_debut=r.random() < 0.7))
        names.add(name)
        cities.add(city)
    kind = "none" if easy else r.choice(("group", "org", "group", "org", "both"))
    group = org = None
    if kind in ("group", "both"):
        c = _country(r)
        group = _Group(pools.group_name(), r.randrange(1980, 2022), pools.city(c), r.randrange(2, 8))
        for p in people:
            if r.random() < 0.5:
                p.group = group.name
    if kind in ("org", "both"):
        c = _country(r)
        org = _Org(pools.org_name(), r.randrange(1950, 2022), pools.city(c), r.randrange(20, 5000) * 10,
                   founder=r.choice(people).name)
        if group is not None and r.random() < 0.7:
            group.org = org.name

    sents = _KO_SENT if lang == "ko" else _EN_SENT
    parts: list[tuple[str, dict[str, str], list[tuple[str, str, str]]]] = []
    # each part: (template, values, [(fact kind, entity, field)])

    def num(k: int) -> str:
        return _EN_NUMBERS[k] if lang == "en" and k < len(_EN_NUMBERS) else str(k)

    for p in people:
        ko_c, _, en_dem, _, _ = _COUNTRIES[p.country]
        v = {"name": p.name, "short": p.short,
             "birth_date": _ko_date(p.year, p.month, p.day) if lang == "ko" else _en_date(p.year, p.month, p.day, r),
             "birth_place": p.city, "nationality": ko_c if lang == "ko" else en_dem,
             "profession": _PROFESSIONS[p.prof][0 if lang == "ko" else 1]}
        key = {(True, True): "person_full", (True, False): "person_date",
               (False, True): "person_place", (False, False): "person_none"}[(p.has_date, p.has_place)]
        facts = [("nationality", p.name, "nationality"), ("profession", p.name, "profession")]
        if p.has_date:
            facts.append(("birth_date", p.name, "birth_date"))
        if p.has_place:
            facts += [("birth_place", p.name, "birth_place"), ("who_born", p.city, "name")]
        parts.append((r.choice(sents[key]), v, facts))
        dv = {"name": p.name, "short": p.short, "debut_year": f"{p.debut}년" if lang == "ko" else str(p.debut),
              "group": p.group or ""}
        if p.has_debut:
            dfacts = [("debut_year", p.name, "debut_year")] + ([("group", p.name, "group")] if p.group else [])
            parts.append((r.choice(sents["debut_group" if p.group else "debut_solo"]), dv, dfacts))
        elif p.group:
            parts.append((r.choice(sents["member_only"]), dv, [("group", p.name, "group")]))
    if group is not None:
        v = {"name": group.name, "founded": f"{group.year}년" if lang == "ko" else str(group.year),
             "city": group.city, "members": f"{group.members}명" if lang == "ko" else num(group.members)}
        if lang == "ko" and r.random() < 0.5:
            v["members"] = f"{group.members}인조"
        parts.append((r.choice(sents["group"]), v,
                      [("founded", group.name, "founded"), ("city", group.name, "city"), ("members", group.name, "members")]))
        if group.org:
            parts.append((r.choice(sents["group_org"]), {"name": group.name, "org": group.org},
                          [("org", group.name, "org")]))
    if org is not None:
        emp = f"{org.employees:,}" if r.random() < 0.5 else str(org.employees)
        v = {"name": org.name, "founded": f"{org.year}년" if lang == "ko" else str(org.year), "founder": org.founder or "",
             "hq": org.city, "employees": f"{emp}명" if lang == "ko" else emp}
        parts.append((r.choice(sents["org"]), v,
                      [("org_founded", org.name, "founded"), ("founder", org.name, "founder"),
                       ("hq", org.name, "hq"), ("employees", org.name, "employees")]))
    # people's sentences stay in order per person (intro before debut); blocks are shuffled as wholes
    if not easy and r.random() < 0.3:
        parts.insert(0 if r.random() < 0.5 else len(parts), (r.choice(_KO_FILLER if lang == "ko" else _EN_FILLER), {}, []))

    text = ""
    out: list[_Fact] = []
    sentences: list[tuple[str, set[str]]] = []
    for tpl, v, facts in parts:
        s, pos = _render(tpl, v, lang)
        if text:
            text += " "
        for kind_, entity, fld in facts:
            if fld in pos:
                out.append(_Fact(kind_, entity, v[fld], len(text) + pos[fld]))
        sentences.append((s, {k for k, _, fld in facts if fld in pos}))
        text += s
    return text, out, sentences


# --------------------------------------------------------------------------- public API
def _question(lang: str, fact: str, entity: str, rng: random.Random, allow_heldout: bool,
              force_heldout: bool = False) -> tuple[str, str, bool]:
    tpls = (_KO_Q if lang == "ko" else _EN_Q)[fact]
    idx = [i for i in range(len(tpls)) if allow_heldout or not _heldout(tpls, i)]
    if force_heldout:
        idx = [i for i in idx if _heldout(tpls, i)] or idx
    i = rng.choice(idx)
    q, _ = _render(tpls[i], {"e": entity}, lang)
    return q, f"{lang}.{fact}.{i}", _heldout(tpls, i)


_PERSON_FACTS = ("birth_place", "birth_date", "nationality", "profession", "debut_year", "group")


def _example(split: str, lang: str, rng: random.Random, idx: int, easy: bool = False) -> Example:
    pools = _Pools(split, lang, rng)
    context, facts, _ = _paragraph(pools, easy)
    people = {f.entity for f in facts if f.kind in _PERSON_FACTS}
    test = split == "test"
    ex_id = f"{split}-{lang}-{idx:06d}"
    if rng.random() < UNANSWERABLE_RATE:
        # an absent fact about a present person, or any fact about an absent entity
        missing = []
        for name in sorted(people):
            present = {f.kind for f in facts if f.entity == name}
            missing += [(k, name) for k in ("birth_place", "birth_date", "debut_year") if k not in present]
        if missing and rng.random() < 0.5:
            fact, ent = rng.choice(missing)
        else:
            fact = rng.choice(_PERSON_FACTS[:5])
            while True:
                ent, _ = pools.person_name()
                if ent not in context and ent.split()[-1] not in context:
                    break
        q, tid, ho = _question(lang, fact, ent, rng, allow_heldout=test)
        return Example(ex_id, lang, q, context, (), True, fact, tid, ho, ent)
    f = rng.choice(facts)
    q, tid, ho = _question(lang, f.kind, f.entity, rng, allow_heldout=test)
    assert _SEGMENT or context[f.start:f.start + len(f.answer)] == f.answer
    return Example(ex_id, lang, q, context, ((f.answer, f.start),), False, f.kind, tid, ho, f.entity)


def generate(split: str, n: int, seed: int = 0, *, langs: Iterable[str] = LANGS, easy: bool = False
             ) -> list[Example]:
    """``n`` examples of ``split``, alternating languages; the same arguments always give the same list.

    ``easy=True`` gives curriculum examples: two-person paragraphs without bands, companies or filler
    (a different random stream, tagged ``:easy``; the default output is unchanged).
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
    langs = tuple(langs)
    rng = random.Random(f"qaaudit-demo:{split}:{seed}" + (":easy" if easy else ""))
    return [_example(split, langs[i % len(langs)], rng, i, easy) for i in range(n)]


def segmented_corpus(split: str, n: int, seed: int = 0) -> list[str]:
    """Questions and contexts of ``generate(split, n, seed)`` with Korean values and particles spaced apart.

    Training WordPiece on this keeps every Korean token inside one value or one particle/ending, so an
    answer such as 광주 in 광주에서 starts and ends on token boundaries (광주 ##에서). Person names are
    spelled syllable by syllable, and two-piece names (Var|dren, 모래|정원) are cut into their pieces, so an
    unseen name splits the same way as a seen one (Var ##dren) instead of training names becoming whole tokens.
    """
    global _SEGMENT
    _SEGMENT = True
    try:
        exs = generate(split, n, seed)
    finally:
        _SEGMENT = False
    pieces = {name: " ".join(ab) for name, ab in name_pieces().items()}
    return [" ".join(re.sub(r"\w+", lambda m: pieces.get(m.group(), m.group()), t).split())
            for e in exs for t in (e.question, e.context)]


def mention_spans(text: str, ex: Example) -> list[tuple[int, int]]:
    """Character spans of the question's entity in ``text``; an English person also by surname alone."""
    if not ex.entity:
        return []
    names = {ex.entity}
    if ex.lang == "en" and " " in ex.entity and not ex.entity.startswith("The "):
        names.add(ex.entity.split()[-1])
    # whole words in English (Ost is not a mention inside Ostrander); Korean names carry particles
    pat = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    if ex.lang == "en":
        pat = rf"\b(?:{pat})\b"
    return [m.span() for m in re.finditer(pat, text)]


# --------------------------------------------------------------------------- perturbations (weakness probes)
def _shift(ex: Example, at: int, by: int, context: str) -> Example:
    answers = tuple((t, s + by if s >= at else s) for t, s in ex.answers)
    return replace(ex, context=context, answers=answers)


def add_distractor(ex: Example, rng: random.Random) -> Example:
    """Insert a sentence stating the same kind of fact about a different invented entity.

    It lands at a random sentence boundary and never names the question's entity or holds the gold answer,
    so the right answer is unchanged; a model that matches facts and not entities gets pulled away.
    """
    pools = _Pools("test", ex.lang, rng)
    kind = ex.fact or "birth_place"
    golds = [t for t, _ in ex.answers]
    for _ in range(1000):
        _, _, sentences = _paragraph(pools)
        cands = [s for s, kinds in sentences if kind in kinds]
        if not cands:
            continue
        sent = rng.choice(cands)
        if (ex.entity and ex.entity in sent) or any(g in sent for g in golds):
            continue
        if ex.lang == "en" and any(w in ex.context for w in re.findall(r"[A-Z][a-z]{3,}", sent)
                                   if w not in ex.entity and w[0] != "T" and w not in _ALL_CITIES):
            continue  # an English surname already used in the paragraph would be ambiguous
        break
    cuts = [0] + [m.end() for m in re.finditer(r"[.] ", ex.context)]
    at = rng.choice(cuts)
    ins = sent + " "
    return replace(_shift(ex, at, len(ins), ex.context[:at] + ins + ex.context[at:]), id=ex.id + "+distractor")


def reword_unseen(ex: Example) -> Example | None:
    """``ex`` asked with a probe template whose key words no split uses (고향, occupation), or None when its
    fact has no probe template. Measures what a model trained from scratch cannot know: new words."""
    tpl = (_KO_PROBE if ex.lang == "ko" else _EN_PROBE).get(ex.fact)
    if tpl is None or not ex.entity:
        return None
    q, _ = _render(tpl, {"e": ex.entity}, ex.lang)
    return replace(ex, question=q, template=f"{ex.lang}.{ex.fact}.probe", heldout_template=True)


def add_typos(ex: Example, rng: random.Random, rate: float = 0.15) -> Example:
    """Swap two adjacent characters in about ``rate`` of the context words that do not touch an answer."""
    # the answers and the question's entity stay intact (we probe robustness of the context, not of name matching)
    protected = [(s, s + len(t)) for t, s in ex.answers] + mention_spans(ex.context, ex)
    chars = list(ex.context)
    for m in re.finditer(r"\S{3,}", ex.context):
        a, b = m.span()
        if any(a < pe and ps < b for ps, pe in protected) or rng.random() >= rate:
            continue
        i = rng.randrange(a, b - 1)
        # letters only: swapping digits would change a fact, not spell it wrong
        if chars[i].isalpha() and chars[i + 1].isalpha() and chars[i] != chars[i + 1]:
            chars[i], chars[i + 1] = chars[i + 1], chars[i]
    return replace(ex, context="".join(chars), id=ex.id + "+typos")


def examples_by(examples: Iterable[Example], pred: Callable[[Example], bool]) -> list[Example]:
    return [e for e in examples if pred(e)]
