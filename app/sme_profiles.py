"""What Japanese SMEs look like, for the generator (`app.sme_generator`): technology areas with the trades,
names, industries and certificates that go with each, common surnames, regional and brand words companies are
named after, legal forms, overseas markets. Data only; the draws are the generator's.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import accumulate

Pair = tuple[str, str]


def _pairs(text: str) -> tuple[Pair, ...]:
    """'佐藤 Sato, 薄膜 Thin Film' → (("佐藤", "Sato"), ("薄膜", "Thin Film")): keeps the word lists readable."""
    pairs = []
    for item in text.split(","):
        japanese, space, english = item.strip().partition(" ")
        if not (japanese and space and english):
            raise ValueError(f"malformed word list item: {item!r}")
        pairs.append((japanese, english))
    return tuple(pairs)


def _items(text: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in text.split(";"))


@dataclass(frozen=True, slots=True)
class Area:
    """A technology area: what such a company does, what it is called, how it is classified and certified."""

    technologies: tuple[str, ...]
    weight: int
    qualifiers: tuple[Pair, ...]  # (Japanese, English) words naming the trade
    kinds: tuple[Pair, ...]  # (Japanese, English) words naming the kind of firm
    manufacturing_share: float  # chance that JSIC E is the primary division
    other_divisions: tuple[tuple[str, int], ...]  # weighted primary divisions otherwise
    certifications: tuple[tuple[str, float], ...]  # each certificate with its chance, in priority order


_TRADE_DIVISIONS = (("I", 40), ("L", 25), ("D", 15), ("G", 8), ("H", 4), ("K", 4), ("R", 4))

AREAS: dict[str, Area] = {
    "machining and metalworking": Area(
        technologies=_items(
            "precision machining; CNC turning; precision gears; forging; die casting; sheet metal fabrication; "
            "press stamping; welding; heat treatment; mold and die making; powder metallurgy"
        ),
        weight=24,
        qualifiers=_pairs(
            "精密 Precision, 精機 Seiki, 精工 Seiko, 金属 Metal, 機械 Machinery, 歯車 Gear, 鍛造 Forging"
        ),
        kinds=_pairs(
            "工業 Industries, 製作所 Works, 技研 Giken, 産業 Sangyo, 技術 Technologies, 工機 Koki, 鉄工所 Iron Works"
        ),
        manufacturing_share=0.8,
        other_divisions=_TRADE_DIVISIONS,
        certifications=(
            ("IATF 16949", 0.12),
            ("JIS Q 9100", 0.05),
            ("ISO 9001", 0.6),
            ("ISO 14001", 0.25),
            ("ISO 45001", 0.05),
            ("Eco-Action 21", 0.06),
        ),
    ),
    "surface and coatings": Area(
        technologies=_items(
            "surface treatment; plating; anodizing; painting and coating; thin film deposition; thermal spraying; "
            "polishing"
        ),
        weight=8,
        qualifiers=_pairs("表面 Surface, 鍍金 Plating, 塗装 Coating, 化工 Kako, 研磨 Polishing, 薄膜 Thin Film"),
        kinds=_pairs("工業 Industries, 技研 Giken, 技術 Technologies, 工業所 Kogyosho"),
        manufacturing_share=0.8,
        other_divisions=_TRADE_DIVISIONS,
        certifications=(("IATF 16949", 0.1), ("ISO 9001", 0.55), ("ISO 14001", 0.35), ("Eco-Action 21", 0.1)),
    ),
    "electronics": Area(
        technologies=_items(
            "sensors; MEMS; signal processing; power electronics; motor drives; printed circuit boards; "
            "electronic component assembly; semiconductor equipment; RF modules"
        ),
        weight=14,
        qualifiers=_pairs(
            "電子 Electronics, 電機 Electric, 電気 Denki, デバイス Devices, 半導体 Semiconductor, センサー Sensor"
        ),
        kinds=_pairs("工業 Industries, 技研 Giken, 技術 Technologies, 製作所 Works, システム Systems"),
        manufacturing_share=0.72,
        other_divisions=(("I", 40), ("L", 25), ("G", 20), ("D", 10), ("R", 5)),
        certifications=(("IATF 16949", 0.08), ("ISO 9001", 0.65), ("ISO 14001", 0.35), ("ISO 45001", 0.05)),
    ),
    "optics and photonics": Area(
        technologies=_items(
            "optical components; laser processing; machine vision; optical fiber; LED lighting; imaging systems; "
            "infrared optics"
        ),
        weight=6,
        qualifiers=_pairs("光学 Optical, レーザー Laser, フォトニクス Photonics, 画像 Imaging, 光電 Koden"),
        kinds=_pairs("工業 Industries, 技研 Giken, 技術 Technologies, 製作所 Works, 研究所 Laboratories"),
        manufacturing_share=0.72,
        other_divisions=(("I", 35), ("L", 35), ("G", 20), ("R", 10)),
        certifications=(("ISO 9001", 0.6), ("ISO 14001", 0.25), ("JIS Q 9100", 0.03), ("ISO 13485", 0.03)),
    ),
    "materials and chemicals": Area(
        technologies=_items(
            "carbon fiber composites; battery materials; ceramics; fine chemicals; functional films; rubber products; "
            "adhesives; specialty glass"
        ),
        weight=10,
        qualifiers=_pairs(
            "化学 Chemical, 化成 Kasei, 材料 Materials, セラミックス Ceramics, ゴム Rubber, 炭素 Carbon, 硝子 Glass"
        ),
        kinds=_pairs("工業 Industries, 技研 Giken, 産業 Sangyo, 研究所 Laboratories"),
        manufacturing_share=0.78,
        other_divisions=(("I", 50), ("L", 35), ("R", 15)),
        certifications=(
            ("IATF 16949", 0.05),
            ("JIS Q 9100", 0.04),
            ("ISO 9001", 0.6),
            ("ISO 14001", 0.45),
            ("ISO 45001", 0.06),
        ),
    ),
    "plastics and molding": Area(
        technologies=_items(
            "injection molding; blow molding; extrusion molding; 3D printing; plastic film processing; urethane foaming"
        ),
        weight=9,
        qualifiers=_pairs("樹脂 Plastics, 化成 Kasei, 成形 Molding, 合成 Gosei, プラスチック Plastic"),
        kinds=_pairs("工業 Industries, 技研 Giken, 産業 Sangyo, 製作所 Works"),
        manufacturing_share=0.82,
        other_divisions=_TRADE_DIVISIONS,
        certifications=(
            ("IATF 16949", 0.12),
            ("ISO 13485", 0.03),
            ("ISO 9001", 0.6),
            ("ISO 14001", 0.3),
            ("Eco-Action 21", 0.05),
        ),
    ),
    "automation and robotics": Area(
        technologies=_items(
            "industrial robots; factory automation; motion control; material handling systems; embedded software; "
            "precision measuring instruments; hydraulics and pneumatics"
        ),
        weight=9,
        qualifiers=_pairs(
            "機工 Kiko, オートメーション Automation, ロボット Robotics, 制御 Controls, 計測 Instruments, "
            "メカトロ Mechatronics"
        ),
        kinds=_pairs("工業 Industries, 技研 Giken, 技術 Technologies, システム Systems, 製作所 Works"),
        manufacturing_share=0.7,
        other_divisions=(("L", 35), ("G", 25), ("I", 25), ("D", 15)),
        certifications=(("ISO 9001", 0.6), ("ISO 14001", 0.25), ("ISO 45001", 0.05), ("ISO 27001", 0.03)),
    ),
    "medical and life sciences": Area(
        technologies=_items(
            "medical devices; biomaterials; diagnostic reagents; surgical instruments; regenerative medicine; "
            "pharmaceutical manufacturing; dental materials"
        ),
        weight=5,
        qualifiers=_pairs("メディカル Medical, 医科 Ika, バイオ Bio, 医療機器 Medical Devices, 理化学 Rikagaku"),
        kinds=_pairs("工業 Industries, 技研 Giken, 研究所 Laboratories, 製作所 Works"),
        manufacturing_share=0.7,
        other_divisions=(("L", 45), ("I", 40), ("P", 15)),
        certifications=(("ISO 13485", 0.65), ("ISO 9001", 0.5), ("ISO 14001", 0.2)),
    ),
    "food and fermentation": Area(
        technologies=_items("food processing; fermentation; food packaging; functional foods; freeze drying; brewing"),
        weight=8,
        qualifiers=_pairs("食品 Foods, 醸造 Brewing, 発酵 Hakko, フーズ Foods, 製菓 Confectionery"),
        kinds=_pairs("工業 Industries, 産業 Sangyo, 本舗 Honpo"),
        manufacturing_share=0.78,
        other_divisions=(("I", 70), ("A", 15), ("B", 10), ("M", 5)),
        certifications=(("FSSC 22000", 0.3), ("ISO 9001", 0.3), ("ISO 14001", 0.15), ("Eco-Action 21", 0.08)),
    ),
    "energy and environment": Area(
        technologies=_items(
            "hydrogen fuel cells; water treatment; solar power systems; waste recycling; energy management systems; "
            "heat exchangers; air purification"
        ),
        weight=5,
        qualifiers=_pairs("環境 Environment, エネルギー Energy, 水工 Water, 熱工 Thermal, エコ Eco"),
        kinds=_pairs("工業 Industries, 技研 Giken, 技術 Technologies, システム Systems, 産業 Sangyo"),
        manufacturing_share=0.6,
        other_divisions=(("D", 35), ("F", 20), ("I", 20), ("L", 20), ("R", 5)),
        certifications=(("ISO 14001", 0.55), ("ISO 9001", 0.5), ("ISO 45001", 0.08), ("Eco-Action 21", 0.15)),
    ),
    "textiles": Area(
        technologies=_items(
            "textile processing; technical textiles; dyeing and finishing; nonwoven fabrics; knitting; "
            "sewing and garment making"
        ),
        weight=3,
        qualifiers=_pairs("繊維 Textiles, 織物 Orimono, 染工 Dyeing, 紡績 Spinning, ニット Knit"),
        kinds=_pairs("工業 Industries, 産業 Sangyo, 工場 Mill"),
        manufacturing_share=0.8,
        other_divisions=(("I", 80), ("R", 20)),
        certifications=(("ISO 9001", 0.35), ("ISO 14001", 0.2), ("Eco-Action 21", 0.08)),
    ),
    "digital and software": Area(
        technologies=_items(
            "IoT platforms; AI image recognition; CAD/CAM software; production management systems; cybersecurity; "
            "industrial networking"
        ),
        weight=6,
        qualifiers=_pairs("情報 Information, ソフト Soft, データ Data, デジタル Digital, ネット Net"),
        kinds=_pairs("システム Systems, 技研 Giken, 技術 Technologies, 研究所 Laboratories"),
        manufacturing_share=0.15,
        other_divisions=(("G", 80), ("L", 15), ("I", 5)),
        certifications=(("ISO 27001", 0.4), ("ISO 9001", 0.35), ("ISO 14001", 0.1)),
    ),
}

TECHNOLOGY_AREAS: dict[str, tuple[str, ...]] = {name: area.technologies for name, area in AREAS.items()}
"""Technology area → its technologies; every technology belongs to exactly one area."""

CERTIFICATIONS = (
    "ISO 9001",
    "ISO 14001",
    "ISO 13485",
    "IATF 16949",
    "JIS Q 9100",
    "ISO 45001",
    "FSSC 22000",
    "ISO 27001",
    "Eco-Action 21",
)
OVERSEAS_MARKETS = (
    "ASEAN",
    "China",
    "North America",
    "Europe",
    "India",
    "Middle East",
    "Latin America",
    "Africa",
    "Oceania",
)
MARKET_CUM = tuple(accumulate((30, 18, 16, 14, 9, 4, 4, 2, 3)))

# Common surnames, as family workshops are usually named after their founder.
SURNAMES = _pairs(
    "佐藤 Sato, 鈴木 Suzuki, 高橋 Takahashi, 田中 Tanaka, 伊藤 Ito, 渡辺 Watanabe, 山本 Yamamoto, 中村 Nakamura, "
    "小林 Kobayashi, 加藤 Kato, 吉田 Yoshida, 山田 Yamada, 佐々木 Sasaki, 山口 Yamaguchi, 松本 Matsumoto, "
    "井上 Inoue, 木村 Kimura, 林 Hayashi, 斎藤 Saito, 清水 Shimizu, 山崎 Yamazaki, 森 Mori, 池田 Ikeda, "
    "橋本 Hashimoto, 阿部 Abe, 石川 Ishikawa, 山下 Yamashita, 中島 Nakajima, 石井 Ishii, 小川 Ogawa, 前田 Maeda, "
    "岡田 Okada, 長谷川 Hasegawa, 藤田 Fujita, 後藤 Goto, 近藤 Kondo, 村上 Murakami, 遠藤 Endo, 青木 Aoki, "
    "坂本 Sakamoto, 福田 Fukuda, 太田 Ota, 西村 Nishimura, 藤井 Fujii, 金子 Kaneko, 岡本 Okamoto, 藤原 Fujiwara, "
    "中野 Nakano, 三浦 Miura, 原田 Harada, 中川 Nakagawa, 松田 Matsuda, 竹内 Takeuchi, 小野 Ono, 田村 Tamura, "
    "中山 Nakayama, 和田 Wada, 石田 Ishida, 森田 Morita, 上田 Ueda, 原 Hara, 内田 Uchida, 柴田 Shibata, 酒井 Sakai, "
    "宮崎 Miyazaki, 横山 Yokoyama, 高木 Takagi, 安藤 Ando, 宮本 Miyamoto, 小島 Kojima, 谷口 Taniguchi, 今井 Imai, "
    "工藤 Kudo, 高田 Takada, 増田 Masuda, 丸山 Maruyama, 杉山 Sugiyama, 村田 Murata, 大塚 Otsuka, 新井 Arai, "
    "小山 Koyama, 平野 Hirano, 藤本 Fujimoto, 河野 Kono, 上野 Ueno, 野口 Noguchi, 武田 Takeda, 松井 Matsui, "
    "千葉 Chiba, 岩崎 Iwasaki, 菅原 Sugawara, 木下 Kinoshita, 久保 Kubo, 佐野 Sano, 野村 Nomura, 松尾 Matsuo, "
    "市川 Ichikawa, 菊地 Kikuchi, 杉本 Sugimoto, 古川 Furukawa, 大西 Onishi, 島田 Shimada, 水野 Mizuno, "
    "桜井 Sakurai, 高野 Takano, 吉川 Yoshikawa, 山内 Yamauchi, 西田 Nishida, 飯田 Iida, 西川 Nishikawa, "
    "小松 Komatsu, 北村 Kitamura, 安田 Yasuda, 五十嵐 Igarashi, 川口 Kawaguchi, 平田 Hirata, 関 Seki, 中田 Nakata, "
    "久保田 Kubota, 服部 Hattori, 岩田 Iwata, 土屋 Tsuchiya, 本田 Honda, 辻 Tsuji, 樋口 Higuchi, 秋山 Akiyama, "
    "田口 Taguchi, 永井 Nagai, 山中 Yamanaka, 中西 Nakanishi, 吉村 Yoshimura, 川上 Kawakami, 石原 Ishihara, "
    "大橋 Ohashi, 松岡 Matsuoka, 馬場 Baba, 浜田 Hamada, 森本 Morimoto, 星野 Hoshino, 矢野 Yano, 浅野 Asano, "
    "大久保 Okubo, 松下 Matsushita, 黒田 Kuroda, 堀 Hori, 荒木 Araki, 大野 Ohno, 野田 Noda, 菅野 Kanno, 片山 Katayama, "
    "津田 Tsuda, 小池 Koike, 長田 Nagata, 宇野 Uno, 寺田 Terada, 三宅 Miyake, 坂口 Sakaguchi, 梅田 Umeda"
)

# Old provinces and districts companies take their names after, by region.
REGION_WORDS: dict[str, tuple[Pair, ...]] = {
    "Hokkaido": _pairs("北海 Hokkai, 道央 Doo, 北斗 Hokuto, 十勝 Tokachi, 石狩 Ishikari"),
    "Tohoku": _pairs("東北 Tohoku, 奥羽 Ou, 陸奥 Mutsu, 出羽 Dewa, 会津 Aizu, 三陸 Sanriku"),
    "Kanto": _pairs(
        "京浜 Keihin, 武蔵 Musashi, 相模 Sagami, 城南 Jonan, 関東 Kanto, 湘南 Shonan, 常陽 Joyo, 上毛 Jomo"
    ),
    "Chubu": _pairs(
        "東海 Tokai, 中部 Chubu, 三河 Mikawa, 尾張 Owari, 遠州 Enshu, 駿河 Suruga, 信州 Shinshu, 越後 Echigo, "
        "北陸 Hokuriku, 甲斐 Kai"
    ),
    "Kinki": _pairs(
        "関西 Kansai, 浪速 Naniwa, 阪神 Hanshin, 播磨 Harima, 近畿 Kinki, 河内 Kawachi, 泉州 Senshu, 伊勢 Ise, 近江 Omi"
    ),
    "Chugoku": _pairs("瀬戸内 Setouchi, 山陽 Sanyo, 山陰 San-in, 出雲 Izumo, 吉備 Kibi, 備後 Bingo"),
    "Shikoku": _pairs("四国 Shikoku, 讃岐 Sanuki, 阿波 Awa, 伊予 Iyo, 土佐 Tosa"),
    "Kyushu": _pairs("九州 Kyushu, 筑紫 Tsukushi, 西海 Saikai, 肥後 Higo, 薩摩 Satsuma, 豊前 Buzen, 琉球 Ryukyu"),
}

# Auspicious or modern words many company names start with.
BRAND_WORDS = _pairs(
    "東洋 Toyo, 日本 Nippon, 大和 Yamato, 富士 Fuji, 旭 Asahi, 太陽 Taiyo, 昭和 Showa, 大成 Taisei, 新光 Shinko, "
    "三共 Sankyo, 共栄 Kyoei, 協和 Kyowa, 日進 Nisshin, 栄光 Eiko, 北辰 Hokushin, 明星 Myojo, 大同 Daido, 平和 Heiwa, "
    "第一 Daiichi, 三和 Sanwa, 光和 Kowa, 丸一 Maruichi, 山一 Yamaichi, 双葉 Futaba, 朝日 Asahi, 菱和 Ryowa, "
    "ヤマト Yamato, テクノ Techno, ミライ Mirai, サンワ Sanwa, アイ Ai"
)

# (Japanese form, English form, weight, founded from, founded until): since the Companies Act of 2006 no new
# 有限会社 can be formed (the old ones live on), and 合同会社 exist only since then.
LEGAL_FORMS = (
    ("株式会社", "Co., Ltd.", 62, 0, 9999),
    ("株式会社", "Inc.", 12, 0, 9999),
    ("株式会社", "Corporation", 8, 0, 9999),
    ("有限会社", "Ltd.", 14, 0, 2005),
    ("合同会社", "LLC", 4, 2006, 9999),
)
