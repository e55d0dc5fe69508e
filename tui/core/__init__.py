"""The dashboard's core: rooms, observer, state, diagnostics, servers. Plain Python, no Textual.

Everything the screen shows is computed here; :mod:`tui.ui` only renders it. A test imports
every module of this package and checks that Textual stays out (``tests/test_layers.py``).
"""
