"""Built-in addons, one package each (declared in setup.cfg under banyan.addons)."""
