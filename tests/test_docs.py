"""Meta-tests: every hookspec, the kernel's and those the addons offer, is documented in
docs/hooks.md (with its exact signature) and tested (``test_hook_<name>``).

The specs are read from the plugin manager with EVERY discovered addon loaded, so an addon's
own hooks (``loyalty_points_posted``) are held to the same contract as the kernel's."""
from __future__ import annotations

import importlib.util
import inspect
import re
from functools import lru_cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HOOKS_MD = ROOT / "docs" / "hooks.md"
HEADING = re.compile(r"^## (\w+)\((.*)\)\s*$", re.M)


@lru_cache(maxsize=1)
def _hook_specs() -> dict:
    """{name: pluggy HookSpec} of the plugin manager with every available addon loaded."""
    from core.addons.discovery import discover
    from core.plugins import build_registry

    available = discover()
    pm = build_registry(list(available), available=available, only=[]).pm
    return {name: hc.spec for name, hc in vars(pm.hook).items()
            if not name.startswith("_") and hc.spec is not None}


def specs() -> dict[str, inspect.Signature]:
    return {name: inspect.signature(spec.function) for name, spec in _hook_specs().items()}


def spec_tests(name: str) -> Path:
    """Where ``test_hook_<name>`` lives: tests/test_hooks.py for the kernel's specs, the
    offering addon's ``tests/test_hooks.py`` for an addon's."""
    module = _hook_specs()[name].function.__module__
    if module == "core.hookspecs":
        return ROOT / "tests" / "test_hooks.py"
    package = module.rsplit(".", 1)[0]
    return Path(importlib.util.find_spec(package).origin).parent / "tests" / "test_hooks.py"


def documented() -> dict[str, str]:
    return {m.group(1): m.group(2) for m in HEADING.finditer(HOOKS_MD.read_text("utf-8"))}


def _params(sig: inspect.Signature) -> list[str]:
    return list(sig.parameters)


def _heading_params(args: str) -> list[str]:
    # "session, product, store, customer, at" (annotations or defaults after ':'/'=' ignored)
    return [a.split(":")[0].split("=")[0].strip() for a in args.split(",") if a.strip()]


def test_specs_are_found():
    assert len(specs()) >= 20
    assert "resolve_price" in specs()
    assert "loyalty_points_posted" in specs()  # an addon's own hook, offered through core.hookspec


@pytest.mark.parametrize("name", sorted(specs()))
def test_hooks_documented(name):
    docs = documented()
    assert name in docs, f"docs/hooks.md has no '## {name}(...)' heading"
    assert _heading_params(docs[name]) == _params(specs()[name]), (
        f"docs/hooks.md: heading '## {name}({docs[name]})' differs from the spec {name}{specs()[name]}")


def test_no_heading_for_unknown_hooks():
    extra = set(documented()) - set(specs())
    assert not extra, f"docs/hooks.md documents hooks that are not specs: {sorted(extra)}"


def _section(name: str) -> str:
    text = HOOKS_MD.read_text("utf-8")
    start = text.index(f"## {name}(")
    nxt = text.find("\n## ", start + 1)
    return text[start:nxt if nxt != -1 else len(text)]


@pytest.mark.parametrize("name", sorted(specs()))
def test_hook_sections_are_complete(name):
    body = _section(name)
    assert "Implemented by:" in body
    assert "```python" in body, f"{name}: no example"
    assert "**Returns**" in body and "**Arguments**" in body
    if _hook_specs()[name].opts.get("firstresult"):
        assert "first non-None wins" in body


@pytest.mark.parametrize("name", sorted(specs()))
def test_hooks_tested(name):
    path = spec_tests(name)
    source = path.read_text("utf-8") if path.exists() else ""
    assert re.search(rf"^def test_hook_{name}\(", source, re.M), f"{path.relative_to(ROOT)} lacks test_hook_{name}"


def test_doc_links_resolve():
    """Relative links between the docs (and from the README) point at files that exist."""
    link = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
    broken = []
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        for target in link.findall(page.read_text("utf-8")):
            if "://" in target or target.startswith("mailto:"):
                continue
            line = f"{page.relative_to(ROOT)} -> {target}"
            if not (page.parent / target).resolve().exists() and line not in broken:
                broken.append(line)
    assert not broken, "broken links:\n" + "\n".join(broken)


def test_configuration_documents_every_setting():
    from core.config import _packaged_defaults

    text = (ROOT / "docs" / "configuration.md").read_text("utf-8")
    missing = [f"{section}.{key}" for section, values in _packaged_defaults().items() for key in values
               if f"BANYAN_{section}_{key}".upper() not in text]
    assert not missing, f"docs/configuration.md lacks: {missing}"


GUIDE = ROOT / "docs" / "writing-an-addon.md"
DOTTED = re.compile(r"(?<![\w./-])((?:core|addons)(?:\.\w+)+)")


def _guide_code() -> str:
    """The fenced code blocks and the inline code spans of docs/writing-an-addon.md."""
    text = GUIDE.read_text("utf-8")
    blocks = re.findall(r"^```[^\n]*\n(.*?)^```", text, re.M | re.S)
    rest = re.sub(r"^```[^\n]*\n.*?^```", "", text, flags=re.M | re.S)
    return "\n".join(blocks + re.findall(r"`([^`\n]+)`", rest))


def _resolve(dotted: str):
    import importlib

    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError as exc:
            if exc.name and not ".".join(parts[:cut]).startswith(exc.name):
                raise
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ModuleNotFoundError(dotted)


