"""docker-compose.yml, Dockerfile and .env.example, checked by parsing (no Docker engine runs here).

Each test states a property a deploy depends on and derives both sides from the
files and the code (the settings the app reads, the routes it serves, the
committed nginx.conf), so an edit that breaks the stack fails here, and an edit
that keeps it working does not.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from delivery.app import create_app
from delivery.settings import Settings, SettingsError
from harness.processes import NGINX_DIR, REPO

COMPOSE_ONLY = {"POSTGRES_PASSWORD", "S3_BUCKET"}
"""Variables .env.example lists for docker compose that the app itself does not read."""

_INTERPOLATION = re.compile(r"\$\{([A-Z0-9_]+)(?::?([-?])([^}]*))?\}")


def compose() -> dict[str, Any]:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


def services() -> dict[str, Any]:
    return compose()["services"]


def env_example() -> dict[str, str]:
    pairs = [line.split("=", 1) for line in (REPO / ".env.example").read_text().splitlines() if re.match(r"^[A-Z][A-Z0-9_]*=", line)]
    return {name: value for name, value in pairs}


def interpolate(value: object, env: dict[str, str]) -> str:
    """What docker compose makes of a value with `env` as the .env file: `${X}`, `${X:-default}`, `${X:?error}`."""

    def one(match: re.Match[str]) -> str:
        name, kind, rest = match.groups()
        if env.get(name):
            return env[name]
        assert kind != "?", f"compose refuses to start without {name}: {rest}"
        return rest if kind == "-" else ""

    return _INTERPOLATION.sub(one, str(value))


OPERATOR_ENV = {
    "POSTGRES_PASSWORD": "Tz4mQ8vR2kLp9XwN7cYb",
    "AWS_SECRET_ACCESS_KEY": "Hq3nW8xLc5Vb2RkZp7Mt",
    "PROMPTPIX_SECRET_KEY": "q8Zr1v-5hYxNwB2kLmT4pQe7sD9uFjAa0cVbXgHi3oK",
    "PROMPTPIX_PUBLIC_URL": "https://img.example.com",
    "GEMINI_API_KEY": "AIza-test",
}
"""What the operator sets in .env: docs/deploy.md's steps."""


def deploy_env() -> dict[str, str]:
    """.env.example with its "change me" secrets filled in, as an operator's .env would be."""
    return {**env_example(), **OPERATOR_ENV}


def app_settings() -> Settings:
    """The settings an app replica starts with: .env (env_file) overridden by the service's environment."""
    env = deploy_env()
    app_env = {name: interpolate(value, env) for name, value in services()["app"]["environment"].items()}
    return Settings.from_env({k: v for k, v in {**env, **app_env}.items() if k not in COMPOSE_ONLY})


def app_routes() -> set[str]:
    return {route.path for route in create_app(Settings()).routes}


def waits_for(service: dict[str, Any], condition: str) -> set[str]:
    return {name for name, spec in service.get("depends_on", {}).items() if spec["condition"] == condition}


def test_every_promptpix_variable_in_compose_is_a_setting_the_app_reads() -> None:
    names = set(Settings.env_names())
    for service_name, service in services().items():
        set_here = set(service.get("environment", {}))
        assert {n for n in set_here if n.startswith("PROMPTPIX_")} <= names, service_name
    app_env = set(services()["app"]["environment"])
    assert {n for n in app_env if n.startswith(("GEMINI_", "AWS_"))} <= names  # unprefixed settings
    assert "env_file" in services()["app"]  # the rest of the settings, secrets included, come from .env


def test_env_example_lists_every_setting_and_every_interpolated_variable() -> None:
    settings_names = set(Settings.env_names())
    example = env_example()
    assert settings_names <= set(example), sorted(settings_names - set(example))
    assert set(example) - settings_names == COMPOSE_ONLY
    interpolated = set(_INTERPOLATION.findall((REPO / "docker-compose.yml").read_text()))
    assert {name for name, _, _ in interpolated} <= set(example), sorted(interpolated)


def test_env_example_values_are_valid_settings() -> None:
    example = {k: v for k, v in env_example().items() if k not in COMPOSE_ONLY}
    assert Settings.from_env(example) == Settings(aws_access_key_id="promptpix", aws_secret_access_key="change-me-minio-secret")


