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


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")

# Settings whose value is one of a closed set (checked at load, so a typo stops every
# command at once instead of failing, or silently doing something else, at first use).
CHOICES: dict[tuple[str, str], tuple[str, ...]] = {
    ("locale", "default"): ("zh_Hans", "en"),
    ("jobs", "backend"): ("sqlite", "redis", "memory"),
    ("lookup", "backend"): ("", "sqlite", "redis", "memory"),
    ("call_center", "imap_security"): ("ssl", "starttls", "none"),
}
# Integer settings with a smallest sensible value; every other integer setting is at least 0.
MINIMUM: dict[tuple[str, str], int] = {
    ("security", "max_failed_logins"): 1, ("security", "lockout_minutes"): 1,
    ("jobs", "workers"): 1, ("lookup", "per_minute"): 1, ("lookup", "burst"): 1,
    ("lookup", "ref_minutes"): 1, ("imports", "max_bytes"): 1, ("mail", "port"): 1,
    ("mail", "timeout"): 1, ("mail", "max_attempts"): 1, ("call_center", "rating_days"): 1,
    ("call_center", "imap_port"): 1, ("call_center", "imap_timeout"): 1,
    ("call_center", "imap_batch"): 1, ("files", "max_size"): 1, ("idempotency", "retention_days"): 1,
}
MAXIMUM: dict[tuple[str, str], int] = {("mail", "port"): 65535, ("call_center", "imap_port"): 65535}


def _coerce(old, raw: str):
    if isinstance(old, bool):
        value = raw.strip().lower()
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
        raise ConfigError(f"expected a boolean (1, true, yes, on or 0, false, no, off), got {raw!r}")
    if isinstance(old, int):
        try:
            return int(raw)
        except ValueError as exc:
            raise ConfigError(f"expected an integer, got {raw!r}") from exc
    return raw


def _type_name(value) -> str:
    return {bool: "a boolean", int: "an integer", str: "a string"}.get(type(value), type(value).__name__)


def _check_value(section: str, key: str, value, default) -> None:
    """Raise ConfigError("[section] key: ...") when ``value`` does not fit the setting: the
    type of its packaged default (an integer is no boolean), its choices, its bounds."""
    where = f"[{section}] {key}"
    if type(value) is not type(default) and not (type(default) is str and value is None):
        raise ConfigError(f"{where}: expected {_type_name(default)}, got {value!r}")
    choices = CHOICES.get((section, key))
    if choices is not None and value not in choices:
        raise ConfigError(f"{where}: must be one of {', '.join(repr(c) for c in choices)}, not {value!r}")
    if type(value) is int:
        low = MINIMUM.get((section, key), 0)
        high = MAXIMUM.get((section, key))
        if value < low or (high is not None and value > high):
            bound = f"from {low} to {high}" if high is not None else f"at least {low}"
            raise ConfigError(f"{where}: must be {bound}, not {value}")


def _check_config(cfg: dict, defaults: dict) -> None:
    """Every setting of ``cfg`` fits its default's type, choices and bounds; the database
    URL names a dialect SQLAlchemy can load; the refund threshold is an amount; the time
    zone exists."""
    for section, values in defaults.items():
        for key, default in values.items():
            _check_value(section, key, cfg[section][key], default)
    url = cfg["database"]["url"]
    if url:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError, NoSuchModuleError

        try:
            make_url(url).get_dialect()
        except (ArgumentError, NoSuchModuleError, ValueError) as exc:
            raise ConfigError(f"[database] url: not a usable SQLAlchemy URL ({exc})") from None
        except ImportError as exc:
            raise ConfigError(f"[database] url: its database driver is not installed ({exc})") from None
    from decimal import Decimal, InvalidOperation

    threshold = cfg["security"]["refund_approval_threshold"]
    try:
        amount = Decimal(str(threshold or "0"))
        if not amount.is_finite() or amount < 0 or amount != amount.quantize(Decimal("0.01")):
            raise InvalidOperation
    except InvalidOperation:
        raise ConfigError("[security] refund_approval_threshold: must be an amount of at least 0 with "
                          f"at most two decimals, not {threshold!r}") from None
    zone = cfg["locale"]["timezone"]
    if zone:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(f"[locale] timezone: unknown time zone {zone!r}") from None


def load_config(path: str | os.PathLike | None = None, overrides: dict | None = None,
                environ: dict | None = None) -> dict:
    """Return the merged settings as nested dicts ``{section: {key: value}}``.

    The file's and the environment's values are checked before ``overrides`` (code, tests)
    apply: a wrong type, a value outside a setting's choices or bounds, an unusable database
    URL or an unknown time zone raises ConfigError naming the setting (or the variable)."""
    env = os.environ if environ is None else environ
    defaults = _packaged_defaults()
    cfg = copy.deepcopy(defaults)
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
            if not isinstance(values, dict):
                raise ConfigError(f"{p}: {section} is a section ([{section}]), not a setting")
            for key, value in values.items():
                if key not in cfg[section]:
                    raise ConfigError(f"{p}: unknown setting {section}.{key}")
                try:
                    _check_value(section, key, value, defaults[section][key])
                except ConfigError as exc:
                    raise ConfigError(f"{p}: {exc}") from None
                cfg[section][key] = value
    for section, values in cfg.items():
        for key, value in values.items():
            name = f"BANYAN_{section}_{key}".upper()
            if name in env:
                try:
                    values[key] = _coerce(value, env[name])
                    _check_value(section, key, values[key], defaults[section][key])
                except ConfigError as exc:
                    raise ConfigError(f"{name}: {exc}") from None
    _check_config(cfg, defaults)
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
