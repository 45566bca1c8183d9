# syntax=docker/dockerfile:1
#
# One image with every AAM binary; the role is chosen by the command:
#
#   make images     # = docker build --build-arg VERSION=$(git describe --tags
#                   #   --always --dirty) -t aam:$VERSION -t aam:latest .
#   docker run --rm aam:latest aam --version
#   docker run --rm --env-file ... aam:latest aam-gateway
#
# Needs BuildKit (the default builder since Docker 23; DOCKER_BUILDKIT=1 on
# older engines) for the cache mounts and cross-compilation
# (docker buildx build --platform linux/arm64 ...).
#
# Binaries (in /usr/local/bin, on PATH):
#   aam                    CLI: `aam migrate up`, `aam dev`, `aam healthcheck URL`
#   aam-gateway            HTTP gateway
#   aam-onboarding         onboarding worker
#   aam-sync               sync worker
#   aam-repair             repair worker
#   aam-credential-broker  credential broker (NATS micro service)
#   aam-schema-observer    schema observer
#   aam-airbyte-emulator   Airbyte API emulator (local stacks and tests)
#
# The final image is distroless/static (no shell, no package manager) and runs
# as the unprivileged user 65532 with a read-only root filesystem in mind:
# nothing writes outside /tmp. Health checks use `aam healthcheck URL`.

ARG GO_VERSION=1.26.8

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
WORKDIR /src
ENV CGO_ENABLED=0

# The workspace: go.work needs the go.mod of every module it uses (deploy/ is
# the deployment files' tests: only its go.mod/go.sum come in). Modules are
# downloaded by the build itself into a cache mount, so only what the
# binaries import is fetched.
COPY go.work go.work.sum ./
COPY events/go.mod events/go.sum events/
COPY schemas/go.mod schemas/go.sum schemas/
COPY migrations/go.mod migrations/go.sum migrations/
COPY pkg/go.mod pkg/go.sum pkg/
COPY services/go.mod services/go.sum services/
COPY deploy/go.mod deploy/go.sum deploy/

COPY events/ events/
COPY schemas/ schemas/
COPY migrations/ migrations/
COPY pkg/ pkg/
COPY services/ services/

ARG TARGETOS
ARG TARGETARCH
ARG VERSION=dev
# The package variable stamped with VERSION.
ARG VERSION_VAR=github.com/aam-mesh/aam/pkg/buildinfo.Version
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    set -eu; \
    export GOOS="${TARGETOS:-linux}" GOARCH="${TARGETARCH:-amd64}"; \
    ldflags="-s -w -X ${VERSION_VAR}=${VERSION}"; \
    build() { go build -trimpath -ldflags "$ldflags" -o "/out/$1" "./services/$2"; }; \
    mkdir -p /out; \
    build aam                    aam; \
    build aam-gateway            gateway; \
    build aam-onboarding         onboarding; \
    build aam-sync               sync; \
    build aam-repair             repair; \
    build aam-credential-broker  credential-broker; \
    build aam-schema-observer    schema-observer; \
    build aam-airbyte-emulator   airbyte-emulator

FROM gcr.io/distroless/static-debian12:nonroot AS runtime
ARG VERSION=dev
LABEL org.opencontainers.image.title="aam" \
      org.opencontainers.image.description="Adaptive API Mesh: control plane over Airbyte OSS (all roles)" \
      org.opencontainers.image.source="https://github.com/aam-mesh/aam" \
      org.opencontainers.image.version="${VERSION}"
COPY --from=build /out/ /usr/local/bin/
USER 65532:65532
WORKDIR /tmp
# 8080: gateway, 9090: health and metrics of the other roles, 8000: emulator.
EXPOSE 8080 9090 8000
CMD ["aam", "--help"]
