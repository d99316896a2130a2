"""The built-in model server (``inferstream serve``): TF Serving REST + gRPC and V2 REST + gRPC.

One ``DataPlane`` (model repository, version resolution, adaptive batching, inference on worker
threads) with thin protocol adapters on top::

    rest.py ─┬─ rest_tfserving.py   /v1/models/<m>[/versions/<v>][:predict|/metadata]
             └─ rest_v2.py          /v2/models/<m>[/versions/<v>][/infer|/ready], /v2/health/*
    grpc_server.py ─┬─ grpc_tfserving.py  tensorflow.serving.PredictionService, ModelService
                    └─ grpc_v2.py         inference.GRPCInferenceService
    dataplane.py ── repository.py (models: ``inferstream.models``), adaptive_batching.py, metrics.py

Start it from a shell::

    inferstream serve --model fraud=models/fraud --port 0 --grpc-port 0 --ready-file ports.json

``ports.json`` appears (atomically) once both ports serve: ``{"host", "rest_port", "grpc_port",
"pid"}``. SIGINT or SIGTERM stops it. From Python (same event loop)::

    from inferstream.server.app import ModelServer
    from inferstream.server.settings import ServerSettings

    server = ModelServer(ServerSettings(rest_port=0, grpc_port=0), {"fraud": Path("models/fraud")})
    ports = await server.start()   # BoundPorts(host, rest, grpc)
    ...
    await server.stop()

Defaults: 127.0.0.1, REST 8501, gRPC 8500 (TF Serving's), request bodies up to 64 MiB, adaptive
batching up to 256 rows per call. ``/metrics`` (Prometheus) and ``/healthz`` are on the REST port.
"""

__all__: list[str] = []  # import from the modules (server.app, server.settings): keeps gRPC off `import`
