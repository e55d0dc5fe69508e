"""Modal screens: scenario picker, confirmation, help, diagnostics."""
