"""The deployment files (infra/deploy) cannot run here; keep them honest against the code they deploy.

Every variable they hand the app must be a setting (a typo would be ignored silently, `extra="ignore"`), every
command must be a real `alliance` command, and the shape the README promises (migrations first, 3 workers,
2 API processes, probes on /health) must hold in both compose and Kubernetes.
"""

from __future__ import annotations

import os
import re
import secrets
import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import typer.core
import typer.main
import yaml
from pydantic import ValidationError

from app.cli import app
from contracts.search_attributes import DEV_SERVER_TYPES
from infra.settings import Settings

DEPLOY = Path(__file__).parents[2] / "infra" / "deploy"
SETTINGS = {name.upper() for name in Settings.model_fields}
IMAGE = "case-desk"  # the app image's repository name, in Kubernetes and compose alike


def alliance_commands() -> set[str]:
    group = typer.main.get_command(app)
    assert isinstance(group, typer.core.TyperGroup)
    return set(group.commands)


# --- Dockerfile -------------------------------------------------------------------------------------------


@dataclass
class Dockerfile:
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, name: str) -> list[str]:
        return [arguments for instruction, arguments in self.instructions if instruction == name]

    def last(self, name: str) -> str:
        found = self.all(name)
        assert found, f"the Dockerfile has no {name}"
        return found[-1]

    def env(self) -> dict[str, str]:
        names: dict[str, str] = {}
        for arguments in self.all("ENV"):
            words = shlex.split(arguments)
            if len(words) >= 2 and "=" not in words[0]:  # the legacy form `ENV NAME value`
                names[words[0]] = " ".join(words[1:])
                continue
            for word in words:
                name, _, value = word.partition("=")
                names[name] = value
        return names


def dockerfile() -> Dockerfile:
    """Instructions with their arguments, continuation lines joined and comments dropped."""
    parsed = Dockerfile()
    logical = ""
    for line in (DEPLOY / "Dockerfile").read_text().splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            logical += stripped[:-1] + " "
            continue
        logical += stripped
        instruction, _, arguments = logical.partition(" ")
        parsed.instructions.append((instruction.upper(), arguments.strip()))
        logical = ""
    assert not logical, "the Dockerfile ends in a continuation line"
    return parsed


def exec_form(arguments: str) -> list[str]:
    words = yaml.safe_load(arguments)  # a JSON array is YAML too
    assert isinstance(words, list), f"not in exec form: {arguments}"
    return [str(word) for word in words]


def test_the_image_runs_alliance_as_a_non_root_user() -> None:
    image = dockerfile()
    assert image.all("FROM") == ["python:3.11-slim"]
    assert exec_form(image.last("ENTRYPOINT")) == ["alliance"]
    assert exec_form(image.last("CMD")) == ["api"]
    assert image.last("USER") not in ("root", "0")
    assert "8000" in image.last("EXPOSE").split()
    install = " ".join(image.all("RUN"))
    assert re.search(r"pip install .*-c \S*constraints\.txt", install)
    assert "[dev]" not in install


def test_the_image_sets_production_settings_only() -> None:
    env = dockerfile().env()
    assert set(env) <= SETTINGS, f"not settings: {set(env) - SETTINGS}"
    assert (env["API_HOST"], env["LOG_FORMAT"], env["ENVIRONMENT"]) == ("0.0.0.0", "json", "production")


def test_the_image_checks_health_on_the_api() -> None:
    check = dockerfile().last("HEALTHCHECK")
    assert "/health" in check and "8000" in check


def test_the_image_default_command_is_an_alliance_command() -> None:
    assert set(exec_form(dockerfile().last("CMD"))[:1]) <= alliance_commands()


# --- compose ----------------------------------------------------------------------------------------------


def compose() -> dict[str, Any]:
    loaded = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def app_services() -> dict[str, dict[str, Any]]:
    """The services built from the app's Dockerfile; Temporal's and PostgreSQL's own are left alone."""
    services: dict[str, dict[str, Any]] = compose()["services"]
    return {
        name: service
        for name, service in services.items()
        if str((service.get("build") or {}).get("dockerfile", "")).endswith("infra/deploy/Dockerfile")
    }


