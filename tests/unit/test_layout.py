"""The shape of the test suite: tests by level in unit/, integration/ and e2e/, shared material in helpers/.

unit/ starts nothing (no PostgreSQL, no Temporal server, no process, no HTTP); integration/ runs our code
against real PostgreSQL and/or a Temporal test server; e2e/ drives the product from outside (HTTP through
the real app, the browser, real `alliance` processes and clusters). Scenarios, people and clients live in
tests/helpers, so no test module imports another.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
LEVELS = ("unit", "integration", "e2e")
# Fixtures of tests/conftest.py that start a server (or need one): a unit test reaches none of them.
SERVER_FIXTURES = frozenset({"postgres_server", "empty_database", "migrated_template", "migrated_database", "engine",
                             "sessions", "tokens", "dev_server", "env", "temporal", "http", "desk", "mail_sink"})


def is_test_module(path: Path) -> bool:
    """pytest's default `python_files`: test_*.py and *_test.py."""
    return path.suffix == ".py" and (path.name.startswith("test_") or path.stem.endswith("_test"))


def imports_of_test_modules(source: str, package: str) -> list[str]:
    """The test modules (and names in them) that `source`, a module of `package`, imports anywhere, also inside
    a function; relative imports are resolved, and `from package import test_x` counts as importing test_x."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join([*parts[: len(parts) - node.level + 1], *([base] if base else [])])
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return sorted(name for name in found if any(part.startswith("test_") for part in name.split(".")))


def package_of(path: Path) -> str:
    return ".".join(path.relative_to(TESTS.parent).parts[:-1])


def test_no_module_imports_a_test_module() -> None:
    offenders = {str(path.relative_to(TESTS)): imported for path in sorted(TESTS.rglob("*.py"))
                 if (imported := imports_of_test_modules(path.read_text(), package_of(path)))}
    assert offenders == {}, "move what they share into tests/helpers"


def test_the_import_check_sees_every_form_of_import() -> None:
    source = (
        "from tests.e2e.test_lifecycle import assert_chain_intact\n"
        "from tests.e2e import test_refusals\n"
        "from .test_visibility import EVERYONE\n"
        "import tests.unit.test_calendar\n"
        "def later() -> None:\n"
        "    from . import test_slice\n"
        "    from ..unit.test_settings import ROOT\n"
        "from tests.helpers.scenarios import to_matching\n"
        "from tests.helpers import people\n"
        "import pytest\n"
    )
    assert imports_of_test_modules(source, "tests.e2e") == [
        "tests.e2e.test_lifecycle.assert_chain_intact", "tests.e2e.test_refusals", "tests.e2e.test_slice",
        "tests.e2e.test_visibility.EVERYONE", "tests.unit.test_calendar", "tests.unit.test_settings.ROOT",
    ]


def test_every_test_module_lives_in_a_level() -> None:
    misplaced = [str(path.relative_to(TESTS)) for path in sorted(TESTS.rglob("*.py"))
                 if is_test_module(path) and path.relative_to(TESTS).parts[0] not in LEVELS]
    assert misplaced == [], f"move them into one of tests/{{{','.join(LEVELS)}}}/"


@pytest.mark.parametrize("folder", [*LEVELS, "helpers"])
def test_each_folder_is_a_package(folder: str) -> None:
    """Modules are imported as tests.<level>.<name>: two levels may hold modules of the same name."""
    assert (TESTS / folder / "__init__.py").is_file()


def test_unit_tests_start_no_server(request: pytest.FixtureRequest) -> None:
    """Of the tests collected in this run, none in unit/ reaches a fixture that starts a server."""
    unit = TESTS / "unit"
    reaching = {item.nodeid: sorted(SERVER_FIXTURES.intersection(getattr(item, "fixturenames", ())))
                for item in request.session.items if Path(item.path).resolve().is_relative_to(unit)}
    assert {nodeid: fixtures for nodeid, fixtures in reaching.items() if fixtures} == {}
