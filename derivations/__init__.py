"""SymPy derivations, one module per model. Each has `check()` asserting its identities
and limits, and exports lambdified functions that the tests compare with the JAX numerics.

Run every check with `python -m derivations`."""