def compose_environment(service: dict[str, Any]) -> dict[str, str]:
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        environment = dict(item.partition("=")[::2] for item in environment)
    found = {str(name): str(value) for name, value in environment.items()}
    env_files = service.get("env_file") or []
    for env_file in [env_files] if isinstance(env_files, str | dict) else env_files:
        path = DEPLOY / (env_file["path"] if isinstance(env_file, dict) else env_file)
        if path.exists():
            for line in path.read_text().splitlines():
                if line.strip() and not line.lstrip().startswith("#"):
                    name, _, value = line.partition("=")
                    found[name.strip().removeprefix("export ")] = value.strip()
    return found


def command_of(service: dict[str, Any]) -> list[str]:
    command = service.get("command", [])
    return shlex.split(command) if isinstance(command, str) else [str(word) for word in command]


def test_compose_runs_migrate_worker_and_api_from_the_app_image() -> None:
    services = app_services()
    assert {name: command_of(service) for name, service in services.items()} == {
        "migrate": ["migrate"],
        "worker": ["worker"],
        "api": ["api"],
    }
    assert {command_of(service)[0] for service in services.values()} <= alliance_commands()


def test_compose_passes_the_app_only_settings() -> None:
    for name, service in app_services().items():
        environment = compose_environment(service)
        assert environment, f"{name} gets no settings"
        assert set(environment) <= SETTINGS, f"{name}: not settings: {set(environment) - SETTINGS}"


OPERATORS_SECRET = os.urandom(32).hex()
"""What an operator fills in for a secret: as random as `openssl rand -hex 32` (so it is a valid signing key too)."""


def test_compose_settings_are_valid_values(monkeypatch: pytest.MonkeyPatch) -> None:
    """With `${VAR:-default}` as its default and `${VAR:?…}` as some value, every app service's settings load."""
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)
    environment = compose_environment(app_services()["api"])
    for name, value in environment.items():
        value = re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", value)
        monkeypatch.setenv(name, re.sub(r"\$\{\w+:\?[^}]*\}", OPERATORS_SECRET, value))
    settings = Settings(_env_file=None)
    assert (settings.environment, settings.log_format) == ("production", "json")
    assert not settings.uses_embedded_database and not settings.uses_embedded_temporal


