"""Tests of the web app through its ASGI interface."""
