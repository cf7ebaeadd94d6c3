"""One settings class for the whole product; every field is documented in the README's settings table."""

from __future__ import annotations

import hashlib
from email.utils import parseaddr
from functools import cached_property
from pathlib import Path
from typing import Literal

import structlog
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from domain.matching import MatchWeights
from domain.model import Stage
from domain.signing import AuditKeys, Keyring, Signer, public_key
from infra.audit_signing_key import DEV_AUDIT_KEY_CONTEXT, signing_seed
from infra.checkpoint_url import checkpoint_url_problem
from infra.embedded_database import EMBEDDED_DATABASE, embedded_postgres_url
from infra.pepper import DEV_PEPPER, weak_pepper_reason

__all__ = ["DEV_PEPPER", "Settings"]

log = structlog.get_logger(__name__)


class Settings(BaseSettings):
    """Read from the environment (and `.env`); names are the upper-case field names."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    data_dir: Path = Field(Path(".alliance"), description="Where the embedded stack keeps its state.")
    database_url: str | None = Field(
        None,
        description="PostgreSQL URL (postgresql+asyncpg://...). Unset: the embedded PostgreSQL is used.",
    )
    db_pool_size: int = Field(10, ge=1, description="Connections kept open per process.")
    db_max_overflow: int = Field(10, ge=0, description="Extra connections allowed under load.")
    db_pool_timeout: float = Field(
        30, gt=0, description="Seconds a request waits for a free pooled connection before failing."
    )
    db_pool_recycle: int = Field(
        1800,
        ge=0,
        description="Seconds after which a pooled connection is replaced (stay below proxy idle cut-offs); 0: never.",
    )
    embedded_postgres_port: int = Field(
        55432, ge=1, le=65535, description="Port of the embedded PostgreSQL on 127.0.0.1."
    )
    temporal_address: str | None = Field(
        None, description="Temporal frontend host:port. Unset: the embedded dev server is started."
    )
    temporal_namespace: str = Field("default", description="Temporal namespace.")
    temporal_task_queue: str = Field("case-desk", description="Task queue of the case workers.")
    temporal_port: int = Field(7233, ge=1, le=65535, description="Port of the embedded Temporal dev server.")
    temporal_ui_port: int = Field(8233, ge=1, le=65535, description="Port of the embedded Temporal web UI.")
    temporal_tls: bool = Field(
        False, description="Talk TLS to Temporal (system CA roots unless TEMPORAL_TLS_CA); implied by the TLS files."
    )
    temporal_tls_cert: Path | None = Field(None, description="Client certificate (PEM file) for mutual TLS.")
    temporal_tls_key: Path | None = Field(None, description="Private key (PEM file) of TEMPORAL_TLS_CERT.")
    temporal_tls_ca: Path | None = Field(
        None, description="CA (PEM file) the Temporal server's certificate is checked against."
    )
    temporal_tls_server_name: str | None = Field(
        None, description="Name expected in the server's certificate (SNI), when it differs from the address."
    )
    temporal_api_key: SecretStr | None = Field(None, description="Temporal Cloud API key; implies TLS.")
    run_workers: int = Field(
        1, ge=1, le=16,
        description="Case worker processes `alliance run` starts, each in a process of its own (more for more cores).",
    )
    worker_max_concurrent_activities: int = Field(100, ge=1, description="Activities one worker runs at once.")
    worker_max_concurrent_workflow_tasks: int = Field(
        100, ge=2, description="Workflow tasks one worker runs at once (Temporal needs at least 2)."
    )
    worker_max_cached_workflows: int = Field(
        1000, ge=0, description="Workflows one worker keeps in memory (sticky cache); 0: replay every task."
    )
    api_host: str = Field("127.0.0.1", description="Address the API and console listen on.")
    api_port: int = Field(8000, ge=1, le=65535, description="Port the API and console listen on.")
    log_format: Literal["console", "json"] = Field("console", description="`console` in dev, `json` in prod.")
    log_level: str = Field("INFO", description="Lowest level logged.")
    log_max_line_bytes: int = Field(
        16 * 1024,
        ge=2048,
        description="Longest log line (bytes, either format): longer values and tracebacks are cut, saying so.",
    )
    worker_metrics_address: str | None = Field(
        None, description="host:port where a worker serves the Temporal SDK's Prometheus metrics; unset: off."
    )
    otel_exporter_otlp_endpoint: str | None = Field(
        None, description="OTLP/HTTP collector traces go to (e.g. http://collector:4318); unset: no tracing."
    )
    otel_service_name: str = Field("case-desk", description="Service name on every span.")
    token_pepper: SecretStr = Field(
        SecretStr(DEV_PEPPER),
        description="Secret mixed into token hashes; set your own outside development.",
    )
    sla_screening_days: int = Field(5, ge=1, description="Business days JETRO has to screen a case.")
    sla_applicant_answer_days: int = Field(20, ge=1, description="Business days an applicant has to answer.")
    sla_office_review_days: int = Field(10, ge=1, description="Business days the offices have to review.")
    sla_matching_days: int = Field(15, ge=1, description="Business days the lead office has for matching.")
    sla_investment_decision_days: int = Field(20, ge=1, description="Business days the Fund has to decide.")
    smtp_host: str | None = Field(
        None, description="SMTP server for notifications. Unset: `alliance run` starts a local mail sink."
    )
    smtp_port: int = Field(8025, ge=1, le=65535, description="SMTP port (also the local mail sink's).")
    smtp_username: str | None = Field(None, description="SMTP login, if the server wants one.")
    smtp_password: SecretStr | None = Field(None, description="SMTP password.")
    smtp_starttls: bool = Field(False, description="Upgrade the SMTP connection with STARTTLS.")
    smtp_utf8: bool = Field(
        False,
        description="The SMTP server takes SMTPUTF8 (RFC 6531): e-mail addresses with a non-ASCII part before the @ "
        "are accepted at the door. False: such addresses are refused with 422.",
    )
    mail_from: str = Field("Global Alliance Case Desk <case-desk@localhost>", description="Sender of notifications.")

    @field_validator("audit_checkpoint_url")
    @classmethod
    def _a_web_address(cls, value: str | None) -> str | None:
        """Refused at start, in one line: a checkpoint sent nowhere would only show at the first checkpoint."""
        if not value:
            return None
        problem = checkpoint_url_problem(value)
        if problem is not None:
            raise ValueError(f"AUDIT_CHECKPOINT_URL must be an http:// or https:// URL with a host, e.g. "
                             f"`https://archive.example.org/checkpoints/{{id}}`: {problem}")
        return value

    @field_validator("mail_from")
    @classmethod
    def _a_sender(cls, value: str) -> str:
        """A wrong sender would make every message fail for good: refuse it at start, in one line."""
        address = parseaddr(value)[1]
        if not value.isprintable() or "@" not in address or not address.rpartition("@")[2]:
            raise ValueError("MAIL_FROM must be an address, e.g. `Case Desk <case-desk@example.org>`")
        try:
            address.rpartition("@")[2].encode("idna")
        except UnicodeError:
            raise ValueError(f"MAIL_FROM: the domain of {address!r} is not a valid domain name") from None
        return value
    mail_senders: int = Field(
        4, ge=1, le=64, description="Messages the mail relay of each worker sends at once (each its own fate)."
    )
    mail_permanent_tries: int = Field(
        3, ge=1, le=20, description="Tries of a message the server refuses for good (5xx, an address that cannot "
        "be encoded) before it is undeliverable."
    )
    mail_max_backoff_seconds: int = Field(
        600, ge=1, le=86_400, description="Longest wait between two tries of a message; transient failures "
        "(server down, 4xx) are retried without limit in time, waiting 2 s, 4 s, 8 s … up to this."
    )
    match_weight_technology_fit: float = Field(0.5, ge=0, description="Weight of technology fit in a match score.")
    match_weight_industry: float = Field(0.15, ge=0, description="Weight of a shared JSIC division.")
    match_weight_region: float = Field(0.1, ge=0, description="Weight of the sought prefecture (or its region).")
    match_weight_size_fit: float = Field(0.1, ge=0, description="Weight of the wanted company size.")
    match_weight_readiness: float = Field(
        0.15, ge=0, description="Weight of readiness (overseas interest, certifications, a current entry)."
    )
    audit_verification_cron: str = Field(
        "30 2 * * *",
        description="When (cron, Tokyo time) the whole audit trail is verified; empty: never (no Schedule).",
    )
    idempotency_ttl_hours: int = Field(
        168, ge=1, le=24 * 366,
        description="How long an Idempotency-Key is remembered (bound to its request) before it is forgotten.",
    )
    incident_scan_seconds: float = Field(
        60.0, ge=0, description="How often a worker scans Temporal for stuck case steps (incidents); 0: never."
    )
    retention_years: int = Field(
        10, ge=1, description="Years a closed case keeps its personal data before `alliance audit archive` erases it; "
        "the access log's rows and the done consent tellings older than this go in the same run.",
    )
    max_import_bytes: int = Field(64 * 1024 * 1024, ge=1024, description="Largest CSV `POST /api/smes/import` accepts.")
    max_body_bytes: int = Field(256 * 1024, ge=1024, description="Largest request body the API accepts.")
    token_ttl_days: int = Field(365, ge=0, description="Days a token from `users add` stays valid; 0: no expiry.")
    audit_signing_key: SecretStr | None = Field(
        None,
        description="Ed25519 seed (64 hex characters) that signs audit events and checkpoints; required in "
        "production; unset in development: a stable key derived from TOKEN_PEPPER.",
    )
    audit_verifying_keys: str = Field(
        "",
        description="Public keys (64 hex characters each, comma-separated) of earlier signing keys, still "
        "accepted when verifying (key rotation).",
    )
    audit_checkpoint_log: Path | None = Field(
        None,
        description="Append-only file each signed checkpoint is also written to; unset: DATA_DIR/audit-checkpoints.log",
    )
    audit_checkpoint_url: str | None = Field(
        None,
        description="An http(s) URL each signed checkpoint's log line is also sent to (write-once storage): PUT "
        "to it with `{id}` replaced by the checkpoint's id when it holds `{id}`, else POST; unset: none.",
    )
    environment: Literal["development", "production"] = Field(
        "development",
        description="`production` refuses a weak TOKEN_PEPPER (`infra/pepper.py`) and a missing AUDIT_SIGNING_KEY, "
        "creates no demo users and serves neither the demo sign-in nor `/mail`.",
    )

    @model_validator(mode="after")
    def no_placeholder_secrets_in_production(self) -> Settings:
        if self.environment == "production" and (reason := weak_pepper_reason(self.token_pepper.get_secret_value())):
            raise ValueError(reason)
        if self.environment == "production" and self.audit_signing_key is None:
            raise ValueError("AUDIT_SIGNING_KEY must be set in production (`openssl rand -hex 32`, kept out of the "
                             "database)")
        if self.audit_signing_key is not None:
            signing_seed(self.audit_signing_key.get_secret_value())
        for hex_key in self._verifying_keys():
            try:
                public_key(hex_key)
            except ValueError as error:
                raise ValueError(f"AUDIT_VERIFYING_KEYS: {hex_key!r} is not an Ed25519 public key: {error}") from None
        self.match_weights.normalised()  # at least one weight must count
        return self

    @model_validator(mode="after")
    def client_certificate_comes_with_its_key(self) -> Settings:
        """Half a key pair would only fail later, inside the TLS handshake, with a far less helpful message."""
        if (self.temporal_tls_cert is None) != (self.temporal_tls_key is None):
            raise ValueError("TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY go together: set both (mutual TLS) or neither")
        return self

    @model_validator(mode="after")
    def pool_holds_two_connections(self) -> Settings:
        """A worker's incident scan holds one connection (its lock, `infra.incidents.scanning`) while it writes
        with another: with one in all, it waited `DB_POOL_TIMEOUT` and failed at every turn, and every activity
        waited behind it."""
        if self.db_pool_size + self.db_max_overflow < 2:
            raise ValueError(f"DB_POOL_SIZE + DB_MAX_OVERFLOW must be at least 2 (a worker holds one connection "
                             f"while it uses another), not {self.db_pool_size} + {self.db_max_overflow}")
        return self

    def _verifying_keys(self) -> list[str]:
        return [key.strip() for key in self.audit_verifying_keys.split(",") if key.strip()]

    @cached_property
    def audit_keys(self) -> AuditKeys:
        """The signer of audit events (AUDIT_SIGNING_KEY, or in development a key derived from TOKEN_PEPPER,
        logged as such) and the keyring verifying them: its public key and AUDIT_VERIFYING_KEYS."""
        if self.audit_signing_key is not None:
            seed = signing_seed(self.audit_signing_key.get_secret_value())
        else:
            seed = hashlib.sha256(DEV_AUDIT_KEY_CONTEXT + self.token_pepper.get_secret_value().encode()).digest()
        signer = Signer.from_seed(seed)
        if self.audit_signing_key is None:
            log.warning("audit events are signed with a development key derived from TOKEN_PEPPER; "
                        "set AUDIT_SIGNING_KEY outside development", key_id=signer.key_id)
        return AuditKeys(signer, Keyring.of([signer.public, *map(public_key, self._verifying_keys())]))

    @property
    def checkpoint_log(self) -> Path:
        """Where signed checkpoints are appended outside the database."""
        return self.audit_checkpoint_log or self.data_dir / "audit-checkpoints.log"

    @property
    def mail_dir(self) -> Path:
        """Where the local mail sink of `alliance run` keeps each message it receives."""
        return self.data_dir / "mail"

    @property
    def match_weights(self) -> MatchWeights:
        return MatchWeights(
            technology_fit=self.match_weight_technology_fit,
            industry=self.match_weight_industry,
            region=self.match_weight_region,
            size_fit=self.match_weight_size_fit,
            readiness=self.match_weight_readiness,
        )

    @property
    def embedded_database_url(self) -> str:
        return embedded_postgres_url(self.data_dir, self.embedded_postgres_port, EMBEDDED_DATABASE)

    @property
    def effective_database_url(self) -> str:
        """The database the product talks to: the configured one, else the embedded one."""
        return self.database_url or self.embedded_database_url

    @property
    def effective_temporal_address(self) -> str:
        return self.temporal_address or f"127.0.0.1:{self.temporal_port}"

    def service_levels(self) -> dict[Stage, int]:
        """Business days per waiting stage (docs/DESIGN.md §4)."""
        return {
            Stage.SCREENING: self.sla_screening_days,
            Stage.AWAITING_APPLICANT_INFO: self.sla_applicant_answer_days,
            Stage.OFFICE_REVIEW: self.sla_office_review_days,
            Stage.MATCHING: self.sla_matching_days,
            Stage.INVESTMENT_DECISION: self.sla_investment_decision_days,
        }

    @property
    def uses_mail_sink(self) -> bool:
        return self.smtp_host is None

    @property
    def effective_smtp_host(self) -> str:
        return self.smtp_host or "127.0.0.1"

    @property
    def uses_embedded_database(self) -> bool:
        return self.database_url is None

    @property
    def uses_embedded_temporal(self) -> bool:
        return self.temporal_address is None
