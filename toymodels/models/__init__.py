"""Analytically tractable models, each beside its SymPy derivation in `derivations/`.

Each model is a subpackage `toymodels.models.<name>` (its problem, theory and experiments),
reachable after `import toymodels` like the other subpackages (imported on first access):
`ghost`, `random_features`, `wedge`, `channels`, `soudry`, `load_temperature`."""

import importlib


_MODELS = ("ghost", "random_features", "wedge", "channels", "soudry", "load_temperature")


def __getattr__(name):
    if name in _MODELS:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'toymodels.models' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_MODELS))
