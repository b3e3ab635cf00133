"""Demo data of franchise (``banyan demo``): a few items for the first demo customers."""
from __future__ import annotations

from .services import create_item


def load(session, demo) -> None:
    """``demo`` is a ``core.contrib.DemoContext`` (the kernel's chain, customers and products
    are already built); draw every random choice from ``demo.rng`` so runs repeat."""
    for n, customer in enumerate(demo.customers[: max(1, int(10 * demo.scale))], start=1):
        create_item(session, f"Franchise {n}", customer_id=customer.id,
                    note=demo.rng.choice(("", "demo")) or None)
