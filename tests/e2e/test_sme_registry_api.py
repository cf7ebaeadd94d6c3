"""The SME registry over HTTP: an office manager imports a CSV (every row or none), staff look SMEs up.

Every SME a test imports has a corporate number of its own (a 12-digit base starting 99, then the test's
block, then random digits) and a name carrying a random tag, so tests sharing the database never meet.
The demo SMEs (seeded by the `desk` fixture) are only read, never imported over.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from temporalio.client import Client

from api.app import create_app
from domain.corporate_number import with_check_digit
from domain.model import Office, Role
from domain.samples import DEMO_SMES
from infra.settings import Settings
from infra.tables import smes
from services.context import Services
from tests.helpers.desk import Desk
from tests.helpers.people import ADMIN, APPLICANT, AUDITOR, COORDINATOR, FUND_MEMBER, manager, officer

MANAGER = manager(Office.SBIC)
OFFICER = officer(Office.SBIC)
PROBLEM_JSON = "application/problem+json"
COLUMNS = ("corporate_number", "name", "name_ja", "prefecture", "city", "industries", "employees", "technologies",
           "consent")
DEMO_IDS = [sme[0] for sme in DEMO_SMES]


def numbers(block: int, count: int) -> list[str]:
    """`count` fresh corporate numbers in a test's own block (99 + block + random serials)."""
    start = secrets.randbelow(10**7) * 10
    return [with_check_digit(f"99{block:02d}{start + i:08d}") for i in range(count)]


def tag() -> str:
    return uuid.uuid4().hex[:10]


def sme(number: str, name: str, **cells: str) -> dict[str, str]:
    return {
        "corporate_number": number,
        "name": name,
        "name_ja": "テスト精工",
        "prefecture": "愛知県",
        "city": "Kariya",
        "industries": "E",
        "employees": "25",
        "technologies": "precision machining",
        "consent": "yes",
    } | cells


def csv_of(*rows: dict[str, str]) -> bytes:
    lines = [",".join(COLUMNS)] + [",".join(row[column] for column in COLUMNS) for row in rows]
    return ("\n".join(lines) + "\n").encode()


async def import_csv(desk: Desk, person: tuple[Role, str], body: bytes,
                     content_type: str = "text/csv") -> httpx.Response:
    headers = {**desk.headers(person), "content-type": content_type}
    return await desk.http.post("/api/smes/import", content=body, headers=headers)


async def search(desk: Desk, person: tuple[Role, str] = COORDINATOR, **params: Any) -> list[dict[str, Any]]:
    response = await desk.http.get("/api/smes", params={"limit": 200, **params}, headers=desk.headers(person))
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    document: dict[str, Any] = response.json()
    assert document["status"] == status
    assert document["type"] and document["title"] and document["detail"]
    return document


# Importing ------------------------------------------------------------------------------------------------


async def test_a_manager_imports_then_reimports_and_search_shows_the_change(desk: Desk) -> None:
    name = f"Regtest {tag()}"
    ids = numbers(1, 3)
    rows = [sme(number, f"{name} {i}") for i, number in enumerate(ids)]

    first = await import_csv(desk, MANAGER, csv_of(*rows))
    assert first.status_code == 200, first.text
    assert first.json() == {"added": 3, "updated": 0}
    found = await search(desk, q=name)
    assert sorted(item["corporate_number"] for item in found) == sorted(ids)
    assert {item["prefecture"] for item in found} == {"Aichi"}  # 愛知県 in the file
    assert {item["employees"] for item in found} == {25}

    rows[1] |= {"technologies": "laser welding", "employees": "77", "consent": "no"}
    again = await import_csv(desk, MANAGER, csv_of(*rows))
    assert again.status_code == 200, again.text
    assert again.json() == {"added": 0, "updated": 3}
    (changed,) = await search(desk, q=f"{name} 1")
    assert changed["corporate_number"] == ids[1]
    assert (changed["technologies"], changed["employees"], changed["consent"]) == ("laser welding", 77, False)
    assert len(await search(desk, q=name)) == 3


