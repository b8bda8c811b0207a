"""Turn Hydra's composition errors into one line that names the valid choices."""

from __future__ import annotations

from hydra.errors import ConfigCompositionException, MissingConfigException, OverrideParseException
from omegaconf import DictConfig, OmegaConf

from wsattack.paths import config_dir


def explain(err: Exception, base_cfg: DictConfig | None, overrides: list[str]) -> str:
    if isinstance(err, MissingConfigException):
        return _missing_member(err)
    if isinstance(err, ValueError | TypeError):
        # Hydra's own errors for GROUP=null or GROUP=[1] say nothing about the group.
        bad = _bad_member(overrides)
        if bad is not None:
            return bad
    if isinstance(err, OverrideParseException):
        return f"cannot parse override: {_first_line(err)}"
    if isinstance(err, ConfigCompositionException) and base_cfg is not None:
        key = _offending_key(err, overrides)
        if key is not None:
            return _unknown_key(key, base_cfg)
    return _first_line(err)


def _missing_member(err: MissingConfigException) -> str:
    group = (err.missing_cfg_file or "").rsplit("/", 1)
    options = ", ".join(err.options or [])
    if len(group) == 2 and options:
        return f"unknown {group[0]} {group[1]!r}; choose from: {options}"
    return _first_line(err)


def _bad_member(overrides: list[str]) -> str | None:
    """The first GROUP=VALUE whose VALUE names no member of the config group, explained."""
    for override in overrides:
        group, _, value = override.partition("=")
        folder = config_dir() / group
        members = sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []
        if members and value not in members:
            return f"{override} names no {group}; choose from: {', '.join(members)}"
    return None


def _offending_key(err: Exception, overrides: list[str]) -> str | None:
    text = str(err)
    for override in overrides:
        key = override.lstrip("+~").split("=", 1)[0]
        if f"'{key}'" in text:
            return key
    return None


def _unknown_key(key: str, cfg: DictConfig) -> str:
    parent, _, leaf = key.rpartition(".")
    node = OmegaConf.select(cfg, parent) if parent else cfg
    if isinstance(node, DictConfig):
        where = f"under '{parent}'" if parent else "at the top level"
        return (
            f"unknown config option {key!r}; valid keys {where}: {', '.join(sorted(node.keys()))}"
        )
    return f"unknown config option {key!r} ({parent!r} has no sub-keys)"


def _first_line(err: Exception) -> str:
    return next(
        (line.strip() for line in str(err).splitlines() if line.strip()), type(err).__name__
    )
