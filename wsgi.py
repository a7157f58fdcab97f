"""Entry point for WSGI servers: ``gunicorn wsgi:app``."""

import gc

from app import create_app

app = create_app()
# What exists after start-up (modules, models, the app) lives as long as the process:
# move it out of the cyclic GC's reach, or every full collection re-scans ~190k objects
# (~90 ms on the 2-core bench machine), a stall every few thousand requests per worker.
gc.freeze()
