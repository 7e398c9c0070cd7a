# syntax=docker/dockerfile:1
#
# Staybase container image.
#
#   docker build -t staybase:dev .
#   docker run --rm -p 8080:8080 --read-only -v staybase-data:/var/lib/staybase staybase:dev
#
# Stages: `chef` (toolchain + cargo-chef) -> `planner` (dependency recipe) -> `builder`
# (dependencies in their own cached layer, then the application) -> `runtime` (distroless,
# glibc only, non-root). The binary bundles SQLite and uses rustls, so it needs no OpenSSL.

FROM rust:1-bookworm AS chef
ARG CARGO_CHEF_VERSION=0.1.76
RUN cargo install cargo-chef --locked --version "${CARGO_CHEF_VERSION}"
WORKDIR /build

# The recipe only changes when a manifest or Cargo.lock changes, so the dependency layer
# below is reused across source-only edits.
FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS builder
COPY --from=planner /build/recipe.json recipe.json
RUN cargo chef cook --release --locked --recipe-path recipe.json --bin staybase
COPY . .
# /out/data becomes /var/lib/staybase; its tmp/ is TMPDIR (a fresh named or anonymous
# volume is seeded with it; the Helm chart mounts an emptyDir at /tmp instead).
RUN cargo build --release --locked --bin staybase \
    && install -D -m 0755 target/release/staybase /out/staybase \
    && install -d -m 0750 /out/data/tmp

FROM gcr.io/distroless/cc-debian12:nonroot AS runtime
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="staybase" \
      org.opencontainers.image.description="Multi-tenant backend for vacation-rental marketplaces" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.vendor="Staybase" \
      org.opencontainers.image.base.name="gcr.io/distroless/cc-debian12:nonroot"

COPY --from=builder /out/staybase /usr/local/bin/staybase
COPY --from=builder /build/policies /app/policies
COPY --from=builder /build/plugins /app/plugins
# The only writable path: owned by the runtime user (65532 = distroless "nonroot").
COPY --from=builder --chown=65532:65532 /out/data /var/lib/staybase

ENV STAYBASE_BIND=0.0.0.0:8080 \
    STAYBASE_LOG_FORMAT=json \
    STAYBASE_DATA_DIR=/var/lib/staybase \
    TMPDIR=/var/lib/staybase/tmp

# ./policies and ./plugins resolve against /app.
WORKDIR /app
USER 65532:65532
VOLUME ["/var/lib/staybase"]
EXPOSE 8080

# No shell or curl in the image: the binary probes its own /healthz (it reads STAYBASE_BIND).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["/usr/local/bin/staybase", "healthcheck"]

ENTRYPOINT ["/usr/local/bin/staybase"]
CMD ["serve"]
