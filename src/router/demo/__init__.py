"""``router demo``: the shipped policies on emulated providers, offline, no keys.

- :mod:`router.demo.run`: start emulators and router, show two routed requests;
- :mod:`router.demo.emulate`: rewrite a config's deployments onto the emulators;
- :mod:`router.demo.traffic`: ``--traffic N``, a sample workload and its cost table;
- :mod:`router.demo.fixture`: the small emulator catalog tests and benches build on.
"""

from router.demo.fixture import DEMO_KEY_ENV, Endpoints, demo_config, write_demo_config

__all__ = ["DEMO_KEY_ENV", "Endpoints", "demo_config", "write_demo_config"]
