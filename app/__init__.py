"""The web process: Flask REST API (Kestra-shaped JSON under /api/v1), webhooks and the dashboard.

It will be built by ``create_app(settings)``; handlers parse input, call one ``engine.services``
function and shape the response. It never imports Celery directly.
"""
