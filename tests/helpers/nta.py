"""Corporate-number publication files written to the NTA's resource definition (30 columns, no header, CRLF,
every text cell quoted as the NTA quotes them), for tests of `alliance smes import-nta`."""

from __future__ import annotations

import csv
import io

from domain.nta_publication import COLUMNS


def nta_row(seq: int, number: str, **cells: str) -> list[str]:
    """Row `seq` for `number`: a live 株式会社 in 刈谷市, Aichi, newly numbered on 2026-11-02, unless `cells`
    (keyed by the NTA's column names) says otherwise."""
    values = {
        "sequenceNumber": str(seq), "corporateNumber": number, "process": "01", "correct": "0",
        "updateDate": "2026-11-02", "changeDate": "2026-11-02", "name": "株式会社中部精密", "nameImageId": "",
        "kind": "301", "prefectureName": "愛知県", "cityName": "刈谷市", "streetNumber": "昭和町１丁目１番地",
        "addressImageId": "", "prefectureCode": "23", "cityCode": "210", "postCode": "4480000",
        "addressOutside": "", "addressOutsideImageId": "", "closeDate": "", "closeCause": "",
        "successorCorporateNumber": "", "changeCause": "", "assignmentDate": "2015-10-05", "latest": "1",
        "enName": "", "enPrefectureName": "", "enCityName": "", "enAddressOutside": "",
        "furigana": "チュウブセイミツ", "hihyoji": "0",
    } | cells
    unknown = set(values) - set(COLUMNS)
    assert not unknown, f"not a publication column: {unknown}"
    return [values[name] for name in COLUMNS]


_QUOTED = {"name", "prefectureName", "cityName", "streetNumber", "addressOutside", "changeCause", "enName",
           "enPrefectureName", "enCityName", "enAddressOutside", "furigana"}


def nta_file(rows: list[list[str]], encoding: str = "utf-8") -> bytes:
    """The rows as a publication file's bytes in `encoding` (utf-8: the Unicode edition; cp932: Shift_JIS)."""
    out = io.StringIO()
    for cells in rows:
        out.write(",".join(
            f'"{cell}"' if name in _QUOTED and cell else cell for name, cell in zip(COLUMNS, cells, strict=True)
        ) + "\r\n")
    text = out.getvalue()
    assert list(csv.reader(io.StringIO(text, newline=""))) == rows  # written as the csv module reads it back
    return text.encode(encoding)
