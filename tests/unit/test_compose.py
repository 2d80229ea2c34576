"""docker-compose.yml, Dockerfile and .env.example, checked by parsing (no Docker engine runs here)."""

from __future__ import annotations

import re

import yaml

from delivery.settings import Settings
from harness.processes import NGINX_DIR, REPO

COMPOSE_ONLY = {"POSTGRES_PASSWORD", "S3_BUCKET"}
"""Variables .env.example lists for docker compose that the app itself does not read."""


def compose() -> dict:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


def env_example() -> dict[str, str]:
    pairs = [line.split("=", 1) for line in (REPO / ".env.example").read_text().splitlines() if re.match(r"^[A-Z][A-Z0-9_]*=", line)]
    return {name: value for name, value in pairs}


def test_the_stack_has_its_services_and_volumes() -> None:
    services = compose()["services"]
    assert set(services) == {"postgres", "minio", "minio-init", "app", "nginx"}
    app, nginx = services["app"], services["nginx"]
    assert app["deploy"]["replicas"] == 2
    assert app["build"] == "."
    assert app["expose"] == ["8080"]
    assert app["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "minio-init": {"condition": "service_completed_successfully"},
    }
    assert "ports" not in app  # reachable only through nginx
    assert nginx["ports"] == ["80:80"]
    assert nginx["depends_on"] == {"app": {"condition": "service_healthy"}}
    assert {name for service in services.values() for name in _named_volumes(service)} == set(compose()["volumes"])
    assert "postgres-data:/var/lib/postgresql/data" in services["postgres"]["volumes"]
    assert "minio-data:/data" in services["minio"]["volumes"]
    assert "nginx-cache:/var/cache/nginx" in nginx["volumes"]


def _named_volumes(service: dict) -> list[str]:
    return [v.split(":", 1)[0] for v in service.get("volumes", []) if not v.startswith((".", "/"))]


def test_minio_gets_its_bucket_before_the_app_starts() -> None:
    services = compose()["services"]
    script = " ".join(services["minio-init"]["entrypoint"])
    assert 'mc mb --ignore-existing "local/$$S3_BUCKET"' in script
    assert services["minio-init"]["depends_on"] == {"minio": {"condition": "service_healthy"}}
    assert services["app"]["environment"]["PROMPTPIX_STORAGE_URL"] == "s3://${S3_BUCKET:-promptpix}"
    assert services["app"]["environment"]["PROMPTPIX_S3_ENDPOINT"] == "http://minio:9000"


def test_nginx_runs_the_committed_config_against_the_app_service() -> None:
    nginx = compose()["services"]["nginx"]
    assert "./nginx:/etc/nginx/promptpix:ro" in nginx["volumes"]
    assert nginx["command"][:3] == ["nginx", "-c", "/etc/nginx/promptpix/nginx.conf"]
    conf = (NGINX_DIR / "nginx.conf").read_text()
    port = compose()["services"]["app"]["environment"]["PROMPTPIX_PORT"]
    assert f"server app:{port} " in conf
    for include in re.findall(r"^\s*include\s+([^;]+);", conf + (NGINX_DIR / "image-cache.conf").read_text(), re.M):
        assert (NGINX_DIR / include).is_file(), include


def test_app_env_names_are_settings_and_env_example_lists_every_setting() -> None:
    settings_names = set(Settings.env_names())
    app_env = compose()["services"]["app"]["environment"]
    assert {n for n in app_env if n.startswith(("PROMPTPIX_", "GEMINI_", "AWS_"))} <= settings_names
    example = env_example()
    assert settings_names <= set(example), sorted(settings_names - set(example))
    assert set(example) - settings_names == COMPOSE_ONLY
    interpolated = set(re.findall(r"\$\{([A-Z0-9_]+)", (REPO / "docker-compose.yml").read_text()))
    assert interpolated <= set(example), sorted(interpolated - set(example))


def test_env_example_and_compose_values_are_valid_settings() -> None:
    example = {k: v for k, v in env_example().items() if k not in COMPOSE_ONLY}
    assert Settings.from_env(example) == Settings(aws_access_key_id="promptpix", aws_secret_access_key="change-me-minio-secret")
    app_env = {k: str(v) for k, v in compose()["services"]["app"]["environment"].items()}
    settings = Settings.from_env({**example, **app_env})
    assert (settings.host, settings.port, settings.workers) == ("0.0.0.0", 8080, 2)
    grace = int(compose()["services"]["app"]["stop_grace_period"].removesuffix("s"))
    assert grace > settings.shutdown_timeout  # an in-flight generation finishes before SIGKILL


def test_dockerfile_is_slim_non_root_and_health_checked() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    assert re.findall(r"^FROM (\S+)", dockerfile, re.M) == ["python:3.11-slim", "python:3.11-slim"]
    assert re.search(r"^USER promptpix$", dockerfile, re.M)
    assert "useradd --system --uid 10001" in dockerfile
    assert re.search(r"^HEALTHCHECK .*\n.*/healthz", dockerfile, re.M)
    assert re.search(r'^CMD \["promptpix", "serve"\]$', dockerfile, re.M)
    assert "pyvips-binary" in (REPO / "pyproject.toml").read_text()  # libvips from the wheel, no OS package
    ignored = (REPO / ".dockerignore").read_text().splitlines()
    assert ignored[1:4] == ["*", "!pyproject.toml", "!README.md"] and "!src/" in ignored
