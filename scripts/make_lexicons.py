"""Writes the composed built-in lexicons of qaaudit/lexicons/ (names and organisations).

The names are composed here from syllables and name parts, deterministically, so the lists are the
project's own (no copyrighted list was copied); hand-written lexicons (cities, countries, professions,
colours, comparatives) are edited in their files directly. Run: python scripts/make_lexicons.py
"""
from __future__ import annotations

import random
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "qaaudit" / "lexicons"
HEAD = "# composed by scripts/make_lexicons.py; one entry a line\n"

KO_FAMILY = ("김 이 박 최 정 강 조 윤 장 임 한 오 서 신 권 황 안 송 류 전 홍 고 문 양 손 배 백 허 유 남 심 노 하 곽 성 "
             "차 주 우 구 민 진 나 지 엄 채 원 천 방 공 현 함 변 염 여 추 도 소 석 선 설 마 길 연 위 표 명 기 반 왕 금 "
             "옥 육 인 맹 제 모 탁 국 어 은 편 용").split()
# first and second syllables of given names; the second ones mix no final consonant (아, 우, 호),
# ㄹ (율, 솔, 별, 결, 늘) and other finals (준, 연, 원, 훈), so particle agreement is exercised
KO_FIRST = "민 서 지 하 도 예 수 유 시 윤 은 채 현 준 태 나 다 가 소 주 승 재 동 성 혜 선 영 정 미 경 세 아 로 한 건".split()
KO_SECOND = "준 아 윤 우 호 연 은 린 진 빈 율 원 희 훈 솔 별 람 결 늘 담 슬 혁 재 서 나 민 규 현 주 정".split()

EN_FIRST = """Aaron Abigail Adam Adrian Agnes Aidan Alan Albert Alice Alma Amelia Amos Andrew Angela Anna Anton
Arthur Astrid Audrey Basil Beatrice Ben Bernard Bertha Bianca Boris Brenda Bruno Caleb Camille Carl Carmen
Caroline Cecil Celia Charles Chloe Clara Claude Colin Cora Daniel Daphne David Della Denis Diana Dorothy Edgar
Edith Edmund Edwin Eileen Elias Elise Ellen Elmer Eloise Emil Emma Eric Ernest Esther Ethan Eva Felix Fiona
Florence Frances Frank Frieda Gavin Gemma George Gerald Gilbert Gloria Grace Greta Gus Hannah Harold Hazel
Helen Henry Herbert Hilda Hugo Ian Ida Igor Imogen Irene Iris Isaac Ivan Ivy Jack Jane Jasper Jean Joan Joel
John Joyce Julia Julian Karen Karl Kate Keith Kurt Laura Leo Leon Lila Linus Lionel Lois Lorna Louis Lucy Luke
Lydia Mabel Malcolm Marcus Margot Maria Mark Martha Martin Mavis Max Maya Miles Milo Mina Miriam Molly Morris
Nadia Nancy Nathan Neil Nina Noah Nora Norman Olga Oliver Olive Oscar Otto Owen Pamela Patrick Paul Pearl Peter
Philip Phoebe Quentin Rachel Ralph Ray Rebecca Rex Rita Robert Rosa Ruby Rufus Ruth Sadie Sam Sarah Saul Selma
Seth Silas Simon Sofia Stella Stuart Susan Sylvia Tara Ted Thea Theo Tobias Tom Ursula Vera Victor Viola Vivian
Wade Walter Wanda Wesley Will Willa Yara Yusuf Zara Zoe""".split()
EN_HEAD = ("Ash Brom Cal Dun Elm Fair Gold Hal Kirk Lang Mar North Oak Pem Rad Stan Thorn Wel West Win Bram Cor "
           "Dray Fen Hart").split()
EN_TAIL = "bury ford ley wick ton field more dale worth by ham well croft mere stead".split()

KO_ORG_HEAD = "누리 한빛 새솔 푸른 다온 가람 솔빛 해담 미리내 라온 별누리 온새 하람 늘봄 새길".split()
KO_ORG_TAIL = "출판사 전자 제약 은행 건설 항공 식품 연구소 재단 통신 화학 중공업 증권 백화점".split()
EN_ORG_HEAD = ("Blue Harbor|Northwind|Silver Oak|Redstone|Granite Peak|Lakeside|Summit Ridge|Meridian|Cobalt|"
               "Amberfield|Ironbridge|Clearwater|Foxglove|Highmoor|Juniper|Kestrel|Lantern|Maplecrest|Nimbus|"
               "Quarry Lane").split("|")
EN_ORG_TAIL = "Labs|Group|Systems|Bank|Press|Foods|Airlines|Institute|Foundation|Motors|Studios|Pharma".split("|")


def write(name: str, entries: list[str]) -> None:
    assert len(entries) == len(set(entries)), name
    (OUT / f"{name}.txt").write_text(HEAD + "\n".join(entries) + "\n", encoding="utf-8")


def main() -> None:
    rng = random.Random(20240517)
    given = [a + b for a in KO_FIRST for b in KO_SECOND if a != b]
    rng.shuffle(given)
    given = sorted(given[:400])
    write("korean_family_name", KO_FAMILY)
    write("korean_given_name", given)
    full = sorted({rng.choice(KO_FAMILY) + g for g in given for _ in range(2)})
    rng.shuffle(full)
    write("korean_name", sorted(full[:500]))
    family = sorted({h + t.lower() if h[-1] != t[0] else h + t[1:] for h in EN_HEAD for t in EN_TAIL})
    write("english_first_name", sorted(set(EN_FIRST)))
    write("english_family_name", family)
    full_en = sorted({f"{rng.choice(EN_FIRST)} {rng.choice(family)}" for _ in range(700)})
    rng.shuffle(full_en)
    write("english_name", sorted(full_en[:500]))
    write("korean_organization", sorted(h + t for h in KO_ORG_HEAD for t in KO_ORG_TAIL))
    write("english_organization", sorted(f"{h} {t}" for h in EN_ORG_HEAD for t in EN_ORG_TAIL))


if __name__ == "__main__":
    main()
