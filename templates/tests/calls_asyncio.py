"""Fixtures that call the driver and its transport the same way, whichever
their driver_api: here, coroutines, on one event loop per test, as the
controller runs them on its own."""

import asyncio

import pytest


@pytest.fixture
def loop():
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@pytest.fixture
def call(loop):
    """call(coroutine): its result, awaited on this test's event loop."""
    return loop.run_until_complete


@pytest.fixture
def concurrently(loop):
    """concurrently(*calls): run the coroutine functions at once, as
    two RPC clients would with allow_parallel; their results, in order."""
    def run(*calls):
        async def gather():
            return await asyncio.gather(*(function() for function in calls))
        return loop.run_until_complete(gather())
    return run