def test_compose_refuses_to_start_without_the_shared_secret_and_the_public_url() -> None:
    app_env = services()["app"]["environment"]
    for name in ("PROMPTPIX_SECRET_KEY", "PROMPTPIX_PUBLIC_URL"):
        assert re.fullmatch(rf"\$\{{{name}:\?[^}}]+\}}", app_env[name]), app_env[name]
        env = {**deploy_env(), name: ""}  # as .env.example ships it
        with pytest.raises(AssertionError, match=f"compose refuses to start without {name}"):
            interpolate(app_env[name], env)
        assert env_example()[name] == ""  # the template leaves it to the operator


def test_compose_runs_production_and_the_template_secrets_stop_the_app() -> None:
    settings = app_settings()
    assert settings.production and settings.env == "production"
    assert settings.resolved_public_url == OPERATOR_ENV["PROMPTPIX_PUBLIC_URL"]
    assert settings.secret_key == OPERATOR_ENV["PROMPTPIX_SECRET_KEY"]  # the same secret on every replica
    template = {**deploy_env(), **{k: v for k, v in env_example().items() if k in ("POSTGRES_PASSWORD", "AWS_SECRET_ACCESS_KEY")}}
    app_env = {name: interpolate(value, template) for name, value in services()["app"]["environment"].items()}
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({k: v for k, v in {**template, **app_env}.items() if k not in COMPOSE_ONLY})
    lines = str(refused.value).splitlines()
    assert len(lines) == 2 and "database password" in lines[0] and "AWS_SECRET_ACCESS_KEY" in lines[1], lines


def test_every_image_is_pinned_to_a_version() -> None:
    for name, service in services().items():
        image = service.get("image")
        assert image, f"{name} names its image (built ones too), so `docker compose` never pulls or tags :latest"
        repository, _, tag = image.rpartition(":")
        assert repository and tag and tag != "latest" and not tag.startswith("stable"), image
    for dockerfile in (REPO / "Dockerfile", NGINX_DIR / "Dockerfile"):
        for base in re.findall(r"^FROM (\S+)", dockerfile.read_text(), re.M):
            assert ":" in base and not base.endswith(":latest"), base


def test_the_app_keeps_its_data_directory_on_a_named_volume() -> None:
    declared = set(compose()["volumes"])
    mounts = [volume.split(":")[:2] for volume in services()["app"].get("volumes", [])]
    assert any(source in declared and target == app_settings().data_dir for source, target in mounts), mounts


def test_the_app_is_configured_for_the_services_compose_runs() -> None:
    settings, all_services = app_settings(), services()
    app = all_services["app"]
    database = urlsplit(settings.database_url or "")
    assert database.hostname in all_services and database.port == 5432
    postgres_env = {k: interpolate(v, deploy_env()) for k, v in all_services["postgres"]["environment"].items()}
    assert (database.username, database.password, database.path.lstrip("/")) == (
        postgres_env["POSTGRES_USER"], postgres_env["POSTGRES_PASSWORD"], postgres_env["POSTGRES_DB"],
    )  # fmt: skip
    s3 = urlsplit(settings.s3_endpoint or "")
    assert s3.hostname in all_services and s3.hostname == "minio"
    assert settings.storage_url and settings.storage_url.startswith("s3://")
    bucket = settings.storage_url.removeprefix("s3://").split("/", 1)[0]
    init = all_services["minio-init"]
    init_env = {k: interpolate(v, deploy_env()) for k, v in init["environment"].items()}
    script = " ".join(init["entrypoint"]).replace("$$", "$")
    made = re.search(r'mc mb --ignore-existing "local/\$S3_BUCKET"', script)
    assert made and init_env["S3_BUCKET"] == bucket  # the bucket the app writes to is the one created
    assert f"http://{s3.hostname}:{s3.port}" in script
    # started in order: the database healthy and the bucket made before the app, MinIO healthy before the bucket
    assert database.hostname in waits_for(app, "service_healthy")
    assert "minio-init" in waits_for(app, "service_completed_successfully")
    assert "minio" in waits_for(init, "service_healthy")
    assert (settings.host, settings.workers) == ("0.0.0.0", 2)  # reachable from nginx's container, both cores used


