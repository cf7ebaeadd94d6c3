"""Production settings turn into the right Temporal, database and worker options, checked without a server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError
from sqlalchemy.pool import QueuePool
from temporalio.service import TLSConfig

from app.bootstrap import open_temporal, worker_tuning
from infra.db import create_engine
from infra.settings import Settings
from infra.startup import StartupError
from infra.temporal import connect_options
from workers import case_worker
from workers.case_worker import WorkerTuning

ADDRESS = "case-desk.a1b2c.tmprl.cloud:7233"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only what a test says counts, not whatever the shell running pytest happens to export."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)


def settings(**fields: Any) -> Settings:
    return Settings(_env_file=None, **fields)


def pem(tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    path.write_bytes(f"-----BEGIN {name}-----\n-----END {name}-----\n".encode())
    return path


def test_plain_connection_by_default() -> None:
    options = connect_options(settings(temporal_address="temporal:7233", temporal_namespace="desk"))
    assert options == {"namespace": "desk", "api_key": None, "tls": False}


def test_tls_with_the_system_roots() -> None:
    options = connect_options(settings(temporal_address=ADDRESS, temporal_tls=True))
    assert options["tls"] is True


def test_tls_files_are_read(tmp_path: Path) -> None:
    cert, key, ca = pem(tmp_path, "cert"), pem(tmp_path, "key"), pem(tmp_path, "ca")
    options = connect_options(
        settings(
            temporal_address=ADDRESS,
            temporal_tls_cert=cert,
            temporal_tls_key=key,
            temporal_tls_ca=ca,
            temporal_tls_server_name="temporal.internal",
        )
    )
    assert options["tls"] == TLSConfig(
        client_cert=cert.read_bytes(),
        client_private_key=key.read_bytes(),
        server_root_ca_cert=ca.read_bytes(),
        domain="temporal.internal",
    )
    assert options["api_key"] is None


def test_a_ca_alone_is_tls_without_a_client_certificate(tmp_path: Path) -> None:
    ca = pem(tmp_path, "ca")
    options = connect_options(settings(temporal_address=ADDRESS, temporal_tls_ca=ca))
    assert options["tls"] == TLSConfig(server_root_ca_cert=ca.read_bytes())


def test_api_key_implies_tls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEMPORAL_ADDRESS", ADDRESS)
    monkeypatch.setenv("TEMPORAL_API_KEY", "cloud-key")
    options = connect_options(Settings(_env_file=None))
    assert options["api_key"] == "cloud-key"
    assert options["tls"] is True


def test_an_empty_api_key_is_no_api_key() -> None:
    options = connect_options(settings(temporal_address=ADDRESS, temporal_api_key=SecretStr("")))
    assert (options["api_key"], options["tls"]) == (None, False)


def test_the_embedded_dev_server_is_always_plain(tmp_path: Path) -> None:
    options = connect_options(settings(temporal_api_key=SecretStr("cloud-key"), temporal_tls_ca=tmp_path / "nope"))
    assert (options["api_key"], options["tls"]) == (None, False)


@pytest.mark.parametrize(("given", "missing"), [("TEMPORAL_TLS_CERT", "TEMPORAL_TLS_KEY"),
                                                 ("TEMPORAL_TLS_KEY", "TEMPORAL_TLS_CERT")])
def test_half_a_key_pair_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, given: str, missing: str
) -> None:
    monkeypatch.setenv(given, str(pem(tmp_path, "half")))
    with pytest.raises(ValidationError, match="TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY go together") as refused:
        Settings(_env_file=None)
    assert missing in str(refused.value)


@pytest.mark.parametrize("setting", ["TEMPORAL_TLS_CERT", "TEMPORAL_TLS_KEY", "TEMPORAL_TLS_CA"])
def test_a_missing_file_is_refused_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, setting: str
) -> None:
    monkeypatch.setenv("TEMPORAL_ADDRESS", ADDRESS)
    for name in ("TEMPORAL_TLS_CERT", "TEMPORAL_TLS_KEY", "TEMPORAL_TLS_CA"):
        monkeypatch.setenv(name, str(pem(tmp_path, name)))
    monkeypatch.setenv(setting, str(tmp_path / "not-there.pem"))
    with pytest.raises(StartupError, match=rf"^{setting}: cannot read .*not-there\.pem: No such file"):
        connect_options(Settings(_env_file=None))


async def test_start_up_reports_the_missing_file_not_an_unreachable_server(tmp_path: Path) -> None:
    missing = tmp_path / "ca.pem"
    with pytest.raises(StartupError, match=r"^TEMPORAL_TLS_CA: cannot read"):
        await open_temporal(settings(temporal_address=ADDRESS, temporal_tls_ca=missing))


def test_pool_settings_reach_the_engine() -> None:
    engine = create_engine(
        settings(database_url="postgresql+asyncpg://u@db.internal/desk", db_pool_timeout=7.5, db_pool_recycle=600)
    )
    pool = engine.sync_engine.pool
    assert isinstance(pool, QueuePool)
    assert (pool.timeout(), pool._recycle) == (7.5, 600)
    engine.sync_engine.dispose()


def test_pool_recycle_zero_means_never() -> None:
    engine = create_engine(settings(database_url="postgresql+asyncpg://u@db.internal/desk", db_pool_recycle=0))
    assert engine.sync_engine.pool._recycle == -1  # SQLAlchemy's "never"; 0 would replace every connection
    engine.sync_engine.dispose()


@pytest.mark.parametrize(
    ("name", "value"),
    [("DB_POOL_TIMEOUT", "0"), ("DB_POOL_RECYCLE", "-5"), ("WORKER_MAX_CONCURRENT_ACTIVITIES", "0"),
     ("WORKER_MAX_CONCURRENT_WORKFLOW_TASKS", "1"), ("WORKER_MAX_CACHED_WORKFLOWS", "-1")],
)
def test_nonsense_tuning_is_refused(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match=name.lower()):
        Settings(_env_file=None)


def test_worker_tuning_defaults_are_the_settings_defaults() -> None:
    assert worker_tuning(settings()) == WorkerTuning()


def test_worker_tuning_reaches_the_temporal_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    def fake_worker(*args: Any, **kwargs: Any) -> dict[str, Any]:
        seen.update(kwargs)
        return kwargs

    monkeypatch.setattr(case_worker, "Worker", fake_worker)
    monkeypatch.setenv("WORKER_MAX_CONCURRENT_ACTIVITIES", "7")
    monkeypatch.setenv("WORKER_MAX_CONCURRENT_WORKFLOW_TASKS", "5")
    monkeypatch.setenv("WORKER_MAX_CACHED_WORKFLOWS", "0")
    tuning = worker_tuning(Settings(_env_file=None))
    case_worker.build_worker(None, "q", None, keys=settings().audit_keys, tuning=tuning)  # type: ignore[arg-type]
    assert (seen["max_concurrent_activities"], seen["max_concurrent_workflow_tasks"], seen["max_cached_workflows"]) == (
        7, 5, 0,
    )
    case_worker.build_worker(None, "q", None, keys=settings().audit_keys)  # type: ignore[arg-type]
    assert (seen["max_concurrent_activities"], seen["max_concurrent_workflow_tasks"], seen["max_cached_workflows"]) == (
        100, 100, 1000,
    )
