"""The web app: FastAPI routes, server-rendered pages (Jinja2 + htmx) and the JSON API."""
