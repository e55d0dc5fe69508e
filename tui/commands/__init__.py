"""Entry points: the command line, ``doctor`` and the HTTP API. They compose the other layers."""
