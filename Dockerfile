# kube2zk's image: two stages, so that the image holds what pip installed but
# not pip itself, its download cache or anything a build needed.
#
# BASE is any image whose python3 is Python 3.11 or later. Elsewhere it is
# pulled (python:3.11-slim); testbed/image.sh builds a Debian one from Debian's
# packages and passes it as --build-arg BASE=..., so no registry is needed.
ARG BASE=python:3.11-slim

FROM ${BASE} AS build
# Debian's own python3 ships venv's ensurepip in python3-venv; the python
# images have it built in. Either way it stays in this stage.
RUN python3 -m venv /opt/kube2zk 2>/dev/null || { \
      rm -rf /opt/kube2zk && apt-get update -qq \
      && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv >/dev/null \
      && python3 -m venv /opt/kube2zk; }
COPY requirements.txt /tmp/requirements.txt
# PIP_CERT: a CA bundle for pip, for networks that re-sign TLS (mounted into
# the build by the caller; it stays out of every layer). Once installed, pip
# goes, and so does kubernetes' asyncio client (68 MB next to the synchronous
# one, which is all kube2zk uses; nothing in the package imports it).
ARG PIP_CERT=
RUN /opt/kube2zk/bin/python3 -m pip install ${PIP_CERT:+--cert "$PIP_CERT"} --no-cache-dir --disable-pip-version-check \
      -q -r /tmp/requirements.txt \
 && /opt/kube2zk/bin/python3 -m pip uninstall -y -q pip setuptools \
 && rm -rf /opt/kube2zk/lib/python3*/site-packages/kubernetes/aio
COPY kube2zk_job.py /app/
COPY lib/ /app/lib/
# Bytecode now: the root filesystem is read-only at run time, and a one-shot
# run would otherwise compile every module on every start.
RUN /opt/kube2zk/bin/python3 -m compileall -q /app

FROM ${BASE}
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
COPY --from=build /opt/kube2zk /opt/kube2zk
COPY --from=build /app /app
WORKDIR /app
USER 10001:10001
ENTRYPOINT ["/opt/kube2zk/bin/python3", "/app/kube2zk_job.py"]
