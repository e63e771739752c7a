"""Speed and scale measurements (not tests). `make bench` runs them all; each prints a table."""
