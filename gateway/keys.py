"""Typed keys for the application's shared state."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from aiohttp import web

from broker.events import Events
from broker.publishing import Broker
from core.settings import Settings
from jobs.context import JobContext

if TYPE_CHECKING:
    from gateway.service import Service

SETTINGS = web.AppKey("settings", Settings)
POOL = web.AppKey("pool", ThreadPoolExecutor)
BROKER = web.AppKey("broker", Broker)
EVENTS = web.AppKey("events", Events)
CONTEXT = web.AppKey("context", JobContext)
SERVICE: web.AppKey["Service"] = web.AppKey("service")
OPENAPI = web.AppKey("openapi", dict)
