"""Bundled recordings; installed as the `fakekis.bundled` package so `fakekis demo` finds them anywhere."""
