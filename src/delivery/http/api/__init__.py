"""`/v1`: the REST API, authenticated with secret keys and never cached."""

from __future__ import annotations

from litestar import Router
from litestar.datastructures import ResponseHeader
from litestar.di import Provide

from delivery.http.api.admin import catalogue, change_catalogue_entry, margin, put_catalogue_entry
from delivery.http.api.assets import (
    analyze_asset,
    delete_one_asset,
    edit_asset,
    list_project_assets,
    read_asset,
    restore_one_asset,
    similar_to_asset,
    upload,
)
from delivery.http.api.billing import balance, ledger, usage_statistics
from delivery.http.api.flows import read_flow, start_flow
from delivery.http.api.generations import create_generation
from delivery.http.api.jobs import list_project_jobs, read_job, remove_job
from delivery.http.api.keys import create_project_key, list_project_keys, revoke_project_key, rotate_project_key, rotate_signing_secret
from delivery.http.api.links import sign_project_link
from delivery.http.api.models import list_project_models, write_project_models
from delivery.http.api.names import list_project_names, put_name, remove_name
from delivery.http.api.presets import list_project_presets, read_preset, remove_preset, write_preset
from delivery.http.api.principal import provide_principal
from delivery.http.api.projects import create_project, edit_project, list_organization_projects, read_organization, read_project
from delivery.http.api.prompt_policy import read_prompt_policy, write_prompt_policy
from delivery.http.api.styles import list_project_styles, read_style, remove_style, write_style
from delivery.http.api.webhooks import create_webhook, edit_webhook, list_deliveries, list_webhooks, read_webhook, redeliver_message, remove_webhook
from delivery.http.openapi import BEARER

__all__ = ["API_CACHE_CONTROL", "api_router"]

API_CACHE_CONTROL = "private, no-store"

api_router = Router(
    path="/v1",
    route_handlers=[
        read_organization,
        list_organization_projects,
        create_project,
        read_project,
        edit_project,
        create_project_key,
        list_project_keys,
        revoke_project_key,
        rotate_project_key,
        rotate_signing_secret,
        sign_project_link,
        balance,
        ledger,
        usage_statistics,
        create_generation,
        list_project_jobs,
        read_job,
        remove_job,
        create_webhook,
        list_webhooks,
        read_webhook,
        edit_webhook,
        remove_webhook,
        list_deliveries,
        redeliver_message,
        upload,
        list_project_assets,
        read_asset,
        edit_asset,
        delete_one_asset,
        restore_one_asset,
        analyze_asset,
        similar_to_asset,
        list_project_names,
        put_name,
        remove_name,
        list_project_styles,
        read_style,
        write_style,
        remove_style,
        list_project_presets,
        read_preset,
        write_preset,
        remove_preset,
        start_flow,
        read_flow,
        list_project_models,
        write_project_models,
        read_prompt_policy,
        write_prompt_policy,
        catalogue,
        put_catalogue_entry,
        change_catalogue_entry,
        margin,
    ],
    dependencies={"principal": Provide(provide_principal)},
    response_headers=[ResponseHeader(name="Cache-Control", value=API_CACHE_CONTROL)],
    tags=["api"],
    security=[{BEARER: []}],
)
