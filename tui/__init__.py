"""dispatch-tui: a Textual dashboard for two LiveKit voice agents sharing one room."""