async def test_search_shows_the_furigana_the_nta_publishes(desk: Desk, engine: AsyncEngine) -> None:
    name = f"Kanatest {tag()}"
    (number,) = numbers(1, 1)
    assert (await import_csv(desk, MANAGER, csv_of(sme(number, name)))).status_code == 200
    (imported,) = await search(desk, q=name)
    assert imported["name_kana"] == ""  # our CSV has no furigana
    async with engine.begin() as conn:  # as `alliance smes import-nta` stores it
        await conn.execute(update(smes).where(smes.c.id == number).values(name_kana="テストセイコウ"))
    (found,) = await search(desk, AUDITOR, q=name)
    assert found["name_kana"] == "テストセイコウ"


async def test_an_admin_may_import_too(desk: Desk) -> None:
    name = f"Regtest {tag()}"
    (number,) = numbers(2, 1)
    response = await import_csv(desk, ADMIN, csv_of(sme(number, name)))
    assert response.status_code == 200, response.text
    assert response.json() == {"added": 1, "updated": 0}
    assert [item["corporate_number"] for item in await search(desk, AUDITOR, q=name)] == [number]


async def test_one_bad_row_refuses_the_whole_file_naming_its_line_and_column(desk: Desk) -> None:
    name = f"Regtest {tag()}"
    good, bad = numbers(3, 2)
    body = csv_of(sme(good, f"{name} good"), sme(bad, f"{name} bad", prefecture="Atlantis"))
    response = await import_csv(desk, MANAGER, body)
    document = assert_problem(response, 422)
    assert document["errors"] == [
        {"line": 3, "column": "prefecture", "message": document["errors"][0]["message"]}
    ]
    assert "Atlantis" in document["errors"][0]["message"]
    assert "line 3" in document["detail"] and "nothing imported" in document["detail"]
    assert await search(desk, q=name) == []
    assert await search(desk, q=good) == []


async def test_every_problem_of_a_file_is_listed(desk: Desk) -> None:
    name = f"Regtest {tag()}"
    first, second, third = numbers(4, 3)
    body = (
        csv_of(sme(first, f"{name} 1", industries="Z"), sme(second, f"{name} 2"), sme(third, f"{name} 3",
                                                                                     employees="-3"))
        + f"{first},{name} 1 again,テスト,Aichi,,E,1,sensors,yes\n".encode()
    )
    document = assert_problem(await import_csv(desk, MANAGER, body), 422)
    assert [(e["line"], e["column"]) for e in document["errors"]] == [
        (2, "industries"), (4, "employees"), (5, "corporate_number")
    ]
    assert await search(desk, q=name) == []


async def test_line_numbers_count_blank_lines_and_a_cell_with_a_control_character_is_refused(desk: Desk) -> None:
    name = f"Regtest {tag()}"
    first, second, third = numbers(5, 3)
    header = ",".join(COLUMNS)
    # A quoted cell with a line separator (U+2028) and an unquoted one with a form feed are one line each, and
    # refused: registry fields are one line of text, as at every other door.
    lines = [
        header,
        "",
        f'{first},{name} 1,テスト,Aichi,,E,5,"sensors\u2028MEMS",yes',
        f"{second},{name} 2,テスト,Aichi,,E,5,lasers\x0coptics,yes",
        "",
        f"{third},{name} 3,テスト,Atlantis,,E,5,sensors,yes",
    ]
    body = ("\n".join(lines) + "\n").encode()
    document = assert_problem(await import_csv(desk, MANAGER, body), 422)
    assert [(e["line"], e["column"]) for e in document["errors"]] == [
        (3, "technologies"), (4, "technologies"), (6, "prefecture")
    ]
    assert "U+2028" in document["errors"][0]["message"] and "U+000C" in document["errors"][1]["message"]

    fixed = body.replace(b"Atlantis", b"Aichi").replace("\u2028".encode(), b"; ").replace(b"\x0c", b" ")
    response = await import_csv(desk, MANAGER, fixed)
    assert response.status_code == 200, response.text
    assert response.json() == {"added": 3, "updated": 0}
    technologies = {item["corporate_number"]: item["technologies"] for item in await search(desk, q=name)}
    assert technologies == {first: "sensors; MEMS", second: "lasers optics", third: "sensors"}


