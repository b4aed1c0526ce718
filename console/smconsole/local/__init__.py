"""The embedded local stack: moto behind our router, plus the local data plane."""
