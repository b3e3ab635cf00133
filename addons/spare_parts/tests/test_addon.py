"""The generic addon checks (``core.testing.checks.AddonChecks``)."""
import pytest

from core.testing.checks import AddonChecks

pytestmark = pytest.mark.addons("spare_parts")


class TestSpareParts(AddonChecks):
    addon = "spare_parts"
