"""Settings: defaults that run the embedded stack, environment overrides, refusals of nonsense."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import pytest
from pydantic import ValidationError

from app.cli_support import settings_problem
from infra.checkpoint_url import checkpoint_url_problem
from infra.settings import Settings


def test_defaults_use_the_embedded_stack(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("DATABASE_URL", "TEMPORAL_ADDRESS", "API_PORT", "DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no embedded PostgreSQL runs here: its address is TCP until one does
    settings = Settings(_env_file=None)
    assert settings.uses_embedded_database and settings.uses_embedded_temporal
    assert settings.effective_database_url == "postgresql+asyncpg://postgres@127.0.0.1:55432/alliance"
    assert settings.effective_temporal_address == "127.0.0.1:7233"
    assert (settings.api_port, settings.temporal_ui_port) == (8000, 8233)
    assert settings.data_dir == Path(".alliance")


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://u@db.internal:5432/desk")
    monkeypatch.setenv("TEMPORAL_ADDRESS", "temporal.internal:7233")
    monkeypatch.setenv("LOG_FORMAT", "json")
    settings = Settings(_env_file=None)
    assert not settings.uses_embedded_database and not settings.uses_embedded_temporal
    assert settings.effective_database_url.endswith("@db.internal:5432/desk")
    assert settings.effective_temporal_address == "temporal.internal:7233"
    assert settings.log_format == "json"


@pytest.mark.parametrize(
    ("name", "value"), [("API_PORT", "0"), ("API_PORT", "70000"), ("LOG_FORMAT", "xml"), ("DB_POOL_SIZE", "0")]
)
def test_nonsense_is_refused_with_the_setting_named(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError) as refused:
        Settings(_env_file=None)
    assert name.lower() in str(refused.value)


def test_a_pool_of_one_connection_is_refused_naming_both_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DB_POOL_SIZE", "1")
    monkeypatch.setenv("DB_MAX_OVERFLOW", "0")
    with pytest.raises(ValidationError, match=r"DB_POOL_SIZE \+ DB_MAX_OVERFLOW must be at least 2.*not 1 \+ 0"):
        Settings(_env_file=None)
    monkeypatch.setenv("DB_MAX_OVERFLOW", "1")
    assert Settings(_env_file=None).db_max_overflow == 1


def test_every_setting_is_documented_in_the_readme() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    missing = [name.upper() for name in Settings.model_fields if f"`{name.upper()}`" not in readme]
    assert missing == []


def test_production_refuses_the_development_pepper(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.delenv("TOKEN_PEPPER", raising=False)
    with pytest.raises(ValidationError, match="TOKEN_PEPPER"):
        Settings(_env_file=None)
    monkeypatch.setenv("TOKEN_PEPPER", secrets.token_hex(32))
    monkeypatch.setenv("AUDIT_SIGNING_KEY", os.urandom(32).hex())
    assert Settings(_env_file=None).environment == "production"


def test_production_refuses_to_run_without_an_audit_signing_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("TOKEN_PEPPER", secrets.token_hex(32))
    monkeypatch.delenv("AUDIT_SIGNING_KEY", raising=False)
    with pytest.raises(ValidationError, match="AUDIT_SIGNING_KEY must be set in production"):
        Settings(_env_file=None)


@pytest.mark.parametrize(("key", "why"), [
    ("not-hex", "64 hex characters"), ("ab" * 16, "64 hex characters, not 32"),
    ("00" * 32, "too regular"), ("0123456789abcdef" * 4, "too regular"),
])
def test_a_malformed_or_weak_audit_key_is_refused(monkeypatch: pytest.MonkeyPatch, key: str, why: str) -> None:
    monkeypatch.setenv("AUDIT_SIGNING_KEY", key)
    with pytest.raises(ValidationError, match=why):
        Settings(_env_file=None)


def test_development_signs_with_a_stable_key_derived_from_the_pepper(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AUDIT_SIGNING_KEY", raising=False)
    monkeypatch.delenv("AUDIT_VERIFYING_KEYS", raising=False)
    one, two = Settings(_env_file=None, token_pepper="p1"), Settings(_env_file=None, token_pepper="p1")
    assert one.audit_keys.signer.key_id == two.audit_keys.signer.key_id
    assert Settings(_env_file=None, token_pepper="p2").audit_keys.signer.key_id != one.audit_keys.signer.key_id
    assert list(one.audit_keys.keyring.keys) == [one.audit_keys.signer.key_id]


def test_rotation_keeps_the_earlier_public_keys_verifying(monkeypatch: pytest.MonkeyPatch) -> None:
    old = Settings(_env_file=None, audit_signing_key=os.urandom(32).hex()).audit_keys
    (published,) = old.keyring.published()
    monkeypatch.setenv("AUDIT_SIGNING_KEY", os.urandom(32).hex())
    monkeypatch.setenv("AUDIT_VERIFYING_KEYS", published["public_key"])
    new = Settings(_env_file=None).audit_keys
    assert new.signer.key_id != old.signer.key_id
    assert set(new.keyring.keys) == {new.signer.key_id, old.signer.key_id}
    monkeypatch.setenv("AUDIT_VERIFYING_KEYS", "abc")
    with pytest.raises(ValidationError, match="AUDIT_VERIFYING_KEYS"):
        Settings(_env_file=None)


@pytest.mark.parametrize("sender", ["nobody", "Desk <desk@example.org>\r\nBcc: x@attacker.example",
                                    "Desk <d@exa..mple>"])
def test_a_sender_every_message_would_fail_with_is_refused_at_start(sender: str) -> None:
    """Issue 17: a wrong MAIL_FROM would make every message undeliverable and tell every case so."""
    with pytest.raises(ValidationError, match="MAIL_FROM"):
        Settings(_env_file=None, mail_from=sender)
    assert Settings(_env_file=None, mail_from="Case Desk <desk@例え.jp>").mail_from.endswith("例え.jp>")


@pytest.mark.parametrize("separator", ["/", "#", "?"])
def test_a_refused_checkpoint_url_is_not_quoted_back_with_its_password(separator: str) -> None:
    """httpx reads a password holding an unencoded '/', '#' or '?' as a port and quotes it in its error: the
    refusal at start says what is wrong without quoting any part of the URL."""
    url = f"https://archive:s3cr3t{separator}part@archive.example.org/cp/{{id}}"
    with pytest.raises(ValidationError) as refused:
        Settings(_env_file=None, audit_checkpoint_url=url)
    said = settings_problem(refused.value)
    assert "AUDIT_CHECKPOINT_URL" in said and "percent-encoded" in said
    assert "s3cr3t" not in said


@pytest.mark.parametrize("url", ["https://xn--a.com/cp", "https://archive.example.org:{id}/cp",
                                 "https://{id}.example.org/cp"])
def test_a_checkpoint_url_with_a_bad_host_or_an_id_outside_its_path_is_refused_with_a_reason(url: str) -> None:
    assert checkpoint_url_problem(url) is not None


def test_an_id_in_the_query_of_a_checkpoint_url_is_taken() -> None:
    assert checkpoint_url_problem("https://archive.example.org?checkpoint={id}") is None
