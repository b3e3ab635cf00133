"""Code never stores a sentence it composes (English, or translated into the writer's
language) where people of another language read it: it stores a code and the figures of the
sentence (``core.labels.Phrases``, ``core.mixins.CodedNote``), an approval request a
language-free ``subject``, and a sale adjustment a lazy label (its msgid and arguments). This
scans the kernel's and the addons' code for the shapes the earlier faults had: a note,
reason, error, approval or adjustment label given as an f-string, a
``gettext``/``_``/``str(_l(...))`` call or a label made text (``str(item.get("label"))``) --
as a keyword, a row dict's key, an attribute or a dict item (``outcome["error"] = _(...)``)
assigned, directly or through a local name that holds such a value."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: keyword arguments that end up in a stored note, reason or label
STORED = {"note", "reason", "lift_reason", "hold_reason", "label", "description", "error"}
#: calls whose ``label=``/``description=`` is no stored value (declarations, widgets, docs)
NOT_STORED = {"request_approval"}  # checked below: its label must not be composed either
#: calls whose label a sale keeps, by the position of ``label``: an adjustment's label
#: (``core.contrib.Adjustment``) is a lazy string (msgid and arguments kept) or data, never a
#: sentence already translated into the cashier's language
LABEL_KEPT = {"Adjustment": 2}
#: (file, line text) known to be fine: the words are not the code's (an email's sender and subject)
ALLOWED = {("addons/call_center/intake.py", 'note=f"{sender}: {subject}"')}
TRANSLATE = {"_", "gettext", "ngettext"}
#: calls that answer the request in its user's language (a page, a message), never store
ANSWERS = {"render_template", "render", "flash", "jsonify"}


def _labelled(node) -> bool:
    """Whether ``node`` reads a hook item's label (``item.get("label")``): a lazy text that
    ``str()`` turns into the current user's language."""
    return any(isinstance(n, ast.Call) and _call_name(n) == "get" and n.args
               and isinstance(n.args[0], ast.Constant) and n.args[0].value == "label" for n in ast.walk(node))


def _composed(value, names=frozenset()) -> bool:
    """Whether ``value`` is a sentence composed or translated by code; ``names`` are the local
    names assigned such a value before (``label = str(item.get("label"))`` ... ``note=label``)."""
    if isinstance(value, ast.Name):
        return value.id in names
    if isinstance(value, ast.JoinedStr):
        return True
    if isinstance(value, ast.BoolOp):  # (v.get("note") or "opening balance")
        return any(_composed(v, names) for v in value.values)
    if isinstance(value, ast.Constant) and isinstance(value.value, str):
        return " " in value.value.strip()  # English words ("customer merge"), not a code
    if isinstance(value, ast.Subscript) and isinstance(value.slice, ast.Slice):  # f"..."[:255]
        return _composed(value.value, names)
    if isinstance(value, ast.Call):
        name = value.func.id if isinstance(value.func, ast.Name) else getattr(value.func, "attr", "")
        if name in TRANSLATE:
            return True
        if name == "str" and value.args and _labelled(value.args[0]):
            return True  # str(item.get("label")): the label in the current user's language
        if name == "str" and value.args and isinstance(value.args[0], ast.Call):
            inner = value.args[0].func
            return (inner.id if isinstance(inner, ast.Name) else getattr(inner, "attr", "")) in ("_l", "lazy_gettext")
    return False


def _composed_names(tree) -> dict:
    """``{id(function or module): names}``: the local names each function (or the module)
    assigns a composed value to."""
    out: dict = {}
    scopes = [tree] + [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    for scope in scopes:
        names: set = set()
        for n in ast.walk(scope):
            if isinstance(n, ast.Assign) and _composed(n.value, frozenset(names)):
                names.update(t.id for t in n.targets if isinstance(t, ast.Name))
        out[id(scope)] = frozenset(names)
    return out


def _scope_of(tree) -> dict:
    """``{id(node): id(its innermost function, or the module)}``."""
    out = {}

    def visit(node, scope):
        for child in ast.iter_child_nodes(node):
            inner = id(child) if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) else scope
            out[id(child)] = inner
            visit(child, inner)

    visit(tree, id(tree))
    return out


