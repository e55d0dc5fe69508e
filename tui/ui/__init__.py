"""The Textual dashboard: the app, its messages, widgets, screens and stylesheet.

The only package that imports Textual; it renders what :mod:`tui.core` computes.
"""
