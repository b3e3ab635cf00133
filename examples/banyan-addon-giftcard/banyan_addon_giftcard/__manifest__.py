{
    "name": "giftcard",
    "title": "Gift Card",
    "version": "1.0.0",
    "summary": "Prepaid gift cards accepted as a payment method at the till.",
    "description": "An example third-party addon: its own distribution (banyan-addon-giftcard), "
                   "table prefix giftcard_, migration branch, permissions and translations.",
    "category": "Sales/Gift cards",
    "depends": [],
    "requires_core": ">=0.3,<1",
    "license": "LGPL-3.0-or-later",
    "author": "Banyan example",
}
