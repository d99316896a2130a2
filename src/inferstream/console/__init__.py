"""The live web console of a running pipeline: the blueprint as a graph, throughput, errors, lag,
model calls and model-server endpoints, updated over server-sent events.

    console = ConsoleServer(RunnerProbe(runner), port=8080)   # 127.0.0.1 by default
    url = await console.start()                               # open it in a browser
    ...
    await console.stop()

The page and its script are files of this package (``assets/``): nothing is fetched from a CDN.
"""

from inferstream.console.graph import blueprint_graph
from inferstream.console.probes import ProcessProbe, RunnerProbe, RunProbe
from inferstream.console.server import ConsoleServer, parse_address

__all__ = ["ConsoleServer", "ProcessProbe", "RunProbe", "RunnerProbe", "blueprint_graph", "parse_address"]