def test_guide_names_exist():
    """Every ``core.``/``addons.`` dotted name in the guide's code is importable (a module,
    or an attribute of one): the guide never sends a partner to an API that does not exist."""
    from core.defaults.kernel import PERMISSIONS, register_jobs
    from core.notify import MAIL_JOB

    # dotted names that are not Python: the kernel's job names and permission codes
    not_python = {MAIL_JOB} | {j.name for j in register_jobs()} | {p.name for p in PERMISSIONS}
    names = sorted(set(DOTTED.findall(_guide_code())))
    assert len(names) > 30, names
    missing = []
    for name in names:
        if name in not_python:
            continue
        try:
            _resolve(name)
        except (ImportError, AttributeError) as exc:
            missing.append(f"{name}: {exc}")
    assert not missing, "docs/writing-an-addon.md names what does not exist:\n" + "\n".join(missing)


API_PATH = re.compile(r"(/api/v1/[A-Za-z0-9_/<>.\-{}]*)")


def _documented_api_paths() -> list[tuple[str, str]]:
    """``(page, path)`` of every ``/api/v1/...`` path named in the README and docs/ (``<id>``
    and ``{id}`` are placeholders; ``/api/v1/<addon>/...`` and ``...`` are generic)."""
    out = []
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        for path in API_PATH.findall(page.read_text("utf-8")):
            path = path.rstrip("/.")
            if "<addon>" in path or path.endswith("..."):
                continue
            out.append((str(page.relative_to(ROOT)), path))
    return out


def _all_addons() -> tuple[str, ...]:
    from core.addons.discovery import discover

    return tuple(sorted(n for n, i in discover().items() if i.manifest.installable))


@pytest.mark.addons(*_all_addons())
def test_documented_api_paths_exist(rt):
    """Every ``/api/v1/...`` path the README and docs/ name is a route of the app with every
    available addon (the seven built-in ones and the example giftcard) installed; a path
    prefix of one counts (``/api/v1/membership``)."""
    from core.api.testing import build_app

    app = build_app(rt)

    def shape(path: str) -> str:
        return re.sub(r"<[^>]*>|\{[^}]*\}", "<>", path.split("?")[0]).rstrip("/")

    routes = {shape(r.rule) for r in app.url_map.iter_rules()}
    missing = sorted({f"{page}: {path}" for page, path in _documented_api_paths()
                      if shape(path) not in routes and not any(r.startswith(shape(path) + "/") for r in routes)})
    assert not missing, "documented API paths that do not exist:\n" + "\n".join(missing)


BANYAN_LINE = re.compile(r"(?:^|`|\$\()banyan ([^`\n#)]*)", re.M)


def _documented_banyan_commands() -> list[tuple[str, list[str]]]:
    """``(page, words)`` of every ``banyan ...`` command line in the README and docs/ (in code
    blocks and inline code), ``a|b|c`` alternatives expanded."""
    import shlex

    out = []
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        for line in BANYAN_LINE.findall(page.read_text("utf-8")):
            line = line.split("&&")[0].split(" ->")[0].strip()
            try:
                words = shlex.split(line)
            except ValueError:
                continue
            variants = [[]]
            for w in words:
                alts = w.split("|") if "|" in w and not w.startswith("-") else [w]
                variants = [v + [a] for v in variants for a in alts]
            out += [(str(page.relative_to(ROOT)), v) for v in variants]
    return out


def test_documented_banyan_commands_exist():
    """Every ``banyan`` command the README and docs/ show names commands and options that
    exist (``banyan addons uninstall loyalty --purge``, ``banyan users token pos --label``)."""
    import click

    from core.cli import main

    wrong = []
    for page, words in _documented_banyan_commands():
        cmd, rest = main, list(words)
        if rest[:1] == ["--config"]:
            rest = rest[2:]
        while isinstance(cmd, click.Group) and rest and not rest[0].startswith("-"):
            name = rest[0]
            if name in ("...", "<command>", "COMMAND"):
                rest = []
                break
            sub = cmd.commands.get(name)
            if sub is None:
                wrong.append(f"{page}: banyan {' '.join(words)}: no command {name!r}")
                break
            cmd, rest = sub, rest[1:]
        else:
            options = {o for p in cmd.params for o in getattr(p, "opts", ()) + getattr(p, "secondary_opts", ())}
            options.add("--help")
            for w in rest:
                opt = w.split("=")[0].strip("[]")
                if opt.startswith("--") and opt not in options:
                    wrong.append(f"{page}: banyan {' '.join(words)}: {cmd.name} has no option {opt}")
    assert not wrong, "documented banyan commands that do not exist:\n" + "\n".join(sorted(set(wrong)))


def _page_code(page: Path) -> str:
    text = page.read_text("utf-8")
    blocks = re.findall(r"^```[^\n]*\n(.*?)^```", text, re.M | re.S)
    rest = re.sub(r"^```[^\n]*\n.*?^```", "", text, flags=re.M | re.S)
    return "\n".join(blocks + re.findall(r"`([^`\n]+)`", rest))


def test_names_in_every_page_exist():
    """As :func:`test_guide_names_exist`, for the README and every page of docs/ (the hooks
    reference, the addons' pages): a dotted ``core.``/``addons.`` name in code is importable,
    unless it is a permission code or a job name of the kernel or an addon."""
    from core.addons.discovery import discover
    from core.plugins import build_registry

    available = discover()
    reg = build_registry(list(available), available=available, only=[])
    not_python = ({perm.name for _, perm in reg.collect_items("register_permissions")}
                  | {job.name for _, job in reg.collect_items("register_jobs")})
    missing = []
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        for name in sorted(set(DOTTED.findall(_page_code(page)))):
            if name in not_python:
                continue
            try:
                _resolve(name)
            except (ImportError, AttributeError) as exc:
                missing.append(f"{page.relative_to(ROOT)}: {name}: {exc}")
    assert not missing, "the docs name what does not exist:\n" + "\n".join(missing)
