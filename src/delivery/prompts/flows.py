"""Flows: chained generations where each step sees the steps before it.

A step's prompt may reference earlier outputs as `@step1`, `@step2`, … and
the latest as `@prev` (names no project asset may take, db.asset_names); they
reach the provider as reference images, and the earlier prompts reach it as
context (GenerationRequest.context). Both are part of the step's generation
key, so the same prompt after different steps is a different image.
"""

from __future__ import annotations

from delivery.db.assets import get_live_assets
from delivery.db.connection import Conn
from delivery.db.flows import Flow, FlowStep, get_flow, list_steps
from delivery.db.projects import Project
from delivery.errors import UndefinedFlow
from delivery.prompts.targets import EarlierSteps

__all__ = ["earlier_steps", "step_name"]


def step_name(position: int) -> str:
    return f"step{position}"


async def earlier_steps(conn: Conn, project: Project, flow_id: int) -> tuple[Flow, EarlierSteps]:
    """The flow (422 when the project has none with this id) and what its next step may reference.

    A step whose asset was deleted since is not offered: `@stepN` to it is an unknown name.
    """
    flow = await get_flow(conn, project_id=project.id, id=flow_id)
    if flow is None:
        raise UndefinedFlow(f"unknown flow {flow_id}")
    steps: list[FlowStep] = await list_steps(conn, flow_id=flow.id)
    live = await get_live_assets(conn, project_id=project.id, ids=[s.asset_id for s in steps])
    assets = {step_name(s.position): live[s.asset_id] for s in steps if s.asset_id in live}
    if steps and steps[-1].asset_id in live:
        assets["prev"] = live[steps[-1].asset_id]
    return flow, EarlierSteps(assets=assets, prompts=tuple(s.prompt for s in steps))
