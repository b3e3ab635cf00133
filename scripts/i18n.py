#!/usr/bin/env python3
"""Translation workflow (see docs/translations.md).

    python scripts/i18n.py extract  [NAME...]  # source -> <component>/translations/messages.pot
    python scripts/i18n.py update   [NAME...]  # merge the .pot into zh_Hans and en .po (msgmerge)
    python scripts/i18n.py compile  [NAME...]  # .po -> .mo (committed)
    python scripts/i18n.py check    [NAME...]  # exit 1 listing missing, fuzzy or stale entries
    python scripts/i18n.py all      [NAME...]  # extract + update + compile, then report what to translate

NAME is ``core`` (the kernel) or an addon name; default: every component.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core import i18n_tools as t  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="i18n.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["extract", "update", "compile", "check", "all"])
    parser.add_argument("names", nargs="*", help="core and/or addon names (default: all)")
    parser.add_argument("--no-fuzzy", action="store_true",
                        help="update: do not guess translations of changed strings (marked fuzzy)")
    args = parser.parse_args(argv)
    comps = t.components(args.names or None)
    cmd = args.command
    if cmd in ("extract", "all"):
        for c in comps:
            n = t.extract(c)
            print(f"extract  {c.name:<12} {n:>4} strings -> {c.pot.relative_to(t.ROOT) if c.pot.is_relative_to(t.ROOT) else c.pot}")
    if cmd in ("update", "all"):
        for c in comps:
            t.update(c, fuzzy=not args.no_fuzzy)
            print(f"update   {c.name:<12} {', '.join(str(c.po(loc).parent.parent.name) for loc in t.LOCALES)}")
    if cmd in ("compile", "all"):
        for c in comps:
            n = len(t.compile_(c))
            print(f"compile  {c.name:<12} {n} catalog(s)")
    if cmd in ("check", "all"):
        bad = 0
        for c in comps:
            found = t.problems(c)
            if cmd == "all":  # after a fresh compile only translation work is left
                found = [p for p in found if "stale or missing .mo" not in p]
            for line in found:
                print(line)
            bad += len(found)
        # the app shows one table of every catalog: a msgid translated two ways reads wrong somewhere
        clashes = t.conflicts(t.components())
        for line in clashes:
            print(line)
        bad += len(clashes)
        if bad:
            hint = "translate them, then run: python scripts/i18n.py compile" if cmd == "all" else ""
            print(f"{bad} problem(s). {hint}".strip())
            return 1
        print("all catalogs complete")
    return 0


if __name__ == "__main__":
    sys.exit(main())