def test_compose_scales_workers_and_api_and_migrates_first() -> None:
    services = app_services()
    assert services["worker"]["deploy"]["replicas"] == 3
    assert services["api"]["deploy"]["replicas"] == 2
    for name in ("worker", "api"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["migrate"]["restart"] == "no"


def test_compose_has_healthchecks_and_waits_for_them() -> None:
    services = compose()["services"]
    for name in ("app-db", "temporal-db", "temporal"):
        assert services[name]["healthcheck"]["test"], name
    assert "/health" in " ".join(services["api"]["healthcheck"]["test"])
    assert services["migrate"]["depends_on"]["app-db"]["condition"] == "service_healthy"
    assert services["temporal"]["image"].startswith("temporalio/auto-setup:")
    assert services["temporal"]["environment"]["DB"] == "postgres12"
    assert services["temporal-ui"]["image"].startswith("temporalio/ui:")


def test_compose_creates_the_search_attributes_the_workflows_set() -> None:
    script = " ".join(compose()["services"]["temporal-search-attributes"]["command"])
    assert dict(re.findall(r"\b(Case\w+):(\w+)\b", script)) == DEV_SERVER_TYPES


# --- Kubernetes -------------------------------------------------------------------------------------------


def manifests() -> Iterator[tuple[Path, dict[str, Any]]]:
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if document:
                yield path, document


def kinds(kind: str) -> list[dict[str, Any]]:
    return [document for _, document in manifests() if document["kind"] == kind]


def app_containers() -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(workload, container) for every container running the app image."""
    for _, document in manifests():
        spec = document.get("spec", {}).get("template", {}).get("spec", {})
        for container in spec.get("containers", []) + spec.get("initContainers", []):
            if container["image"].rpartition(":")[0].rpartition("/")[2] == IMAGE:
                yield document, container


def role(container: dict[str, Any]) -> str:
    assert "command" not in container, "keep the image's ENTRYPOINT (alliance); give the command as args"
    return str(container["args"][0])


def test_every_manifest_parses_and_lives_in_the_namespace() -> None:
    namespace = kinds("Namespace")
    assert [document["metadata"]["name"] for document in namespace] == ["case-desk"]
    for path, document in manifests():
        assert {"apiVersion", "kind", "metadata"} <= set(document), path.name
        if document["kind"] != "Namespace":
            assert document["metadata"]["namespace"] == "case-desk", path.name


def test_kubernetes_passes_the_app_only_settings() -> None:
    (configmap,) = kinds("ConfigMap")
    (secret,) = kinds("Secret")
    names = set(configmap["data"]) | set(secret["stringData"])
    for _, container in app_containers():
        names |= {variable["name"] for variable in container.get("env", [])}
    assert names <= SETTINGS, f"not settings: {names - SETTINGS}"
    secrets = {"DATABASE_URL", "TOKEN_PEPPER", "AUDIT_SIGNING_KEY", "SMTP_PASSWORD", "TEMPORAL_API_KEY"}
    assert secrets <= set(secret["stringData"])
    assert not secrets & set(configmap["data"])
    assert all(isinstance(value, str) for value in configmap["data"].values())


def test_kubernetes_settings_are_valid_values(monkeypatch: pytest.MonkeyPatch) -> None:
    (configmap,) = kinds("ConfigMap")
    (secret,) = kinds("Secret")
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)
    for name, value in {**configmap["data"], **secret["stringData"]}.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match="TOKEN_PEPPER is the development value or a documented placeholder"):
        Settings(_env_file=None)  # the example's placeholders are refused as they stand
    for name, value in {**configmap["data"], **secret["stringData"]}.items():
        if value.startswith("CHANGE-ME-to-the-output-of-openssl"):  # what an operator fills in
            monkeypatch.setenv(name, OPERATORS_SECRET)
    monkeypatch.setenv("TOKEN_PEPPER", secrets.token_hex(32))
    settings = Settings(_env_file=None)
    assert (settings.environment, settings.log_format) == ("production", "json")
    assert not settings.uses_embedded_database and not settings.uses_embedded_temporal


def test_every_app_container_takes_its_settings_from_the_configmap_and_secret() -> None:
    (configmap,) = kinds("ConfigMap")
    (secret,) = kinds("Secret")
    containers = list(app_containers())
    assert {role(container) for _, container in containers} == {"migrate", "worker", "api"}
    for _, container in containers:
        sources = container["envFrom"]
        assert {"configMapRef": {"name": configmap["metadata"]["name"]}} in sources
        assert {"secretRef": {"name": secret["metadata"]["name"]}} in sources
        assert role(container) in alliance_commands()


def test_kubernetes_runs_3_workers_2_api_processes_and_a_migrate_job() -> None:
    replicas = {role(container): workload["spec"]["replicas"] for workload, container in app_containers()
                if workload["kind"] == "Deployment"}
    assert replicas == {"worker": 3, "api": 2}
    jobs = {role(container) for workload, container in app_containers() if workload["kind"] == "Job"}
    assert jobs == {"migrate"}


def test_the_api_is_probed_on_health_and_served() -> None:
    (api,) = [container for workload, container in app_containers()
              if workload["kind"] == "Deployment" and role(container) == "api"]
    assert [port["containerPort"] for port in api["ports"]] == [8000]
    for probe in ("readinessProbe", "livenessProbe"):
        assert api[probe]["httpGet"] == {"path": "/health", "port": 8000}, probe
    assert api["resources"]["requests"] and api["resources"]["limits"]
    (service,) = kinds("Service")
    assert service["spec"]["ports"][0]["targetPort"] == 8000
    (deployment,) = [workload for workload, container in app_containers()
                     if workload["kind"] == "Deployment" and role(container) == "api"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_the_worker_has_no_http_probe() -> None:
    (worker,) = [container for workload, container in app_containers() if role(container) == "worker"]
    assert "ports" not in worker
    for probe in ("readinessProbe", "livenessProbe"):
        assert "httpGet" not in worker.get(probe, {}), probe
