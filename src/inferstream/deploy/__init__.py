"""Take a blueprint to Kubernetes: render manifests, check them offline, apply, scale and list them.

Knows the runtime's Blueprint and verify (:mod:`inferstream.runtime`), nothing of the transports.
"""

from inferstream.deploy.names import DeployError
from inferstream.deploy.options import MODEL_SERVER_KINDS, DeployOptions, ModelServerKind
from inferstream.deploy.render import Rendered, render

__all__ = ["MODEL_SERVER_KINDS", "DeployError", "DeployOptions", "ModelServerKind", "Rendered", "render"]
