"""Issue 19, seen 4: production refuses a guessable TOKEN_PEPPER with one line naming it, and takes a random one."""

from __future__ import annotations

import base64
import os
import secrets

import pytest
from pydantic import SecretStr, ValidationError

from app.cli_support import settings_problem
from infra.pepper import DEV_PEPPER, MIN_PEPPER_BITS, estimated_bits, weak_pepper_reason
from infra.settings import Settings

WEAK = {
    "empty": "",
    "one letter": "x",
    "the deployment example's placeholder": "CHANGE-ME-to-a-long-random-secret",
    "the development value": DEV_PEPPER,
    "the development value plus a space": DEV_PEPPER + " ",
    "the development value, shouted, inside spaces": f"  {DEV_PEPPER.upper()}\n",
    "the development value inside a longer one": f"{secrets.token_hex(32)}{DEV_PEPPER}",
    "long but one letter": "x" * 64,
    "long but two letters": "ab" * 40,
    "a sentence": "correct horse battery staple and more words",
    "random hex with a newline": secrets.token_hex(32) + "\n",
    "random but short": secrets.token_hex(15),
    "one hex unit repeated": "0123456789abcdef" * 4,
    "the alphabet twice": "abcdefghijklmnopqrstuvwxyz" * 2,
    "digits and letters in order": "0123456789abcdefghijklmnopqrstuvwxyz",
    "a keyboard walk repeated": "q1w2e3r4t5y6u7i8o9p0" * 3,
    "a short random unit repeated": secrets.token_hex(6) * 6,
    "the placeholder with underscores and digits": "change_me_0123456789012345678901234567890",
    "the placeholder with digits appended": "CHANGE-ME-to-a-long-random-secret" + "1234567890" * 3,
}
STRONG = {
    "openssl rand -hex 32": secrets.token_hex(32),
    "openssl rand -base64 32": base64.b64encode(secrets.token_bytes(32)).decode(),
    "token_urlsafe(32)": secrets.token_urlsafe(32),
}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)


@pytest.mark.parametrize("pepper", WEAK.values(), ids=WEAK.keys())
def test_production_refuses_a_weak_pepper_in_one_line_naming_it(pepper: str) -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(_env_file=None, environment="production", token_pepper=SecretStr(pepper))
    line = settings_problem(refused.value)
    assert "\n" not in line and line.startswith("TOKEN_PEPPER "), line
    assert len(pepper.strip()) < 8 or pepper.strip() not in line, "the refusal must not repeat the secret"


def test_production_refuses_the_unset_pepper(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    with pytest.raises(ValidationError, match="TOKEN_PEPPER is the development value"):
        Settings(_env_file=None)


@pytest.mark.parametrize("pepper", STRONG.values(), ids=STRONG.keys())
def test_production_takes_random_material(pepper: str) -> None:
    assert weak_pepper_reason(pepper) is None
    settings = Settings(_env_file=None, environment="production", token_pepper=SecretStr(pepper),
                        audit_signing_key=SecretStr(os.urandom(32).hex()))
    assert settings.token_pepper.get_secret_value() == pepper


def test_development_keeps_its_public_pepper() -> None:
    assert Settings(_env_file=None).token_pepper.get_secret_value() == DEV_PEPPER


def test_the_estimate_tells_random_from_repetitive() -> None:
    assert estimated_bits("") == 0 and estimated_bits("x" * 100) == 0
    assert estimated_bits("ab" * 40) == 2, "a repeated unit counts once"
    assert estimated_bits("abcdefghijklmnopqrstuvwxyz") == 0, "steps of one say nothing"
    assert min(estimated_bits(secrets.token_hex(32)) for _ in range(200)) > MIN_PEPPER_BITS + 40
    assert min(estimated_bits(secrets.token_urlsafe(32)) for _ in range(200)) > MIN_PEPPER_BITS + 15
