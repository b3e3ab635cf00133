"""The kernel's REST resources (mounted under ``/api/v1/`` by ``core.defaults.api``), one
module per resource:

=================  ==================  ==============================================
module             blueprint           paths
=================  ==================  ==============================================
``org``            ``core_org``        ``/stores``, ``/companies``, ``/regions``
``customers``      ``core_customers``  ``/customers``
``products``       ``core_products``   ``/products``, ``/categories``, ``/price-lists``
``employees``      ``core_employees``  ``/employees``
``sales``          ``core_sales``      ``/sales``
``account``        ``core_account``    ``/tokens``, ``/me``
=================  ==================  ==============================================

Every view runs on the request's record-scoped session (``core.web.db_session()``), so a
user only ever reads or references rows of the stores they may see: a path parameter
outside their scope is 404, a body reference 422 naming the field (:mod:`core.api.visible`).
Writes run inside ``core.db.transaction``. Schemas are in :mod:`core.api.schemas`, input
fields in :mod:`core.api.fields`.
"""
from __future__ import annotations

from core.api.resources.account import account
from core.api.resources.customers import customers
from core.api.resources.employees import employees
from core.api.resources.org import orgs
from core.api.resources.products import products
from core.api.resources.sales import sales
# the former module's helpers, for code that imported them from here
from core.api.visible import get_visible, ref_visible, require_store_for_scoped, scope_store_ids  # noqa: F401

#: mounted in this order (the OpenAPI document lists their tags so)
BLUEPRINTS = (orgs, customers, products, employees, sales, account)
