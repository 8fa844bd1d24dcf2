"""The docker-compose stack, its Prometheus config and the Dockerfile, checked without an engine."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from kpis.rules import ALERTING_FILE, GOALS_FILE, RECORDING_FILE
from kpis.thresholds import read_thresholds
from tests import REPO_ROOT
from tests.kpis.test_rules import binary

ROOT = REPO_ROOT
COMPOSE = ROOT / "docker-compose.yml"
PROMETHEUS_CONFIG = ROOT / "deploy" / "prometheus" / "prometheus.yml"
SECRETS = "deploy/crmkpi.env"
CRMKPI_SERVICES = ("worker", "server", "simulator")
SERVICE_SECRETS = {"grafana": "deploy/grafana.env"}
SERVICE_PREFIXES = {"grafana": ("GF_",)}
NOTIFY_SECRETS = {"slack_webhook_url": "slack-webhook-url", "smtp_password": "smtp-password"}


def services() -> dict[str, Any]:
    found: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())["services"]
    return found


def bind_mounts(service: dict[str, Any]) -> dict[str, str]:
    """Container path: host path of the service's `./host:/container[:ro]` volumes."""
    mounts = {}
    for volume in service.get("volumes", []):
        host, container = volume.split(":")[:2]
        if host.startswith("./"):
            mounts[container] = host.removeprefix("./")
    return mounts


def compose_plugin() -> bool:
    docker = shutil.which("docker")
    if docker is None:
        return False
    result = subprocess.run([docker, "compose", "version"], capture_output=True, text=True)
    return result.returncode == 0


