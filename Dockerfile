# The inferstream image every pod of `inferstream deploy` runs (streamlets and `inferstream serve`).
# Multi-stage: a wheel is built in the first stage, installed into a virtualenv in the second, and only
# that virtualenv and the sample data reach the final image. Non-root (uid 10001, as the manifests'
# securityContext says), nothing written outside /tmp (the manifests mount the root filesystem read-only).
# Not built by the tests: this machine has no container runtime (see README, Kubernetes).
#
#   docker build -t registry.example.com/inferstream:0.1.0 . && docker push registry.example.com/inferstream:0.1.0
#   inferstream deploy fraud-grpc --image registry.example.com/inferstream:0.1.0 --out k8s/

# Pinned base: Python 3.11 on Debian 12 (bookworm), the interpreter the project supports first.
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
RUN pip install --no-cache-dir "build==1.3.0"
COPY pyproject.toml README.md ./
COPY src ./src
RUN python -m build --wheel --outdir /wheels

FROM ${PYTHON_IMAGE} AS install
RUN python -m venv /opt/inferstream
COPY --from=build /wheels /wheels
RUN /opt/inferstream/bin/pip install --no-cache-dir /wheels/*.whl

FROM ${PYTHON_IMAGE}
RUN groupadd --gid 10001 inferstream && useradd --uid 10001 --gid 10001 --no-create-home --shell /sbin/nologin inferstream
COPY --from=install /opt/inferstream /opt/inferstream
WORKDIR /app
# The packaged blueprints' ingresses read data/ relative to the working directory.
COPY data ./data
ENV PATH=/opt/inferstream/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp
USER 10001:10001
EXPOSE 8080 8500 8501
ENTRYPOINT ["inferstream"]
CMD ["--help"]
