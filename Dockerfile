# syntax=docker/dockerfile:1
# hubspot-gateway: a Swift 6.3 build stage, then a slim Debian runtime stage holding only the
# binary and the shared libraries it links (Tests/Deployment checks that list against ldd).
#   docker build -t hubspot-gateway .
ARG SWIFT_IMAGE=swift:6.3-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${SWIFT_IMAGE} AS build
# Versions come with the Debian release of the base image; pinning them would break each point release.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends pkg-config libnghttp2-dev libhiredis-dev libcurl4-openssl-dev libssl-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /build
# The manifest without test and benchmark targets (their folders are not in the context).
ENV HUBSPOT_GATEWAY_PRODUCT_ONLY=1
# Dependencies resolve in their own layer, rebuilt only when the manifest changes.
COPY Package.swift ./
RUN swift package resolve
COPY Sources ./Sources
RUN swift build -c release --static-swift-stdlib --product hubspot-gateway \
    && install -D -m 0755 "$(swift build -c release --show-bin-path)/hubspot-gateway" /out/hubspot-gateway \
    && strip /out/hubspot-gateway

FROM ${RUNTIME_IMAGE}
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates libcurl4 libhiredis0.14 libnghttp2-14 libssl3 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin gateway
COPY --from=build /out/hubspot-gateway /usr/local/bin/hubspot-gateway
# Nothing is written at run time (logs go to stderr), so the root filesystem can be read-only.
USER 10001:10001
# gRPC API; HTTP health, readiness and metrics.
EXPOSE 50051 8080
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/hubspot-gateway"]
