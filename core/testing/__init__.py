"""Test support shipped with the kernel (pytest11 entry point ``banyan``): fixtures,
factories and generic per-addon checks, for built-in and third-party addons alike."""
