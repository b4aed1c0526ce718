"""The local stack daemon: moto behind our router, plus the data plane that runs endpoints.

Modules follow a request: router -> invoke -> queue -> deliver, beside lifecycle, scaling,
metrics, logship and journal.
"""
