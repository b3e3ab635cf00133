"""Role editing: the permissions as translated checkboxes, grouped by the addon that declares
them (the kernel first, then addons in install order), instead of a multi-select of codes.

``permission_groups(rt)`` reads the declarations through the registry's
``register_permissions`` hook implementations, so a permission is listed under its owner
and a new addon's permissions appear without changes here. The posted field is still
``grants`` (one value per ticked permission); unknown codes are refused by the field.
"""
from __future__ import annotations

from markupsafe import Markup, escape

from core.i18n import lazy_gettext as _l

KERNEL_TITLE = _l("Kernel")


def permission_groups(rt) -> list[tuple[object, list[tuple[str, object]]]]:
    """``[(group title, [(permission name, translated label), ...]), ...]``: one group per
    declaring plugin (the kernel's defaults together), permissions sorted by name."""
    pm = rt.registry.pm
    names = ["core"] + list(rt.registry.names)
    titles = {info.name: _l(info.manifest.title) for info in rt.registry.addons}
    groups: dict[str, dict[str, object]] = {}
    for impl in pm.hook.register_permissions.get_hookimpls():
        owner = "core" if impl.plugin_name.startswith("core.") else impl.plugin_name
        for perm in impl.function() or ():
            groups.setdefault(owner, {})[perm.name] = perm.label
    order = {n: i for i, n in enumerate(names)}
    out = []
    for owner in sorted(groups, key=lambda o: (order.get(o, len(order)), o)):
        title = KERNEL_TITLE if owner == "core" else titles.get(owner, owner)
        out.append((title, sorted(groups[owner].items())))
    return out


class PermissionChecklist:
    """WTForms widget of a ``SelectMultipleField`` whose ``groups`` attribute holds
    :func:`permission_groups`: a fieldset of checkboxes per group, the code as a tooltip.
    A permission outside the field's ``held`` set (the editor's own permissions; None =
    all) is shown disabled: nobody grants or withdraws what they do not hold
    (``core.security.delegation``)."""

    def __call__(self, field, **kwargs):
        chosen = set(field.data or ())
        held = getattr(field, "held", None)  # None: the user may change every permission
        parts = ['<div class="permission-groups" id="%s">' % escape(field.id)]
        for gi, (title, perms) in enumerate(getattr(field, "groups", ()) or ()):
            parts.append('<fieldset class="border rounded p-2 mb-2 permission-group"><legend class="h6 w-auto px-1">'
                         f'{escape(title)}</legend><div class="row">')
            for pi, (name, label) in enumerate(perms):
                cid = f"{field.id}-{gi}-{pi}"
                checked = " checked" if name in chosen else ""
                if held is not None and name not in held:
                    checked += " disabled"  # not the user's to grant or withdraw
                parts.append(f'<div class="col-12 col-md-6 col-xl-4"><div class="form-check">'
                             f'<input class="form-check-input" type="checkbox" name="{escape(field.name)}" '
                             f'id="{cid}" value="{escape(name)}"{checked}>'
                             f'<label class="form-check-label" for="{cid}" title="{escape(name)}">{escape(label)}'
                             f'</label></div></div>')
            parts.append("</div></fieldset>")
        parts.append("</div>")
        return Markup("".join(parts))
