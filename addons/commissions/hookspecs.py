"""Hooks the commissions addon offers to other addons. Documented in docs/hooks.md (section
"Hooks offered by addons") and tested in ``addons/commissions/tests/test_hooks.py``."""
from __future__ import annotations

from core import hookspec


@hookspec
def commissions_lines_posted(session, line_ids) -> None:
    """Called after commission lines were posted (``line_ids``: their ids, ascending; a
    replay that posted nothing does not call it), in the posting's transaction with the
    employees' accounts still locked: raising aborts the posting and the sale or refund.
    Implemented by: no addon shipped today (a payroll bridge would)."""
