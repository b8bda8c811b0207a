"""A small name -> factory registry shared by models, attacks, noise models and tasks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from wsattack.errors import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps names to factories; `register` is a decorator, `get` fails with the valid names."""

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def add(factory: T) -> T:
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._entries[name] = factory
            return factory

        return add

    def get(self, name: str) -> T:
        if name not in self._entries:
            raise ConfigError(
                f"unknown {self.kind} {name!r}; choose from: {', '.join(self.names())}"
            )
        return self._entries[name]

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries
