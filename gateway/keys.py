"""Typed keys for the application's shared state."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from core.settings import Settings

if TYPE_CHECKING:
    from gateway.service import Service

SETTINGS = web.AppKey("settings", Settings)
SERVICE: web.AppKey["Service"] = web.AppKey("service")
