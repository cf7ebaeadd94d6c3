"""The Temporal client every process uses: pydantic payloads; address, namespace, TLS and API key from settings."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import TypedDict

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import IndexedValueType, WorkflowExecutionStatus
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import Runtime
from temporalio.service import RPCError, RPCStatusCode, TLSConfig

from infra.observability import Tracing, setup_tracing, worker_runtime
from infra.settings import Settings
from infra.startup import StartupError

KIND = {
    "Keyword": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    "KeywordList": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST,
    "Bool": IndexedValueType.INDEXED_VALUE_TYPE_BOOL,
    "Int": IndexedValueType.INDEXED_VALUE_TYPE_INT,
    "Datetime": IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
}


class ConnectOptions(TypedDict):
    """The keyword arguments of `Client.connect` that settings decide (besides the address)."""

    namespace: str
    api_key: str | None
    tls: bool | TLSConfig


def _read(setting: str, path: Path | None) -> bytes | None:
    if path is None:
        return None
    try:
        return path.read_bytes()
    except OSError as error:
        raise StartupError(f"{setting}: cannot read {path}: {error.strerror or error}") from None


def connect_options(settings: Settings) -> ConnectOptions:
    """TLS and API key from settings, kept apart from `connect` so they can be checked without a server.

    The embedded dev server speaks plain gRPC, so TLS settings apply only to a configured TEMPORAL_ADDRESS.
    A missing or unreadable TLS file is a `StartupError` naming its setting.
    """
    if settings.uses_embedded_temporal:
        return ConnectOptions(namespace=settings.temporal_namespace, api_key=None, tls=False)
    api_key = settings.temporal_api_key.get_secret_value() if settings.temporal_api_key else None
    cert = _read("TEMPORAL_TLS_CERT", settings.temporal_tls_cert)
    key = _read("TEMPORAL_TLS_KEY", settings.temporal_tls_key)
    ca = _read("TEMPORAL_TLS_CA", settings.temporal_tls_ca)
    tls: bool | TLSConfig = bool(settings.temporal_tls or api_key)
    if cert or key or ca or settings.temporal_tls_server_name:
        tls = TLSConfig(
            client_cert=cert, client_private_key=key, server_root_ca_cert=ca, domain=settings.temporal_tls_server_name
        )
    return ConnectOptions(namespace=settings.temporal_namespace, api_key=api_key or None, tls=tls)


async def connect(settings: Settings, *, runtime: Runtime | None = None, tracing: Tracing | None = None) -> Client:
    """`runtime` and `tracing` default to what settings ask for (WORKER_METRICS_ADDRESS, OTEL_EXPORTER_OTLP_ENDPOINT):
    workers built from this client then report the SDK's metrics there, and trace what they run."""
    tracing = tracing or setup_tracing(settings)
    return await Client.connect(
        settings.effective_temporal_address,
        data_converter=pydantic_data_converter,
        interceptors=[tracing.interceptor] if tracing else [],
        runtime=runtime or worker_runtime(settings),
        **connect_options(settings),
    )


async def ensure_search_attributes(client: Client, namespace: str, types: Mapping[str, str]) -> None:
    """Register search attributes, `{name: type as the dev server spells it}`, that the server lacks (servers
    other than the dev server, which takes them as flags; `contracts.search_attributes.DEV_SERVER_TYPES`)."""
    try:
        listed = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=namespace)
        )
        existing = set(listed.custom_attributes)
    except RPCError as error:
        if error.status != RPCStatusCode.UNIMPLEMENTED:  # the time-skipping test server cannot list
            raise
        existing = set()
    missing = {name: KIND[kind] for name, kind in types.items() if name not in existing}
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=namespace, search_attributes=missing)
        )


async def is_running(client: Client, workflow_id: str, rpc_timeout: timedelta) -> bool:
    """Whether the workflow's latest run is running. Asked of the service as it answers, without decoding the run's
    search attributes: the SDK's `describe()` fails on a datetime search attribute the workflow unset (a TypeError)."""
    execution = WorkflowExecution(workflow_id=workflow_id)
    described = await client.workflow_service.describe_workflow_execution(
        DescribeWorkflowExecutionRequest(namespace=client.namespace, execution=execution), timeout=rpc_timeout,
    )
    return bool(described.workflow_execution_info.status == WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING)
