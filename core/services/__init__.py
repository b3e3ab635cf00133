"""Business operations on a session. They flush but never commit: the caller (API, back
office, CLI, job) wraps each operation in ``core.db.transaction`` so it is all-or-nothing."""
