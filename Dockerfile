# syntax=docker/dockerfile:1
# orgsync container image: the release binary on a small Debian runtime with CA certificates,
# run as a non-root user (uid/gid 10001, matching deploy/kubernetes/) with /data as its
# working directory. Entrypoint `orgsync`; default command `sync` (writes /data/sync.c1z).
#
#   docker build -t orgsync .
#   docker run --rm -v "$PWD/out:/data" -e AWS_REGION=us-east-1 \
#     -e AWS_ACCESS_KEY_ID -e AWS_SECRET_ACCESS_KEY -e AWS_SESSION_TOKEN orgsync
#   docker run -d -p 9090:9090 -v "$PWD/out:/data" ... orgsync run --interval 6h --listen 0.0.0.0:9090
#
# Build needs: BuildKit (the cache mounts below; default in Docker 23+). Everything else comes
# from the rust image (gcc and make for the bundled SQLite, zstd and aws-lc; no protoc, the
# .proto files are compiled in Rust by build.rs).

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock build.rs ./
COPY proto ./proto
COPY src ./src
# Cargo.toml declares the benchmark target, so its source must be present to read the manifest.
COPY benches ./benches
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin orgsync \
 && cp target/release/orgsync /usr/local/bin/orgsync \
 && /usr/local/bin/orgsync --version

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 orgsync \
 && useradd --system --uid 10001 --gid orgsync --home-dir /data --shell /usr/sbin/nologin orgsync \
 && mkdir -p /data && chown orgsync:orgsync /data
COPY --from=build /usr/local/bin/orgsync /usr/local/bin/orgsync
COPY deploy/orgsync.example.yaml /etc/orgsync/orgsync.example.yaml
LABEL org.opencontainers.image.title="orgsync" \
      org.opencontainers.image.description="Who can access what across an AWS Organization, as a baton-compatible c1z file" \
      org.opencontainers.image.licenses="Apache-2.0"
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
# `orgsync run --listen 0.0.0.0:9090` serves /healthz and /metrics here.
EXPOSE 9090
# JSON logs (no terminal in a container anyway); the c1z goes to the volume.
ENV ORGSYNC_FILE=/data/sync.c1z \
    ORGSYNC_LOG_FORMAT=json \
    ORGSYNC_NO_PROGRESS=true
# orgsync handles SIGTERM/SIGINT itself (as PID 1 too) and starts no child processes, so no
# init process is needed.
ENTRYPOINT ["orgsync"]
CMD ["sync"]
