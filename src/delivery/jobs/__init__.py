"""Generation jobs on the queue (procrastinate, in the service's PostgreSQL): accepting, cancelling, running.

`submit_job` reserves each candidate and queues the job in one transaction;
workers (`promptpix worker`, or the one `serve` runs in-process) run it with
`run_job`. `build_queue` registers every task, the periodic ones included.
"""

from delivery.jobs.queue import PERIODIC_QUEUE, QUEUES, build_queue, run_worker
from delivery.jobs.runner import GENERATE_TASK, JOB_QUEUE, run_job
from delivery.jobs.submit import cancel_job, submit_job

__all__ = ["GENERATE_TASK", "JOB_QUEUE", "PERIODIC_QUEUE", "QUEUES", "build_queue", "cancel_job", "run_job", "run_worker", "submit_job"]
