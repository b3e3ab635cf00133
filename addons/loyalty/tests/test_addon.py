from core.testing.checks import AddonChecks


class TestLoyalty(AddonChecks):
    addon = "loyalty"
