"""The auditors' dashboard, served by the collector under /ui (server-rendered HTML, no script).

Mounted by `collector.app.create_app` with `app.include_router(collector.ui.router.router)`.
"""
