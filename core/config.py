"""Settings: ``config/banyan.toml`` (every key documented there), then ``--config FILE``,
then environment variables ``BANYAN_<SECTION>_<KEY>`` (plus the short ``BANYAN_DATABASE_URL``)."""
from __future__ import annotations

import copy
import os
import tomllib
from pathlib import Path

from core.errors import ConfigError

DEFAULTS_FILE = Path(__file__).resolve().parent.parent / "config" / "banyan.toml"


def _packaged_defaults() -> dict:
    # Banyan is installed editable (pip install -e .), so config/ sits beside core/.
    return tomllib.loads(DEFAULTS_FILE.read_text("utf-8"))


def _coerce(old, raw: str):
    if isinstance(old, bool):
        return raw.strip().lower() in ("1", "true", "yes", "on")
    if isinstance(old, int):
        try:
            return int(raw)
        except ValueError as exc:
            raise ConfigError(f"expected an integer, got {raw!r}") from exc
    return raw


def load_config(path: str | os.PathLike | None = None, overrides: dict | None = None,
                environ: dict | None = None) -> dict:
    """Return the merged settings as nested dicts ``{section: {key: value}}``."""
    env = os.environ if environ is None else environ
    cfg = copy.deepcopy(_packaged_defaults())
    path = path or env.get("BANYAN_CONFIG")
    if path:
        p = Path(path)
        if not p.exists():
            raise ConfigError(f"config file not found: {p}")
        try:
            user = tomllib.loads(p.read_text("utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{p}: {exc}") from exc
        for section, values in user.items():
            if section not in cfg:
                raise ConfigError(f"{p}: unknown section [{section}]")
            for key, value in values.items():
                if key not in cfg[section]:
                    raise ConfigError(f"{p}: unknown setting {section}.{key}")
                cfg[section][key] = value
    for section, values in cfg.items():
        for key, value in values.items():
            name = f"BANYAN_{section}_{key}".upper()
            if name in env:
                try:
                    values[key] = _coerce(value, env[name])
                except ConfigError as exc:
                    raise ConfigError(f"{name}: {exc}") from exc
    for section, values in (overrides or {}).items():
        cfg.setdefault(section, {}).update(values)
    inst = Path(cfg["instance"]["path"])
    if not inst.is_absolute():
        inst = Path.cwd() / inst
    cfg["instance"]["path"] = str(inst)
    files = cfg.get("files")
    if files is not None:
        root = Path(files["root"] or "files")
        files["root"] = str(root if root.is_absolute() else inst / root)
    if not cfg["database"]["url"]:
        cfg["database"]["url"] = f"sqlite:///{inst / 'banyan.sqlite'}"
    return cfg
