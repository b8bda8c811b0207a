"""Importing this package registers every task."""

from wsattack.tasks import (  # noqa: F401
    attack_task,
    certify_task,
    eval_task,
    merge_task,
    report_task,
    train_task,
)
from wsattack.tasks.registry import TASKS, Task, register_task

__all__ = ["TASKS", "Task", "register_task"]