def test_whatever_a_service_waits_on_to_be_healthy_has_a_health_check() -> None:
    all_services = services()
    dockerfile = (REPO / "Dockerfile").read_text()
    for name, service in all_services.items():
        for needed in waits_for(service, "service_healthy"):
            built_with_healthcheck = all_services[needed].get("build") == "." and "\nHEALTHCHECK " in dockerfile
            assert "healthcheck" in all_services[needed] or built_with_healthcheck, f"{name} waits on {needed}"


def test_the_image_health_check_asks_a_route_the_app_serves_on_its_port() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    check = re.search(r"^HEALTHCHECK .*\n(.*)$", dockerfile, re.M)
    assert check
    urls = re.findall(r"http://127\.0\.0\.1:%s(/\w+)' % os\.environ\.get\('PROMPTPIX_PORT', '(\d+)'\)", check[1])
    assert urls, check[1]
    for path, default_port in urls:
        assert path in app_routes()
        assert int(default_port) == Settings().port


def test_nginx_runs_the_committed_config_against_the_app_replicas() -> None:
    nginx, app = services()["nginx"], services()["app"]
    config = nginx["command"][nginx["command"].index("-c") + 1]
    mounts = dict(volume.split(":")[:2] for volume in nginx["volumes"])
    mounted_from = next(source for source, target in mounts.items() if config.startswith(target + "/"))
    committed = REPO / mounted_from / config.removeprefix(mounts[mounted_from] + "/")
    assert committed.resolve() == (NGINX_DIR / "nginx.conf").resolve()
    conf = committed.read_text()
    port = app_settings().port
    assert re.search(rf"^\s*server app:{port}\b", conf, re.M)  # the upstream is the app service on its port
    assert str(port) in [str(p) for p in app.get("expose", [])]
    assert "ports" not in app  # reachable only through nginx
    listens = {int(m) for m in re.findall(r"^\s*listen (\d+)\b", conf, re.M)}
    published = {int(str(p).rsplit(":", 1)[1]) for p in nginx["ports"]}
    assert published and published <= listens
    for include in re.findall(r"^\s*include\s+([^;]+);", conf + (NGINX_DIR / "image-cache.conf").read_text(), re.M):
        assert (NGINX_DIR / include).is_file(), include
    assert "app" in waits_for(nginx, "service_healthy")


def test_stateful_services_keep_their_data_on_named_volumes() -> None:
    declared = set(compose()["volumes"])
    all_services = services()

    def named_volume_at(service: str, target: str) -> bool:
        return any(v.split(":")[0] in declared and v.split(":")[1] == target for v in all_services[service].get("volumes", []))

    assert named_volume_at("postgres", "/var/lib/postgresql/data")  # the postgres image's PGDATA
    minio_command = all_services["minio"]["command"]
    assert named_volume_at("minio", minio_command[minio_command.index("server") + 1])  # the directory MinIO serves
    assert named_volume_at("nginx", "/var/cache/nginx")
    assert "/var/cache/nginx/" in (NGINX_DIR / "nginx.conf").read_text()  # where the config keeps its cache


def test_compose_stops_the_app_later_than_the_app_finishes_in_flight_work() -> None:
    grace = int(services()["app"]["stop_grace_period"].removesuffix("s"))
    assert grace > app_settings().shutdown_timeout  # an in-flight generation finishes before SIGKILL


def test_dockerfile_is_slim_non_root_and_runs_the_service() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    assert all(image.endswith("-slim") for image in re.findall(r"^FROM (\S+)", dockerfile, re.M))
    user = re.search(r"^USER (\S+)$", dockerfile, re.M)
    assert user and user[1] not in ("root", "0")
    created = re.search(rf"useradd (.*) {user[1]}$", dockerfile, re.M)
    home = created and re.search(r"--home-dir (\S+)", created[1])
    assert home and home[1] == app_settings().data_dir  # the data directory is the service user's own, so writable
    assert re.search(r'^CMD \["promptpix", "serve"\]$', dockerfile, re.M)
    assert "pyvips-binary" in (REPO / "pyproject.toml").read_text()  # libvips from the wheel, no OS package
    ignored = (REPO / ".dockerignore").read_text().splitlines()
    assert "*" in ignored and {"!pyproject.toml", "!README.md", "!src/"} <= set(ignored)
