# syntax=docker/dockerfile:1
#
# clusterdns as a drop-in image for kube-system/coredns (docs/architecture.md): kubeadm's Deployment
# runs it with its own args, `-conf /etc/coredns/Corefile`, and its own securityContext.
#
# NOT BUILT HERE: this file was written on a machine with no Docker engine, so `docker build`
# has never run on it. What was checked instead (tests/runtime/test_image.py): the build
# context that .dockerignore leaves still builds a wheel, that wheel installs and runs
# `python -m clusterdns`, and the server runs from a read-only Corefile directory without
# writing anything, as it must under `readOnlyRootFilesystem: true`.

# --- builder: the wheels of clusterdns and of every dependency -----------------------------
FROM python:3.11-slim AS builder
WORKDIR /src
# The dependencies are exactly those of requirements.lock (versions and sha256 hashes), so
# every build gets the same set; see "Reproducible installs" in README.md to refresh it.
COPY requirements.lock ./
RUN pip wheel --no-cache-dir --no-deps --require-hashes -r requirements.lock -w /wheels
COPY pyproject.toml README.md ./
COPY clusterdns ./clusterdns
RUN pip wheel --no-cache-dir --no-deps . -w /wheels

# --- runtime ---------------------------------------------------------------------------------
FROM python:3.11-slim
COPY --from=builder /wheels /wheels
COPY --from=builder /src/requirements.lock /tmp/requirements.lock
# Install from the wheels only (the locked set, hashes checked again, then clusterdns itself),
# then compile every module now: the root filesystem is read-only at run time, so Python
# could never cache bytecode there itself.
RUN pip install --no-cache-dir --no-index --find-links=/wheels --require-hashes \
        -r /tmp/requirements.lock \
    && pip install --no-cache-dir --no-index --find-links=/wheels --no-deps clusterdns \
    && rm -rf /wheels /tmp/requirements.lock \
    && python -m compileall -q "$(python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"

# No .pyc writes at run time (read-only root filesystem); log lines reach `kubectl logs` at
# once.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1

# The working directory is on sys.path with `python -m`: keep it one with nothing in it.
WORKDIR /

# Runs as root (the image default), on purpose. kubeadm's coredns Deployment has
#   securityContext: {allowPrivilegeEscalation: false,
#                     capabilities: {add: [NET_BIND_SERVICE], drop: [ALL]}}
# and no runAsUser. Only a root process keeps NET_BIND_SERVICE (from the bounding set, as its
# one effective capability) to bind :53. A non-root USER would lose it: no_new_privs
# (allowPrivilegeEscalation: false) makes file capabilities (`setcap` on the python binary)
# ignored at exec, and Kubernetes does not give added capabilities to non-root processes as
# ambient ones. Root here holds nothing else: every other capability is dropped, so it cannot
# even read files it does not own unless their mode allows it.
#
# Alternative for clusters that allow the namespaced sysctl
# net.ipv4.ip_unprivileged_port_start (pod securityContext.sysctls, "safe" since Kubernetes
# 1.22): set it to 53 and run with `runAsNonRoot: true, runAsUser: 65532` in the Deployment;
# this image needs no change for that (no file it uses is written at run time).

# kubeadm's container args (`-conf /etc/coredns/Corefile`) follow this unchanged.
ENTRYPOINT ["python", "-m", "clusterdns"]

# DNS; /health (8080); /ready (8181); /metrics (9153).
EXPOSE 53/udp 53/tcp 8080 8181 9153
