"""The generic addon checks."""
import pytest

from core.testing.checks import AddonChecks

pytestmark = pytest.mark.addons("call_center")


class TestCallCenter(AddonChecks):
    addon = "call_center"
