"""CI output formats of `weightmatch check` besides report.py's text and JSON."""
