"""Log lines: JSON objects on stderr, without the routine narration of periodic housekeeping jobs."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from delivery.jobs import JOB_QUEUE, PERIODIC_QUEUE
from delivery.ops.logs import configure_logging


@pytest.fixture(autouse=True)
def restored_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    chatty = {name: logging.getLogger(name).level for name in ("procrastinate.periodic", "procrastinate.blueprints")}
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, was in chatty.items():
        logging.getLogger(name).setLevel(was)


def lines(err: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in err.splitlines()]


def test_routine_jobs_are_quiet_and_their_failures_are_not(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", routine_queues=[PERIODIC_QUEUE])
    worker = logging.getLogger("procrastinate.worker.serve")  # the names and extras procrastinate's worker logs with
    worker.info("Starting job promptpix.sweep[1]()", extra={"job": {"id": 1, "queue": PERIODIC_QUEUE}})
    worker.info("Starting job promptpix.generate[2]()", extra={"job": {"id": 2, "queue": JOB_QUEUE}})
    worker.error("Job promptpix.sweep[3]() ended with status: Error", extra={"job": {"id": 3, "queue": PERIODIC_QUEUE}})
    logging.getLogger("procrastinate.periodic").info("Periodic job promptpix.sweep deferred", extra={"job": {"queue": PERIODIC_QUEUE}})
    logging.getLogger("promptpix.queue").info("not a procrastinate line", extra={"job": {"queue": PERIODIC_QUEUE}})

    logged = lines(capsys.readouterr().err)
    assert [(entry["level"], entry["msg"]) for entry in logged] == [
        ("info", "Starting job promptpix.generate[2]()"),
        ("error", "Job promptpix.sweep[3]() ended with status: Error"),
        ("info", "not a procrastinate line"),
    ]
    assert logged[0]["logger"] == "procrastinate.worker.serve" and logged[0]["job"] == {"id": 2, "queue": JOB_QUEUE}


def test_without_routine_queues_every_job_is_logged(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO")
    logging.getLogger("procrastinate.worker").info("Starting job promptpix.sweep[1]()", extra={"job": {"queue": PERIODIC_QUEUE}})
    assert [entry["msg"] for entry in lines(capsys.readouterr().err)] == ["Starting job promptpix.sweep[1]()"]
