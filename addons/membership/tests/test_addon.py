from core.testing.checks import AddonChecks


class TestMembership(AddonChecks):
    addon = "membership"
