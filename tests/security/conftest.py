"""The security battery reuses the integration fixtures (real `bay` and `ship` processes).

tests/integration/conftest.py is loaded under its own module name and its fixtures and
helpers are re-exported here, so a test in tests/security/ uses `bay`, `bay_factory`, ...
exactly as an integration test does.
"""

import importlib.util
import pathlib
import sys

_path = pathlib.Path(__file__).resolve().parents[1] / "integration" / "conftest.py"
_spec = importlib.util.spec_from_file_location("shipyard_integration_conftest", _path)
assert _spec is not None and _spec.loader is not None
_mod = importlib.util.module_from_spec(_spec)
sys.modules["shipyard_integration_conftest"] = _mod
_spec.loader.exec_module(_mod)

globals().update({k: v for k, v in vars(_mod).items() if not k.startswith("__")})