def _call_name(node: ast.Call) -> str:
    return node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")


def _kept_labels(node: ast.Call) -> list:
    """The label values of a :data:`LABEL_KEPT` call (positional or ``label=``)."""
    pos = LABEL_KEPT.get(_call_name(node))
    if pos is None:
        return []
    return [kw.value for kw in node.keywords if kw.arg == "label"] + node.args[pos:pos + 1]


def test_no_code_composed_sentence_is_stored():
    found = []
    files = [p for base in ("core", "addons") for p in (ROOT / base).rglob("*.py")
             if "/tests/" not in p.as_posix() and "/migrations/" not in p.as_posix()
             and p.name != "demo.py"]  # demo data is sample people's words
    for path in files:
        rel = path.relative_to(ROOT).as_posix()
        source = path.read_text(encoding="utf-8")
        lines = source.splitlines()
        tree = ast.parse(source)
        local_names, scope_of = _composed_names(tree), _scope_of(tree)
        answers = set()  # dicts that are an answer or an error, never stored: returned, raised
        for node in ast.walk(tree):
            if isinstance(node, (ast.Return, ast.Raise)):
                answers.update(id(n) for n in ast.walk(node) if isinstance(n, ast.Dict))
        for node in ast.walk(tree):
            if id(node) in answers:
                continue
            names = local_names.get(scope_of.get(id(node)), frozenset())
            # a row's dict (``"reason": gettext(...)``), an attribute (``entry.note = f"..."``) or
            # a dict's item (``outcome["error"] = _(...)``)
            pairs = []
            if isinstance(node, ast.Dict):
                pairs = [(k.value, v) for k, v in zip(node.keys, node.values)
                         if isinstance(k, ast.Constant) and k.value in STORED - {"label", "description"}]
            elif isinstance(node, ast.Assign):
                pairs = [(t.attr, node.value) for t in node.targets
                         if isinstance(t, ast.Attribute) and t.attr in STORED - {"label", "description"}]
                pairs += [(t.slice.value, node.value) for t in node.targets
                          if isinstance(t, ast.Subscript) and isinstance(t.slice, ast.Constant)
                          and t.slice.value in STORED - {"label", "description"}]
            for key, value in pairs:
                text = lines[value.lineno - 1]
                if _composed(value, names) and not any(rel == f and snippet in text for f, snippet in ALLOWED):
                    found.append(f"{rel}:{value.lineno}: {key}: {text.strip()}")
            if not isinstance(node, ast.Call):
                continue
            name = _call_name(node)
            if name in ANSWERS:
                continue
            if name == "str" and node.args and _labelled(node.args[0]):
                # a hook item's label made text in this user's language, carried on as data (the
                # franchise statement's clearing lines kept it): ask the hook for a code instead
                found.append(f"{rel}:{node.lineno}: label made text: {lines[node.lineno - 1].strip()}")
            for value in _kept_labels(node):
                if _composed(value, names):
                    found.append(f"{rel}:{value.lineno}: label= {lines[value.lineno - 1].strip()}")
            for kw in node.keywords:
                if kw.arg not in STORED or not _composed(kw.value, names):
                    continue
                if kw.arg in ("label", "description") and name not in NOT_STORED:
                    continue  # a declaration's label (a permission, a widget), not a stored row's
                text = lines[kw.value.lineno - 1]
                if any(rel == f and snippet in text for f, snippet in ALLOWED):
                    continue
                found.append(f"{rel}:{kw.value.lineno}: {kw.arg}= {text.strip()}")
    assert not found, "store a code and its figures, not a sentence:\n" + "\n".join(found)


def test_the_scan_finds_the_shapes_it_looks_for():
    """The check itself can fail: each earlier fault's shape is found."""
    dict_value = ast.parse('{"reason": gettext("Tier bonus of %(period)s", period=p)[:255]}').body[0].value.values[0]
    assert _composed(dict_value)
    bad = ['x(note=f"customer {cid}")', 'x(note=_("Refund of %(sale)s", sale=n))',
           'x(reason=gettext("Tier bonus")[:255])', 'request_approval(s, a, {}, 1, u, label=f"{_l(\'Refund\')} {n}")',
           'x(note=str(_l("Minimum monthly royalty %(amount)s", amount=a)))']
    for src in bad:
        call = ast.parse(src).body[0].value
        kw = call.keywords[-1]
        assert _composed(kw.value), src
    assert not _composed(ast.parse('x(note="import")').body[0].value.keywords[0].value)
    assert _composed(ast.parse('x(lift_reason="customer merge")').body[0].value.keywords[0].value)
    assert _composed(ast.parse('x(note=(v.get("note") or "opening balance")[:255])').body[0].value.keywords[0].value)


