# transmla: transmla-convert-server, transmla-inference-server and the transmla CLI.
#
#   docker build -t transmla:cuda .                          # CUDA build (sm_90a + PTX), CUDA runtime
#   docker build --target runtime-cpu -t transmla:cpu .      # CPU only, Debian 12
#
# Build stages install their packages with scripts/setup.sh (the README's setup) and build with
# scripts/build.sh; runtime stages hold the binaries, the shared libraries they load (copied by
# scripts/collect_runtime_libs.sh) and nothing else: no compiler, no -dev packages. Base images are
# pinned by tag; pin by digest (image@sha256:...) in production builds.
# ---- build (CUDA) ----
FROM nvidia/cuda:13.0.1-devel-ubuntu24.04 AS build
ENV DEBIAN_FRONTEND=noninteractive
WORKDIR /src
COPY scripts/setup.sh scripts/setup.sh
RUN bash scripts/setup.sh --build-only && rm -rf /var/lib/apt/lists/*
COPY . .
RUN bash scripts/build.sh -DTRANSMLA_MARCH=x86-64-v3 -DTRANSMLA_BUILD_TESTS=OFF -DTRANSMLA_BUILD_BENCH=OFF \
        -DCMAKE_CUDA_ARCHITECTURES="90a-real;90-virtual" \
    && cmake --install build --prefix /opt/transmla \
    && bash scripts/collect_runtime_libs.sh /opt/transmla/lib /opt/transmla/bin/*

# ---- build (CPU only) ----
FROM debian:12.12 AS build-cpu
ENV DEBIAN_FRONTEND=noninteractive
WORKDIR /src
COPY scripts/setup.sh scripts/setup.sh
RUN bash scripts/setup.sh --build-only && rm -rf /var/lib/apt/lists/*
COPY . .
RUN bash scripts/build.sh -DTRANSMLA_MARCH=x86-64-v3 -DTRANSMLA_BUILD_TESTS=OFF -DTRANSMLA_BUILD_BENCH=OFF \
        -DTRANSMLA_WITH_CUDA=OFF \
    && cmake --install build --prefix /opt/transmla \
    && bash scripts/collect_runtime_libs.sh /opt/transmla/lib /opt/transmla/bin/*

# ---- runtime (CPU only) ----
FROM debian:12.12-slim AS runtime-cpu
RUN useradd --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin transmla
COPY --from=build-cpu /opt/transmla /opt/transmla
ENV PATH=/opt/transmla/bin:$PATH \
    LD_LIBRARY_PATH=/opt/transmla/lib \
    TRANSMLA_HEALTH_SERVER=127.0.0.1:50051
USER 10001:10001
EXPOSE 50051 9464
# 20 misses x 30 s tolerate a model load of ~10 minutes (Kubernetes uses its own startup probe).
HEALTHCHECK --interval=30s --timeout=10s --retries=20 \
    CMD transmla health --server "$TRANSMLA_HEALTH_SERVER" || exit 1
ENTRYPOINT []
CMD ["transmla", "--help"]

# ---- runtime (CUDA; the default target) ----
FROM nvidia/cuda:13.0.1-runtime-ubuntu24.04 AS runtime
RUN useradd --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin transmla
COPY --from=build /opt/transmla /opt/transmla
ENV PATH=/opt/transmla/bin:$PATH \
    LD_LIBRARY_PATH=/opt/transmla/lib \
    TRANSMLA_HEALTH_SERVER=127.0.0.1:50051
USER 10001:10001
EXPOSE 50051 9464
# 20 misses x 30 s tolerate a model load of ~10 minutes (Kubernetes uses its own startup probe).
HEALTHCHECK --interval=30s --timeout=10s --retries=20 \
    CMD transmla health --server "$TRANSMLA_HEALTH_SERVER" || exit 1
ENTRYPOINT []
CMD ["transmla", "--help"]
