"""Fixtures that call the driver and its transport the same way, whichever
their driver_api: here, plain methods."""

from concurrent.futures import ThreadPoolExecutor

import pytest


@pytest.fixture
def call():
    """call(result): a driver or transport call's result, as it is."""
    return lambda result: result


@pytest.fixture
def concurrently():
    """concurrently(*calls): run the calls at once, each in a thread, as
    two RPC clients would; their results, in order."""
    def run(*calls):
        with ThreadPoolExecutor(len(calls)) as pool:
            return list(pool.map(lambda function: function(), calls))
    return run