async def test_a_byte_order_mark_and_crlf_line_ends_are_fine(desk: Desk) -> None:
    name = f"Regtest {tag()}"
    (number,) = numbers(6, 1)
    body = b"\xef\xbb\xbf" + csv_of(sme(number, name)).replace(b"\n", b"\r\n")
    response = await import_csv(desk, MANAGER, body, "text/csv; charset=utf-8")
    assert response.status_code == 200, response.text
    assert response.json() == {"added": 1, "updated": 0}


async def test_a_registry_saved_by_excel_in_japan_is_imported_declared_or_not(desk: Desk) -> None:
    """Shift_JIS (CP932, with its NEC extensions such as ①) and CRLF line ends, as Excel in Japan saves CSV."""
    for n, content_type in enumerate(["text/csv", "text/csv; charset=Shift_JIS", "text/csv; charset=windows-31j"]):
        name = f"Regtest {tag()}"
        (number,) = numbers(7, 1)
        text = csv_of(sme(number, name, name_ja="髙橋精密工業①", city="刈谷市")).decode()
        response = await import_csv(desk, MANAGER, text.replace("\n", "\r\n").encode("cp932"), content_type)
        assert response.status_code == 200, (content_type, response.text)
        (found,) = await search(desk, q=name)
        assert (found["name_ja"], found["city"]) == ("髙橋精密工業①", "刈谷市"), n


async def test_a_file_not_in_the_encoding_it_declares_or_in_none_is_refused_naming_the_line(desk: Desk) -> None:
    name = f"Regtest {tag()}"
    first, second = numbers(7, 2)
    text = csv_of(sme(first, name, name_ja="Test Seiko", prefecture="Aichi"), sme(second, name)).decode()
    declared = assert_problem(await import_csv(desk, MANAGER, text.encode("cp932"), "text/csv; charset=utf-8"), 422)
    assert "line 3" in declared["detail"] and "UTF-8" in declared["detail"]
    assert [e["line"] for e in declared["errors"]] == [3]
    neither = assert_problem(await import_csv(desk, MANAGER, text.encode("utf-16")), 422)
    assert "line 1" in neither["detail"] and "UTF-8" in neither["detail"]
    unknown = assert_problem(await import_csv(desk, MANAGER, text.encode(), "text/csv; charset=ebcdic"), 422)
    assert "ebcdic" in unknown["detail"] and "Shift_JIS" in unknown["detail"]
    assert await search(desk, q=name) == []


async def test_empty_and_nul_files_are_refused(desk: Desk) -> None:
    empty = assert_problem(await import_csv(desk, MANAGER, b""), 422)
    assert empty["errors"] == [{"line": 1, "column": None, "message": empty["errors"][0]["message"]}]
    header_only = assert_problem(await import_csv(desk, MANAGER, csv_of()), 422)
    assert [(e["line"], e["column"]) for e in header_only["errors"]] == [(2, None)]
    (number,) = numbers(8, 1)
    nul = assert_problem(await import_csv(desk, MANAGER, csv_of(sme(number, "Nul\x00 Works"))), 422)
    assert "NUL" in nul["detail"]
    assert await search(desk, q=number) == []


async def test_a_header_problem_is_on_line_1(desk: Desk) -> None:
    (number,) = numbers(13, 1)
    body = f"corporate_number,name,colour\n{number},Regtest {tag()},blue\n".encode()
    document = assert_problem(await import_csv(desk, MANAGER, body), 422)
    assert {e["line"] for e in document["errors"]} == {1}
    assert {"colour", "prefecture", "technologies"} <= {e["column"] for e in document["errors"]}


async def test_only_csv_is_taken(desk: Desk) -> None:
    (number,) = numbers(9, 1)
    body = csv_of(sme(number, f"Regtest {tag()}"))
    document = assert_problem(await import_csv(desk, MANAGER, body, "application/json"), 415)
    assert "text/csv" in document["detail"]
    assert await search(desk, q=number) == []


async def test_the_import_takes_bodies_larger_than_other_requests(desk: Desk, settings: Settings) -> None:
    # Bigger than any other request may be, yet a file the import reads (and refuses for its content).
    body = b"corporate_number,name\n" + b"x" * (settings.max_body_bytes + 1) + b",y\n"
    assert settings.max_body_bytes < len(body) < settings.max_import_bytes
    assert_problem(await import_csv(desk, MANAGER, body), 422)


