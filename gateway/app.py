"""`create_app(settings)`: the aiohttp application with every face and its resources."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

from aiohttp import web

from broker.events import Events, RabbitEvents
from broker.setup import rabbitmq_broker
from core import metrics
from core.objects import ObjectStore
from core.settings import Settings
from gateway.keys import BROKER, CONTEXT, EVENTS, OPENAPI, POOL, SERVICE, SETTINGS
from gateway.openapi import document
from gateway.problems import problems
from gateway.routes import abaco, abaco_executions, api_docs, health, objects, oscar, storage, v1
from gateway.service import Service
from gateway.waiting import Waiters
from jobs.context import JobContext

POOL_THREADS = 8


@web.middleware
async def measure(request: web.Request, handler) -> web.StreamResponse:
    resource = request.match_info.route.resource
    route = resource.canonical if resource is not None else "unmatched"
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        metrics.HTTP_REQUESTS.labels(route, request.method, str(status)).inc()
        metrics.HTTP_LATENCY.labels(route).observe(time.perf_counter() - started)


def create_app(settings: Settings, *, broker=None, events: Events | None = None,
               object_store: ObjectStore | None = None) -> web.Application:
    """Build the gateway. `broker` and `events` default to RabbitMQ at `settings.broker_url`;
    the one-process stack passes in-process ones, and the unit tests an object store too."""
    app = web.Application(middlewares=[measure, problems], client_max_size=settings.max_body)
    app[SETTINGS] = settings
    app.add_routes(health.routes)
    app.add_routes(v1.routes)
    app.add_routes(storage.routes)
    app.add_routes(objects.routes)
    app.add_routes(oscar.routes)
    app.add_routes(abaco.routes)
    app.add_routes(abaco_executions.routes)
    app.add_routes(api_docs.routes)
    app[OPENAPI] = document.build(app)

    async def pool_ctx(app: web.Application):
        app[POOL] = ThreadPoolExecutor(POOL_THREADS, thread_name_prefix="sluice-gateway")
        yield
        app[POOL].shutdown(wait=False, cancel_futures=True)

    async def bus_ctx(app: web.Application):
        loop = asyncio.get_running_loop()
        bus = broker if broker is not None else await loop.run_in_executor(
            app[POOL], rabbitmq_broker, settings.broker_url)
        app[EVENTS] = events if events is not None else RabbitEvents(settings.broker_url,
                                                                      settings.queue)
        app[BROKER] = bus
        yield
        if broker is None:
            await loop.run_in_executor(app[POOL], bus.close)

    async def context_ctx(app: web.Application):
        loop = asyncio.get_running_loop()
        context = JobContext.build(settings, broker=app[BROKER], events=app[EVENTS],
                                   objects=object_store)
        try:
            await loop.run_in_executor(app[POOL], context.prepare)
        except BaseException:
            await loop.run_in_executor(app[POOL], context.close)
            raise
        app[CONTEXT] = context
        yield
        await loop.run_in_executor(app[POOL], context.close)

    async def service_ctx(app: web.Application):
        loop = asyncio.get_running_loop()
        waiters = Waiters(loop, app[EVENTS], app[POOL])
        app[SERVICE] = Service(app[CONTEXT], app[POOL], waiters)
        yield
        await loop.run_in_executor(app[POOL], waiters.close)

    async def release_waiters(app: web.Application):
        """On SIGTERM, once the gateway no longer accepts: each synchronous caller still
        waiting is answered 201 with its job and Location, before the handlers are awaited."""
        if SERVICE in app:
            app[SERVICE].waiters.release_all()

    # One context per resource: each is cleaned up only if it started.
    app.cleanup_ctx.extend([pool_ctx, bus_ctx, context_ctx, service_ctx])
    app.on_shutdown.append(release_waiters)
    return app
