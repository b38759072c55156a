"""Benchmarks that print figures (see README.md); a package so that bench/search.py is `bench.search`."""
