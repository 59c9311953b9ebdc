"""One deterministic script per figure. Run them all with `python -m figures`."""