def test_docker_compose_config_accepts_the_file(tmp_path: Path) -> None:
    if not compose_plugin():
        pytest.skip("no docker compose plugin: the structural tests below check the file")
    shutil.copy(COMPOSE, tmp_path / COMPOSE.name)
    (tmp_path / "deploy").mkdir()
    for env_file in (SECRETS, *SERVICE_SECRETS.values()):
        shutil.copy(ROOT / f"{env_file}.example", tmp_path / env_file)
    (tmp_path / "deploy" / "secrets").mkdir()
    for name in ("read-token", *NOTIFY_SECRETS.values()):
        (tmp_path / "deploy" / "secrets" / name).write_text("a-secret")
    result = subprocess.run(
        ["docker", "compose", "-f", str(tmp_path / COMPOSE.name), "config", "--quiet"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


def test_the_stack_has_every_service_and_only_the_simulator_is_optional() -> None:
    found = services()
    assert set(found) == {
        "kafka",
        "redis",
        "worker",
        "server",
        "simulator",
        "prometheus",
        "alertmanager",
        "grafana",
    }
    assert found["simulator"]["profiles"] == ["simulator"]
    assert all("profiles" not in s for name, s in found.items() if name != "simulator")
    for service in found.values():
        for dependency in service.get("depends_on", []):
            assert dependency in found


def test_images_are_pinned() -> None:
    for name, service in services().items():
        if "build" in service:
            continue
        image = service["image"]
        assert re.fullmatch(r"[\w./-]+:v?\d+\.\d+\.\d+[\w.-]*", image), (name, image)


def test_kafka_is_the_official_image_in_kraft_mode_where_crmkpi_looks() -> None:
    found = services()
    kafka = found["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    environment = kafka["environment"]
    assert environment["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert "zookeeper" not in COMPOSE.read_text().lower()
    advertised = environment["KAFKA_ADVERTISED_LISTENERS"].removeprefix("PLAINTEXT://")
    for name in CRMKPI_SERVICES:
        service = found[name]
        assert service["build"] == "."
        assert service["environment"]["CRMKPI_KAFKA_BOOTSTRAP"] == advertised
        assert service["environment"]["CRMKPI_REDIS_URL"].startswith("redis://redis:")
    for name in ("worker", "server"):
        assert found[name]["env_file"] == SECRETS
    assert found["simulator"]["env_file"] == []  # it holds no secret
    assert found["worker"]["command"] == ["worker"]
    assert found["worker"]["deploy"]["replicas"] == 2
    # Without --bootstrap, `crmkpi up` would start its own embedded broker.
    assert found["server"]["command"][:3] == ["up", "--bootstrap", advertised]
    assert found["simulator"]["command"][:2] == ["simulate", "--live"]


@pytest.mark.parametrize(
    "env_file",
    [
        SECRETS,
        *SERVICE_SECRETS.values(),
        "deploy/secrets/read-token",
        *(f"deploy/secrets/{name}" for name in NOTIFY_SECRETS.values()),
    ],
)
def test_secrets_come_from_an_ignored_file(env_file: str) -> None:
    ignored = subprocess.run(["git", "check-ignore", "-q", env_file], cwd=ROOT)
    assert ignored.returncode == 0, f"{env_file} must be in .gitignore"
    tracked = subprocess.run(["git", "ls-files", "--error-unmatch", env_file], cwd=ROOT)
    assert tracked.returncode != 0, f"{env_file} is committed"


def test_each_service_has_its_own_env_file_with_only_its_secrets() -> None:
    found = services()
    prefixes = {SECRETS: ("CRMKPI_",)} | {
        env_file: SERVICE_PREFIXES[name] for name, env_file in SERVICE_SECRETS.items()
    }
    for name, env_file in SERVICE_SECRETS.items():
        assert found[name]["env_file"] == env_file
    for env_file, allowed in prefixes.items():
        example = (ROOT / f"{env_file}.example").read_text().splitlines()
        keys = [line.lstrip("# ").split("=")[0] for line in example if "=" in line]
        assert keys and all(key.startswith(allowed) for key in keys), (env_file, keys)
    # Webhook secrets only where webhooks are taken.
    for name, service in found.items():
        if name not in ("worker", "server"):
            assert service.get("env_file") in (None, [], *SERVICE_SECRETS.values()), name


def test_only_the_ingest_port_is_published_beyond_localhost() -> None:
    found = services()
    ingest_port = found["server"]["environment"]["CRMKPI_INGEST_PORT"]
    internal_port = found["server"]["environment"]["CRMKPI_HTTP_PORT"]
    assert ingest_port != internal_port
    public = []
    for name, service in found.items():
        for mapping in service.get("ports", []):
            if not str(mapping).startswith("127.0.0.1:"):
                public.append((name, mapping))
    assert public == [("server", f"{ingest_port}:{ingest_port}")]
    assert f"127.0.0.1:{internal_port}:{internal_port}" in found["server"]["ports"]
    assert "127.0.0.1:3000:3000" in found["grafana"]["ports"]


def test_grafana_has_no_anonymous_viewers() -> None:
    environment = services()["grafana"]["environment"]
    assert environment["GF_AUTH_ANONYMOUS_ENABLED"] == "false"
    assert "GF_AUTH_ANONYMOUS_ORG_ROLE" not in environment


@pytest.mark.parametrize(("password", "starts"), [("change-me", False), ("", False), ("s3", True)])
def test_grafana_does_not_start_while_its_password_is_change_me(
    password: str, starts: bool
) -> None:
    grafana = services()["grafana"]
    assert grafana["entrypoint"] == ["/bin/sh", "-c"]
    script = grafana["command"][0].replace("$$", "$")  # compose's escape of a literal $
    assert script.endswith("exec /run.sh")  # the image's own entrypoint
    script = script.removesuffix("exec /run.sh") + "exec true"
    env = {"PATH": "/usr/bin:/bin", "GF_SECURITY_ADMIN_PASSWORD": password}
    result = subprocess.run(["/bin/sh", "-c", script], env=env, capture_output=True, text=True)
    assert (result.returncode == 0) == starts, result.stderr


def test_prometheus_and_crmkpi_share_the_read_token_secret() -> None:
    found = services()
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    (job,) = [job for job in config["scrape_configs"] if job["job_name"] == "crmkpi"]
    token_file = job["authorization"]["credentials_file"]
    assert job["authorization"]["type"] == "Bearer"
    assert (
        token_file == "/run/secrets/read_token" and "read_token" in found["prometheus"]["secrets"]
    )
    for name in ("worker", "server"):
        assert found[name]["environment"]["CRMKPI_READ_TOKEN_FILE"] == token_file
        assert "read_token" in found[name]["secrets"]
    assert yaml.safe_load(COMPOSE.read_text())["secrets"]["read_token"]["file"] == (
        "deploy/secrets/read-token"
    )


def test_alerts_and_reviews_read_the_notify_secrets_where_the_thresholds_file_names_them() -> None:
    found = services()
    notify = read_thresholds().notify
    targets = {
        "slack_webhook_url": notify.slack.api_url_file,
        "smtp_password": notify.email.auth_password_file,
    }
    declared = yaml.safe_load(COMPOSE.read_text())["secrets"]
    for source, name in NOTIFY_SECRETS.items():
        assert declared[source]["file"] == f"deploy/secrets/{name}"
    for name, service in found.items():
        mounted = {
            secret["source"]: secret["target"]
            for secret in service.get("secrets", [])
            if isinstance(secret, dict)
        }
        expected = targets if name in ("alertmanager", "worker", "server") else {}
        assert mounted == expected, name
    assert "env_file" not in found["alertmanager"]
    script = found["alertmanager"]["command"][0]
    assert all(f"cat {path} " in script for path in targets.values())
    assert bind_mounts(found["alertmanager"])["/etc/alertmanager/alertmanager.yml"] == (
        "deploy/alertmanager/alertmanager.yml"
    )
    for name in ("worker", "server"):
        thresholds_file = found[name]["environment"]["CRMKPI_THRESHOLDS_FILE"]
        assert bind_mounts(found[name])[thresholds_file] == "deploy/thresholds.yaml", name


def test_every_mounted_file_is_in_the_repository() -> None:
    for name, service in services().items():
        for host in bind_mounts(service).values():
            assert (ROOT / host).exists(), (name, host)


def test_grafana_gets_the_provisioning_and_the_generated_dashboards() -> None:
    grafana = services()["grafana"]
    mounts = bind_mounts(grafana)
    assert mounts["/etc/grafana/provisioning"] == "grafana/provisioning"
    dashboards = mounts["/var/lib/grafana/dashboards"]
    assert dashboards == "grafana/dashboards"
    provider = yaml.safe_load((ROOT / "grafana/provisioning/dashboards/crmkpi.yml").read_text())
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"
    home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert (ROOT / dashboards / Path(home).name).is_file()
    datasources = yaml.safe_load(
        (ROOT / "grafana/provisioning/datasources/prometheus.yml").read_text()
    )
    assert datasources["datasources"][0]["url"] == "http://prometheus:9090"


def test_prometheus_loads_the_generated_rules_and_scrapes_server_and_workers(
    tmp_path: Path,
) -> None:
    prometheus = services()["prometheus"]
    mounts = bind_mounts(prometheus)
    assert mounts["/etc/prometheus/prometheus.yml"] == "deploy/prometheus/prometheus.yml"
    assert mounts["/etc/prometheus/rules"] == "deploy/prometheus/rules"
    assert "--storage.tsdb.retention.time=40d" in prometheus["command"]  # offset 30d alerts
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert jobs["crmkpi"]["static_configs"][0]["targets"] == ["server:8000"]
    assert jobs["crmkpi"]["dns_sd_configs"][0]["names"] == ["worker"]  # every replica
    assert "metric_relabel_configs" not in jobs["crmkpi"]  # the sums need every process
    assert config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == [
        "alertmanager:9093"
    ]
    # promtool on a copy whose rule path points at the repository's generated rules.
    (rules,) = config["rule_files"]
    local = rules.replace("/etc/prometheus/rules", str(ROOT / "deploy/prometheus/rules"))
    loaded = sorted(Path(local).parent.glob(Path(local).name))
    assert [path.name for path in loaded] == sorted(
        Path(name).name for name in (RECORDING_FILE, GOALS_FILE, ALERTING_FILE)
    )
    # ... and whose read token file (a compose secret) exists here.
    token = tmp_path / "read_token"
    token.write_text("a-token")
    copy = tmp_path / "prometheus.yml"
    text = PROMETHEUS_CONFIG.read_text().replace(rules, local)
    copy.write_text(text.replace("/run/secrets/read_token", str(token)))
    result = subprocess.run(
        [binary("promtool"), "check", "config", str(copy)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_is_slim_pinned_and_non_root() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    bases = re.findall(r"^FROM (\S+)", dockerfile, re.M)
    assert bases and all(re.fullmatch(r"python:\d+\.\d+\.\d+-slim-\w+", base) for base in bases)
    users = re.findall(r"^USER (\S+)", dockerfile, re.M)
    assert users and users[-1] not in {"root", "0"}
    assert re.search(r'^ENTRYPOINT \["crmkpi"\]', dockerfile, re.M)
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".git", ".venv", "*.env"} <= set(ignored)


def test_the_image_installs_the_pinned_versions_which_meet_every_floor() -> None:
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^RUN pip wheel .*--constraint constraints\.txt", dockerfile, re.M)
    assert re.search(r"^COPY .*constraints\.txt", dockerfile, re.M)
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[canonicalize_name(name)] = version
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for dependency in project["dependencies"]:
        requirement = Requirement(dependency)
        pinned = pins.get(canonicalize_name(requirement.name))
        assert pinned is not None, f"{requirement.name} is not pinned in constraints.txt"
        assert requirement.specifier.contains(pinned), (dependency, pinned)


def test_dependency_floors_are_past_known_advisories() -> None:
    from packaging.requirements import Requirement
    from packaging.version import Version

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    floors = {
        Requirement(d).name: min(Version(s.version) for s in Requirement(d).specifier)
        for d in project["dependencies"]
    }
    assert floors["aiohttp"] >= Version("3.14.5")  # smuggling fixes; header timeout
    assert floors["orjson"] >= Version("3.9.15")


def test_crmkpi_services_read_the_goals_file_of_the_repository() -> None:
    found = services()
    for name in ("worker", "server"):
        goals_file = found[name]["environment"]["CRMKPI_GOALS_FILE"]
        assert bind_mounts(found[name])[goals_file] == "deploy/goals.yaml", name


def test_the_review_schedule_of_the_crmkpi_env_example_is_readable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dotenv import dotenv_values

    from streams.config import Settings

    example = (ROOT / f"{SECRETS}.example").read_text().splitlines()
    (line,) = [line for line in example if line.startswith("# CRMKPI_REVIEW=")]
    env_file = tmp_path / "crmkpi.env"
    env_file.write_text(line.removeprefix("# ") + "\n")
    value = dotenv_values(env_file)["CRMKPI_REVIEW"]
    assert value is not None
    monkeypatch.setenv("CRMKPI_REVIEW", value)
    schedules = Settings().review
    assert (schedules.weekly, schedules.monthly) == ("MON 08:00", "1 08:00")
