"""The generic addon checks."""
import pytest

from core.testing.checks import AddonChecks

pytestmark = pytest.mark.addons("commissions")


class TestCommissions(AddonChecks):
    addon = "commissions"