@pytest.fixture
async def small_import_app(
    desk: Desk, settings: Settings, engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession], temporal: Client
) -> AsyncIterator[httpx.AsyncClient]:
    """The app again, configured to take imports of at most 1 KiB."""
    small = settings.model_copy(update={"max_import_bytes": 1024})
    app = create_app(Services(small, engine, sessions, temporal))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://desk") as client:
        yield client


async def test_a_file_over_the_import_limit_is_refused_with_413(
    desk: Desk, small_import_app: httpx.AsyncClient
) -> None:
    name = f"Regtest {tag()}"
    rows = [sme(number, f"{name} {i}") for i, number in enumerate(numbers(10, 20))]
    body = csv_of(*rows)
    assert len(body) > 1024
    headers = {**desk.headers(MANAGER), "content-type": "text/csv"}
    response = await small_import_app.post("/api/smes/import", content=body, headers=headers)
    document = assert_problem(response, 413)
    assert "1024" in document["detail"]
    assert await search(desk, q=name) == []
    # A file under the limit still goes in.
    fits = await small_import_app.post("/api/smes/import", content=csv_of(rows[0]), headers=headers)
    assert fits.status_code == 200, fits.text


# Who may ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("person", [APPLICANT, OFFICER, COORDINATOR, FUND_MEMBER, AUDITOR],
                         ids=["applicant", "officer", "coordinator", "fund committee", "auditor"])
async def test_only_managers_and_admins_import(desk: Desk, person: tuple[Role, str]) -> None:
    name = f"Regtest {tag()}"
    (number,) = numbers(11, 1)
    document = assert_problem(await import_csv(desk, person, csv_of(sme(number, name))), 403)
    assert document["type"] == "urn:case-desk:forbidden"
    assert await search(desk, q=name) == []


async def test_an_applicant_may_not_search_the_registry(desk: Desk) -> None:
    response = await desk.http.get("/api/smes", params={"q": "Aichi"}, headers=desk.headers(APPLICANT))
    document = assert_problem(response, 403)
    assert document["type"] == "urn:case-desk:forbidden"
    assert "items" not in document


async def test_searching_needs_a_token(desk: Desk) -> None:
    assert_problem(await desk.http.get("/api/smes"), 401)
    assert_problem(await desk.http.post("/api/smes/import", content=b"x", headers={"content-type": "text/csv"}), 401)


# Searching ------------------------------------------------------------------------------------------------


@pytest.fixture
async def own_smes(desk: Desk) -> dict[str, Any]:
    """Three SMEs of this test: an Aichi sensor maker, a Hokkaido builder (no consent), an Osaka software house."""
    name = f"Regtest {tag()}"
    katakana = "".join("アイウエオカキクケコサシスセソタ"[int(c, 16)] for c in tag())  # a Japanese name of its own
    aichi, hokkaido, osaka = numbers(12, 3)
    rows = [
        sme(aichi, f"{name} Aichi", name_ja=f"計測{katakana}工業", technologies="ultrasonic sensors; MEMS"),
        sme(hokkaido, f"{name} Hokkaido", prefecture="Hokkaido", industries="D", technologies="timber frames",
            consent="no"),
        sme(osaka, f"{name} Osaka", prefecture="大阪府", industries="G;E", technologies="control software"),
    ]
    response = await import_csv(desk, MANAGER, csv_of(*rows))
    assert response.status_code == 200, response.text
    return {"name": name, "aichi": aichi, "hokkaido": hokkaido, "osaka": osaka, "katakana": katakana}


def ids(items: list[dict[str, Any]]) -> list[str]:
    return [item["corporate_number"] for item in items]


async def test_search_by_prefecture(desk: Desk, own_smes: dict[str, Any]) -> None:
    found = await search(desk, prefecture="Aichi")
    assert {item["prefecture"] for item in found} == {"Aichi"}
    assert {"1010001000006", own_smes["aichi"]} <= set(ids(found))
    assert ids(await search(desk, prefecture="Osaka", q=own_smes["name"])) == [own_smes["osaka"]]


