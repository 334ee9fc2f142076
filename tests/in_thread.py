"""The runtime's server (or sipyco's) on a loopback port, its event loop
in a thread of its own: the in-process tests' controller."""

import asyncio
import threading


class InThread:
    """``server`` started on ``host`` (a free port), served until stop()."""

    def __init__(self, server, host="127.0.0.1", ssl_config=None):
        self.server = server
        self.loop = asyncio.new_event_loop()
        self.loop.run_until_complete(server.start(host, 0, ssl_config))
        self.port = server.server.sockets[0].getsockname()[1]
        self.thread = threading.Thread(target=self.loop.run_forever)
        self.thread.start()

    def stop(self, timeout=10):
        asyncio.run_coroutine_threadsafe(self.server.stop(),
                                         self.loop).result(timeout)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout)
        self.loop.close()
