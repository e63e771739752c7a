"""The `scisynth` command line: one thin adapter per command over the services (service/), printing a result for
people or, with --json, for programs."""