async def test_search_by_technology(desk: Desk, own_smes: dict[str, Any]) -> None:
    found = await search(desk, technology="sensors")
    assert found and all("sensor" in item["technologies"].lower() for item in found)
    with_sensors = {sme[0] for sme in DEMO_SMES if "sensor" in sme[7]}
    assert with_sensors | {own_smes["aichi"]} <= set(ids(found))
    assert not {sme[0] for sme in DEMO_SMES if "sensor" not in sme[7]} & set(ids(found))
    assert ids(await search(desk, technology="sensors", q=own_smes["name"])) == [own_smes["aichi"]]


async def test_search_by_industry(desk: Desk, own_smes: dict[str, Any]) -> None:
    found = await search(desk, industry="E")
    assert all("E" in item["industries"] for item in found)
    assert set(DEMO_IDS) <= set(ids(found))
    assert sorted(ids(await search(desk, industry="E", q=own_smes["name"]))) == sorted(
        [own_smes["aichi"], own_smes["osaka"]]
    )
    assert ids(await search(desk, industry="D", q=own_smes["name"])) == [own_smes["hokkaido"]]


async def test_search_by_consent(desk: Desk, own_smes: dict[str, Any]) -> None:
    refused = await search(desk, consent="false")
    assert all(item["consent"] is False for item in refused)
    assert own_smes["hokkaido"] in ids(refused)
    assert not set(DEMO_IDS) & set(ids(refused))
    assert sorted(ids(await search(desk, consent="true", q=own_smes["name"]))) == sorted(
        [own_smes["aichi"], own_smes["osaka"]]
    )


async def test_search_by_name_in_japanese_or_english_and_by_number(desk: Desk, own_smes: dict[str, Any]) -> None:
    found = await search(desk, q="精密")
    assert "1010001000006" in ids(found)  # 愛知精密工業
    assert all("精密" in item["name_ja"] or "精密" in item["name"] for item in found)
    assert ids(await search(desk, q=own_smes["katakana"])) == [own_smes["aichi"]]
    assert ids(await search(desk, q=own_smes["name"].upper() + " hokkaido")) == [own_smes["hokkaido"]]
    (osaka,) = await search(desk, q="1010001000014")
    assert (osaka["corporate_number"], osaka["name"], osaka["name_ja"]) == (
        "1010001000014", "Osaka Sensor Labs", "大阪センサー研究所"
    )
    (own,) = await search(desk, q=own_smes["osaka"])
    assert own["prefecture"] == "Osaka" and own["industries"] == ["E", "G"]


async def test_search_wildcards_are_taken_literally(desk: Desk) -> None:
    assert await search(desk, q="%") == []
    assert await search(desk, q="_" * 30) == []


async def test_paging_walks_every_demo_sme_exactly_once(desk: Desk) -> None:
    seen: list[str] = []
    cursor: str | None = None
    last_demo = max(DEMO_IDS)
    while True:
        params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        response = await desk.http.get("/api/smes", params=params, headers=desk.headers(COORDINATOR))
        assert response.status_code == 200, response.text
        page = response.json()
        assert 1 <= len(page["items"]) <= 2
        seen += ids(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert cursor == seen[-1]
        if cursor >= last_demo:  # past every demo SME; the rest of the registry belongs to other tests
            break
    assert seen == sorted(seen) and len(seen) == len(set(seen))
    assert [number for number in seen if number in DEMO_IDS] == sorted(DEMO_IDS)


@pytest.mark.parametrize(
    ("params", "parameter"),
    [({"prefecture": "Atlantis"}, "prefecture"), ({"industry": "Z"}, "industry"), ({"limit": 0}, "limit"),
     ({"limit": 201}, "limit"), ({"consent": "perhaps"}, "consent"), ({"q": "a\x00b"}, "q")],
)
async def test_a_bad_search_parameter_is_a_problem_naming_it(
    desk: Desk, params: dict[str, Any], parameter: str
) -> None:
    response = await desk.http.get("/api/smes", params=params, headers=desk.headers(COORDINATOR))
    document = assert_problem(response, 422)
    assert [error["loc"] for error in document["errors"]] == [["query", parameter]]
    assert parameter in document["detail"]