def _scan_source(src: str) -> list[str]:
    """What the scan names in ``src`` (a module's text), as ``key: line``."""
    tree = ast.parse(src)
    local_names, scope_of = _composed_names(tree), _scope_of(tree)
    found = []
    for node in ast.walk(tree):
        names = local_names.get(scope_of.get(id(node)), frozenset())
        if isinstance(node, ast.Call) and _call_name(node) == "str" and node.args and _labelled(node.args[0]):
            found.append("label made text")
        if isinstance(node, ast.Assign):
            for t in node.targets:
                key = t.attr if isinstance(t, ast.Attribute) else (
                    t.slice.value if isinstance(t, ast.Subscript) and isinstance(t.slice, ast.Constant) else None)
                if key in STORED and _composed(node.value, names):
                    found.append(key)
        if isinstance(node, ast.Call) and _call_name(node) not in ANSWERS:
            found += [kw.arg for kw in node.keywords if kw.arg in STORED - {"label", "description"}
                      and _composed(kw.value, names)]
            found += ["label" for value in _kept_labels(node) if _composed(value, names)]
    return found


def test_the_scan_finds_an_adjustment_label_translated_for_the_cashier():
    """A ``price_ticket`` rule's label translated when the ticket is priced was stored in the
    cashier's language (membership's tier discount did that): given by keyword, by position
    or through a local name. A lazy string, a promotion's name or a name and a code is fine."""
    tier = ('def price_ticket(session, ticket):\n'
            '    label = _("%(tier)s member discount %(pct)s%%", tier=t, pct=p)\n'
            '    return [Adjustment(amount=a, rule_code="m", label=label, line=ln)]\n')
    assert _scan_source(tier) == ["label"]
    assert _scan_source('Adjustment(-a, "giftcard.spend300", _("30 off over 300"), priority=50)') == ["label"]
    assert _scan_source('Adjustment(-a, "giftcard.spend300", _l("30 off over 300"), priority=50)') == []
    assert _scan_source('Adjustment(-a, code, promo.name, None, 1)') == []
    assert _scan_source('Adjustment(-a, code, label=_l("%(tier)s member discount %(pct)s%%", tier=t, pct=p))') == []


def test_the_scan_finds_the_import_error_and_the_clearing_label():
    """The shapes of the last faults of the class: an import's error translated into the
    importing user's language (a keyword of ``dict.update``, a dict item), and a clearing
    line's note made of a hook's label through a local name."""
    assert _scan_source('outcome.update(state="failed", error=_("The import stopped: %(error)s", error=e)[:4000])') \
        == ["error"]
    assert _scan_source('outcome["error"] = _("Nothing was imported: %(n)s row(s) have errors.", n=n)') == ["error"]
    clearing = ('def f(items, lines):\n'
                '    for item in items:\n'
                '        label = str(item.get("label") or "")\n'
                '        lines.append(_line("clearing", 1, note=label[:255] or None))\n')
    assert sorted(_scan_source(clearing)) == ["label made text", "note"]
    assert _scan_source('def f(item, out):\n    label = str(item.get("label") or "")\n    out[(1, label)] += 2\n') \
        == ["label made text"]
    assert _scan_source('refund_or_request(s, i, u, reason=gettext("Refund from the back office"))') == ["reason"]
    # what the code writes now is no sentence: codes, figures, a person's words, an answer
    assert _scan_source('outcome.update(error_code="stopped", error_args={"error": str(exc)})') == []
    assert _scan_source('def f(item):\n    what = str(item.get("code") or "")\n    x(note=what)\n') == []
    assert _scan_source('def f():\n    error = gettext("Wrong password")\n'
                        '    return render_template("login.html", error=error)\n') == []
