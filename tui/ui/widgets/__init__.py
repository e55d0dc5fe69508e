"""Widgets of the dashboard, one per area of the screen."""
