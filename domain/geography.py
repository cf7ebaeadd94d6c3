"""Reference data on Japan's prefectures and industry divisions, so SMEs can be placed, weighted and classified.

`Prefecture.enterprises` is the approximate number of SMEs (small and medium enterprises, including
sole proprietors) headquartered in the prefecture, after the SME Agency's tally of the 2021 Economic Census
for Business Activity (中小企業・小規模事業者の数, June 2021; about 3.36 million in all). The figures are
rounded and approximate: good for weighting samples, not for citing.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from domain.folding import fold

REGIONS = ("Hokkaido", "Tohoku", "Kanto", "Chubu", "Kinki", "Chugoku", "Shikoku", "Kyushu")


@dataclass(frozen=True, slots=True)
class Prefecture:
    """One of the 47 prefectures; `name` is the English name without suffix, `name_ja` keeps its 都/道/府/県."""

    name: str
    name_ja: str
    region: str
    enterprises: int
    cities: tuple[str, ...]

    @property
    def code(self) -> int:
        """Its JIS X 0401 code (1 Hokkaido … 13 Tokyo … 47 Okinawa)."""
        return PREFECTURES.index(self) + 1


# In JIS X 0401 order: the position (1-based) is the prefecture code.
PREFECTURES: tuple[Prefecture, ...] = (
    Prefecture(
        "Hokkaido",
        "北海道",
        "Hokkaido",
        131_100,
        ("Sapporo", "Asahikawa", "Hakodate", "Kushiro", "Tomakomai", "Obihiro"),
    ),
    Prefecture("Aomori", "青森県", "Tohoku", 36_400, ("Aomori", "Hachinohe", "Hirosaki", "Towada")),
    Prefecture("Iwate", "岩手県", "Tohoku", 34_400, ("Morioka", "Ichinoseki", "Oshu", "Kitakami", "Hanamaki")),
    Prefecture("Miyagi", "宮城県", "Tohoku", 58_400, ("Sendai", "Ishinomaki", "Osaki", "Natori", "Tagajo")),
    Prefecture("Akita", "秋田県", "Tohoku", 29_700, ("Akita", "Yokote", "Daisen", "Yurihonjo")),
    Prefecture("Yamagata", "山形県", "Tohoku", 34_400, ("Yamagata", "Yonezawa", "Tsuruoka", "Sakata")),
    Prefecture(
        "Fukushima", "福島県", "Tohoku", 58_400, ("Koriyama", "Iwaki", "Fukushima", "Aizuwakamatsu", "Sukagawa")
    ),
    Prefecture(
        "Ibaraki", "茨城県", "Kanto", 76_500, ("Mito", "Tsukuba", "Hitachi", "Hitachinaka", "Tsuchiura", "Koga")
    ),
    Prefecture("Tochigi", "栃木県", "Kanto", 55_500, ("Utsunomiya", "Oyama", "Tochigi", "Ashikaga", "Sano")),
    Prefecture("Gunma", "群馬県", "Kanto", 59_300, ("Maebashi", "Takasaki", "Ota", "Isesaki", "Kiryu")),
    Prefecture(
        "Saitama",
        "埼玉県",
        "Kanto",
        148_300,
        ("Saitama", "Kawaguchi", "Kawagoe", "Tokorozawa", "Koshigaya", "Kumagaya"),
    ),
    Prefecture(
        "Chiba", "千葉県", "Kanto", 119_600, ("Chiba", "Funabashi", "Matsudo", "Kashiwa", "Ichikawa", "Kisarazu")
    ),
    Prefecture(
        "Tokyo",
        "東京都",
        "Kanto",
        405_000,
        ("Ota-ku", "Sumida-ku", "Katsushika-ku", "Shinagawa-ku", "Chiyoda-ku", "Minato-ku"),
    ),
    Prefecture(
        "Kanagawa",
        "神奈川県",
        "Kanto",
        190_000,
        ("Yokohama", "Kawasaki", "Sagamihara", "Fujisawa", "Atsugi", "Hiratsuka"),
    ),
    Prefecture("Niigata", "新潟県", "Chubu", 70_800, ("Niigata", "Nagaoka", "Sanjo", "Tsubame", "Joetsu")),
    Prefecture("Toyama", "富山県", "Chubu", 30_600, ("Toyama", "Takaoka", "Imizu", "Tonami")),
    Prefecture("Ishikawa", "石川県", "Chubu", 36_400, ("Kanazawa", "Komatsu", "Hakusan", "Nanao")),
    Prefecture("Fukui", "福井県", "Chubu", 25_800, ("Fukui", "Sabae", "Echizen", "Tsuruga")),
    Prefecture("Yamanashi", "山梨県", "Chubu", 26_800, ("Kofu", "Fujiyoshida", "Kai", "Minami-Alps")),
    Prefecture("Nagano", "長野県", "Chubu", 66_000, ("Nagano", "Matsumoto", "Ueda", "Suwa", "Okaya", "Ina")),
    Prefecture("Gifu", "岐阜県", "Chubu", 63_100, ("Gifu", "Ogaki", "Kakamigahara", "Seki", "Tajimi")),
    Prefecture("Shizuoka", "静岡県", "Chubu", 109_100, ("Shizuoka", "Hamamatsu", "Fuji", "Numazu", "Iwata")),
    Prefecture(
        "Aichi", "愛知県", "Chubu", 192_000, ("Nagoya", "Toyota", "Okazaki", "Kariya", "Toyohashi", "Ichinomiya")
    ),
    Prefecture("Mie", "三重県", "Kinki", 50_700, ("Tsu", "Yokkaichi", "Suzuka", "Kuwana", "Ise")),
    Prefecture("Shiga", "滋賀県", "Kinki", 33_500, ("Otsu", "Kusatsu", "Hikone", "Nagahama", "Koka")),
    Prefecture("Kyoto", "京都府", "Kinki", 76_500, ("Kyoto", "Uji", "Fukuchiyama", "Kameoka", "Nagaokakyo")),
    Prefecture("Osaka", "大阪府", "Kinki", 265_000, ("Osaka", "Higashiosaka", "Sakai", "Yao", "Toyonaka", "Kadoma")),
    Prefecture(
        "Hyogo", "兵庫県", "Kinki", 133_900, ("Kobe", "Himeji", "Amagasaki", "Nishinomiya", "Akashi", "Kakogawa")
    ),
    Prefecture("Nara", "奈良県", "Kinki", 29_700, ("Nara", "Kashihara", "Yamatokoriyama", "Ikoma")),
    Prefecture("Wakayama", "和歌山県", "Kinki", 30_600, ("Wakayama", "Tanabe", "Hashimoto", "Kainan")),
    Prefecture("Tottori", "鳥取県", "Chugoku", 14_300, ("Tottori", "Yonago", "Kurayoshi")),
    Prefecture("Shimane", "島根県", "Chugoku", 19_100, ("Matsue", "Izumo", "Hamada", "Masuda")),
    Prefecture("Okayama", "岡山県", "Chugoku", 48_800, ("Okayama", "Kurashiki", "Tsuyama", "Soja")),
    Prefecture(
        "Hiroshima", "広島県", "Chugoku", 76_500, ("Hiroshima", "Fukuyama", "Kure", "Higashihiroshima", "Onomichi")
    ),
    Prefecture("Yamaguchi", "山口県", "Chugoku", 35_400, ("Shimonoseki", "Ube", "Yamaguchi", "Shunan", "Iwakuni")),
    Prefecture("Tokushima", "徳島県", "Shikoku", 22_000, ("Tokushima", "Anan", "Naruto")),
    Prefecture("Kagawa", "香川県", "Shikoku", 28_700, ("Takamatsu", "Marugame", "Sakaide", "Kanonji")),
    Prefecture("Ehime", "愛媛県", "Shikoku", 39_200, ("Matsuyama", "Imabari", "Niihama", "Saijo", "Shikokuchuo")),
    Prefecture("Kochi", "高知県", "Shikoku", 21_000, ("Kochi", "Nankoku", "Konan")),
    Prefecture("Fukuoka", "福岡県", "Kyushu", 127_200, ("Fukuoka", "Kitakyushu", "Kurume", "Iizuka", "Omuta")),
    Prefecture("Saga", "佐賀県", "Kyushu", 21_000, ("Saga", "Karatsu", "Tosu", "Imari")),
    Prefecture("Nagasaki", "長崎県", "Kyushu", 36_400, ("Nagasaki", "Sasebo", "Isahaya", "Omura")),
    Prefecture("Kumamoto", "熊本県", "Kyushu", 47_800, ("Kumamoto", "Yatsushiro", "Kikuchi", "Koshi")),
    Prefecture("Oita", "大分県", "Kyushu", 31_600, ("Oita", "Beppu", "Nakatsu", "Saiki")),
    Prefecture("Miyazaki", "宮崎県", "Kyushu", 31_600, ("Miyazaki", "Nobeoka", "Miyakonojo", "Hyuga")),
    Prefecture("Kagoshima", "鹿児島県", "Kyushu", 47_800, ("Kagoshima", "Kirishima", "Kanoya", "Satsumasendai")),
    Prefecture("Okinawa", "沖縄県", "Kyushu", 41_100, ("Naha", "Okinawa", "Urasoe", "Uruma")),
)

PREFECTURE_BY_NAME: dict[str, Prefecture] = {prefecture.name: prefecture for prefecture in PREFECTURES}

# The English suffix of each kind of prefecture (都 Tokyo-to, 道 Hokkaido, 府 Osaka-fu and Kyoto-fu, 県 -ken).
_SUFFIXES = {"都": "to", "道": "do", "府": "fu", "県": "ken"}


def _plain(text: str) -> str:
    """English spelt plainly: macrons dropped (Tōkyō → tokyo), folded (`domain.folding.fold`)."""
    decomposed = unicodedata.normalize("NFKD", fold(text))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).strip()


def _spellings(prefecture: Prefecture) -> set[str]:
    """How people write it: English with or without its suffix, Japanese with or without its suffix, the code."""
    english = prefecture.name.lower()
    suffix = _SUFFIXES[prefecture.name_ja[-1]]
    written = {english, f"{english}-{suffix}", f"{english} {suffix}", f"{english}{suffix}",
               f"{english} prefecture", f"{english}-{suffix} prefecture"}
    written |= {fold(prefecture.name_ja), str(prefecture.code), f"{prefecture.code:02d}", f"jp-{prefecture.code:02d}"}
    if prefecture.name_ja[-1] != "道":  # 北海道: the 道 is part of the name people say
        written.add(fold(prefecture.name_ja[:-1]))
    return written


_BY_SPELLING: dict[str, Prefecture] = {
    spelling: prefecture for prefecture in PREFECTURES for spelling in _spellings(prefecture)
}


def prefecture_named(text: str) -> Prefecture | None:
    """The prefecture `text` names, written as people write it, or None.

    Accepted (after NFKC and case folding, so full-width and half-width forms too): the English name with or
    without macrons and suffix (`Tokyo`, `Tokyo-to`, `Tōkyō`, `Hyōgo`, `Aichi-ken`, `Osaka Prefecture`), the
    Japanese name with or without its 都/府/県 (`東京都`, `東京`, `大阪`), and the JIS X 0401 code (`13`, `01`,
    `JP-13`).
    """
    plain = " ".join(_plain(text).split())
    return _BY_SPELLING.get(plain)


def prefecture_spellings() -> str:
    """How a person may write a prefecture, in a sentence (for refusals and the OpenAPI schema)."""
    return (
        "as its English name (Aichi, Tokyo-to, Hyōgo), its Japanese name with or without 都/道/府/県 "
        "(愛知県, 東京, 大阪府) or its JIS X 0401 code (1–47)"
    )


def region_of(prefecture: str) -> str | None:
    """The region of a prefecture given by its English name, or None for a name that is not one of the 47."""
    found = PREFECTURE_BY_NAME.get(prefecture)
    return found.region if found else None


# Japan Standard Industrial Classification, Rev. 14: the 20 divisions (大分類) and their English titles.
JSIC_DIVISIONS: dict[str, str] = {
    "A": "Agriculture and forestry",
    "B": "Fisheries",
    "C": "Mining and quarrying of stone and gravel",
    "D": "Construction",
    "E": "Manufacturing",
    "F": "Electricity, gas, heat supply and water",
    "G": "Information and communications",
    "H": "Transport and postal activities",
    "I": "Wholesale and retail trade",
    "J": "Finance and insurance",
    "K": "Real estate and goods rental and leasing",
    "L": "Scientific research, professional and technical services",
    "M": "Accommodations, eating and drinking services",
    "N": "Living-related and personal services and amusement services",
    "O": "Education, learning support",
    "P": "Medical, health care and welfare",
    "Q": "Compound services",
    "R": "Services, N.E.C.",
    "S": "Government, except elsewhere classified",
    "T": "Industries unable to classify",
}
