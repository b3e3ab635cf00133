"""Factories for shared data: ``make.store()``, ``make.customer()``, ``make.sale()`` ..."""
from __future__ import annotations

import itertools
from datetime import datetime
from decimal import Decimal

from core.models import (Company, Customer, Employee, PriceList, Product, ProductCategory, Region, Role,
                         Store, User)
from core.services.checkout import CheckoutRequest, LineRequest, PaymentRequest, checkout
from core.services.pricing import set_price

_seq = itertools.count(1)


class Factories:
    def __init__(self, session):
        self.session = session
        self._hq = None
        self._region = None
        self._chain_list = None

    def _n(self) -> int:
        return next(_seq)

    def company(self, kind="hq", **kw) -> Company:
        n = self._n()
        c = Company(code=kw.pop("code", f"C{n}"), name=kw.pop("name", f"Company {n}"), kind=kind, **kw)
        self.session.add(c)
        self.session.flush()
        return c

    @property
    def hq(self) -> Company:
        if self._hq is None:
            self._hq = self.company("hq", name="HQ")
        return self._hq

    def region(self, company=None, **kw) -> Region:
        n = self._n()
        r = Region(code=kw.pop("code", f"R{n}"), name=kw.pop("name", f"Region {n}"),
                   company_id=(company or self.hq).id, **kw)
        self.session.add(r)
        self.session.flush()
        return r

    def store(self, region=None, kind="direct", operator=None, **kw) -> Store:
        n = self._n()
        if region is None:
            if self._region is None:
                self._region = self.region()
            region = self._region
        if operator is None:
            operator = self.hq if kind == "direct" else self.company("franchisee")
        s = Store(code=kw.pop("code", f"S{n}"), name=kw.pop("name", f"Store {n}"), region_id=region.id,
                  kind=kind, operating_company_id=operator.id, **kw)
        self.session.add(s)
        self.session.flush()
        return s

    def customer(self, **kw) -> Customer:
        n = self._n()
        kw.setdefault("name", f"Customer {n}")
        c = Customer(**kw)
        self.session.add(c)
        self.session.flush()
        return c

    def chain_price_list(self) -> PriceList:
        if self._chain_list is None:
            from sqlalchemy import select

            self._chain_list = self.session.execute(
                select(PriceList).where(PriceList.code == "RETAIL")).scalar()
            if self._chain_list is None:
                self._chain_list = PriceList(code="RETAIL", name="Retail", kind="retail")
                self.session.add(self._chain_list)
                self.session.flush()
        return self._chain_list

    def product(self, price="10.00", category=None, **kw) -> Product:
        n = self._n()
        p = Product(sku=kw.pop("sku", f"SKU{n}"), name=kw.pop("name", f"Product {n}"),
                    category_id=category.id if category else None, **kw)
        self.session.add(p)
        self.session.flush()
        if price is not None:
            set_price(self.session, self.chain_price_list(), p, Decimal(price), datetime(2000, 1, 1))
        return p

    def category(self, **kw) -> ProductCategory:
        n = self._n()
        c = ProductCategory(code=kw.pop("code", f"CAT{n}"), name=kw.pop("name", f"Category {n}"), **kw)
        self.session.add(c)
        self.session.flush()
        return c

    def employee(self, store=None, role="clerk", **kw) -> Employee:
        n = self._n()
        e = Employee(code=kw.pop("code", f"E{n}"), name=kw.pop("name", f"Employee {n}"),
                     store_id=store.id if store else None, role=role, **kw)
        self.session.add(e)
        self.session.flush()
        return e

    def user(self, roles=("hq_admin",), password="secret-pass-1", scope_kind="all", scope_ref_id=None,
             superuser=False, **kw) -> User:
        from core.security.passwords import hash_password

        n = self._n()
        u = User(username=kw.pop("username", f"user{n}"), password_hash=hash_password(password),
                 scope_kind=scope_kind, scope_ref_id=scope_ref_id, is_superuser=superuser, **kw)
        u.roles = [self.session.get(Role, r) or Role(code=r, name=r) for r in roles]
        self.session.add(u)
        self.session.flush()
        return u

    def sale(self, store=None, products=None, customer=None, qty="1", payments=None, user=None, **kw):
        store = store or self.store()
        products = products or [self.product()]
        req = CheckoutRequest(store_id=store.id,
                              lines=[LineRequest(p.id, Decimal(qty)) for p in products],
                              payments=payments or [PaymentRequest("cash")],
                              customer_id=customer.id if customer else None, **kw)
        return checkout(self.session, req, user=user)
