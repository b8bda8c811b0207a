"""Importing this package registers every task."""

from wsattack.tasks import attack_task, certify_task, eval_task, report_task, train_task  # noqa: F401
from wsattack.tasks.registry import TASKS, Task, register_task

__all__ = ["TASKS", "Task", "register_task"]
