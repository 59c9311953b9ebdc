"""Analytically tractable models, each beside its SymPy derivation in `derivations/`.

Submodules: `toymodels.models.ghost`, `toymodels.models.random_features`,
`toymodels.models.wedge`, `toymodels.models.channels`, ... (import them directly)."""
