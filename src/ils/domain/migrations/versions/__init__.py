"""The migration scripts, one revision each, named ``NNNN_what.py`` in the order they apply."""
