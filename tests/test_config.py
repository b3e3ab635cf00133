"""Settings: packaged defaults, a settings file, environment overrides, clear errors."""
from __future__ import annotations

from pathlib import Path

import pytest

from core.config import DEFAULTS_FILE, load_config
from core.errors import ConfigError


def test_defaults(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = load_config(environ={})
    assert cfg["locale"] == {"currency": "CNY", "default": "zh_Hans", "timezone": "Asia/Shanghai"}
    assert cfg["jobs"]["backend"] == "sqlite" and cfg["jobs"]["workers"] == 2
    assert cfg["security"]["max_failed_logins"] == 5
    # empty database URL: SQLite file in the (absolute) instance folder
    assert cfg["instance"]["path"] == str(tmp_path / "instance")
    assert cfg["database"]["url"] == f"sqlite:///{tmp_path / 'instance' / 'banyan.sqlite'}"


def test_every_default_is_commented():
    """Each key of config/banyan.toml has a comment line right above it (the file is the
    reference for operators; docs/configuration.md repeats it)."""
    lines = DEFAULTS_FILE.read_text("utf-8").splitlines()
    for i, line in enumerate(lines):
        if "=" in line and not line.startswith("#") and not line.startswith("["):
            above = [x for x in lines[max(0, i - 3):i]]
            assert any(x.startswith("#") for x in above) or "=" in lines[i - 1], line


def test_file_overrides_defaults(tmp_path):
    f = tmp_path / "site.toml"
    f.write_text('[database]\nurl = "postgresql+psycopg://u@db/banyan"\n'
                 '[locale]\ndefault = "en"\n[jobs]\nworkers = 8\n', "utf-8")
    cfg = load_config(f, environ={})
    assert cfg["database"]["url"] == "postgresql+psycopg://u@db/banyan"
    assert cfg["locale"]["default"] == "en"
    assert cfg["locale"]["currency"] == "CNY"  # untouched keys keep their default
    assert cfg["jobs"]["workers"] == 8


def test_config_file_from_environment(tmp_path):
    f = tmp_path / "site.toml"
    f.write_text('[mail]\nsender = "shop@example.com"\n', "utf-8")
    cfg = load_config(environ={"BANYAN_CONFIG": str(f)})
    assert cfg["mail"]["sender"] == "shop@example.com"


def test_env_overrides_file_and_coerces_types(tmp_path):
    f = tmp_path / "site.toml"
    f.write_text('[jobs]\nworkers = 8\nbackend = "sqlite"\n', "utf-8")
    env = {"BANYAN_JOBS_WORKERS": "3", "BANYAN_JOBS_BACKEND": "redis",
           "BANYAN_SECURITY_SECURE_COOKIES": "true", "BANYAN_DATABASE_ECHO": "0",
           "BANYAN_DATABASE_URL": "sqlite:////tmp/x.sqlite", "BANYAN_MAIL_PORT": "2525"}
    cfg = load_config(f, environ=env)
    assert cfg["jobs"]["workers"] == 3 and isinstance(cfg["jobs"]["workers"], int)
    assert cfg["jobs"]["backend"] == "redis"
    assert cfg["security"]["secure_cookies"] is True
    assert cfg["database"]["echo"] is False
    assert cfg["database"]["url"] == "sqlite:////tmp/x.sqlite"
    assert cfg["mail"]["port"] == 2525


@pytest.mark.parametrize("value,expected", [("1", True), ("yes", True), ("on", True), ("TRUE", True),
                                            ("0", False), ("no", False), ("false", False), ("", False)])
def test_env_booleans(value, expected):
    assert load_config(environ={"BANYAN_JOBS_IMMEDIATE": value})["jobs"]["immediate"] is expected


def test_env_bad_integer_names_the_variable():
    with pytest.raises(ConfigError, match="BANYAN_MAIL_PORT.*integer"):
        load_config(environ={"BANYAN_MAIL_PORT": "twenty-five"})


def test_unknown_key_in_file(tmp_path):
    f = tmp_path / "site.toml"
    f.write_text("[database]\nulr = 'oops'\n", "utf-8")
    with pytest.raises(ConfigError, match=r"unknown setting database\.ulr"):
        load_config(f, environ={})


def test_unknown_section_in_file(tmp_path):
    f = tmp_path / "site.toml"
    f.write_text("[databse]\nurl = 'x'\n", "utf-8")
    with pytest.raises(ConfigError, match=r"unknown section \[databse\]"):
        load_config(f, environ={})


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml", environ={})
    bad = tmp_path / "bad.toml"
    bad.write_text("[database\nurl=", "utf-8")
    with pytest.raises(ConfigError, match="bad.toml"):
        load_config(bad, environ={})


def test_relative_instance_path_and_overrides(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = load_config(environ={"BANYAN_INSTANCE_PATH": "var/shop"})
    assert Path(cfg["instance"]["path"]) == tmp_path / "var" / "shop"
    cfg = load_config(environ={}, overrides={"database": {"url": "sqlite://"}})
    assert cfg["database"]["url"] == "sqlite://"


def test_cli_reports_config_error_in_one_line(tmp_path):
    from click.testing import CliRunner

    from core.cli import main

    f = tmp_path / "site.toml"
    f.write_text("[locale]\ncurrencyy = 'EUR'\n", "utf-8")
    result = CliRunner().invoke(main, ["--config", str(f), "check"])
    assert result.exit_code != 0
    assert "unknown setting locale.currencyy" in result.output
    assert "Traceback" not in result.output
