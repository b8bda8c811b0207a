"""The attack registry: name -> constructor `(model, **kwargs) -> attack`, every kwarg defaulted."""

from __future__ import annotations

from wsattack.registry import Registry

ATTACKS: Registry = Registry("attack")
register_attack = ATTACKS.register
