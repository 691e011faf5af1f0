# orgsync container image: build the release binary, run it as a non-root user on a small
# Debian runtime with CA certificates. Entrypoint `orgsync`; default command `sync`.
#
#   docker build -t orgsync .
#   docker run --rm -v "$PWD/out:/data" -e AWS_REGION=us-east-1 orgsync sync --file /data/sync.c1z

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock build.rs ./
COPY proto ./proto
COPY src ./src
COPY benches ./benches
RUN cargo build --release --locked --bin orgsync

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 orgsync \
 && useradd --system --uid 10001 --gid orgsync --home-dir /data --shell /usr/sbin/nologin orgsync \
 && mkdir -p /data && chown orgsync:orgsync /data
COPY --from=build /src/target/release/orgsync /usr/local/bin/orgsync
USER 10001:10001
WORKDIR /data
ENV ORGSYNC_FILE=/data/sync.c1z
ENTRYPOINT ["orgsync"]
CMD ["sync"]
