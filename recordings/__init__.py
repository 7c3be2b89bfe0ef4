"""Bundled recordings; installed as the `fakekis.recordings` package so `fakekis demo` finds them anywhere."""
