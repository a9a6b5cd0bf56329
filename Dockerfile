# memberbind for production: a static binary without the embedded
# development database and SMTP server (-tags noembed), run as non-root.
#   docker build --build-arg VERSION=v1.2.3 -t memberbind .
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=""
RUN CGO_ENABLED=0 go build -tags noembed -trimpath -ldflags="-s -w -X main.version=${VERSION}" -o /out/memberbind ./cmd/memberbind

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/memberbind /memberbind
USER nonroot:nonroot
# The admin listener (/metrics, /debug/pprof/, /healthz, /readyz) listens
# on every interface of the container, so that Prometheus on the
# container network can scrape it; it is not authenticated, so never
# publish 9090 to the internet (publish it to the host's loopback at most).
# MEMBERBIND_ADMIN_LISTEN=off turns it off, and the health check with it.
ENV MEMBERBIND_ADMIN_LISTEN=:9090
EXPOSE 8080 9090
# Ready, not just alive: the database answers and the schema is migrated,
# and not shutting down. Orchestrators with probes of their own
# (Kubernetes ignores this) should probe /healthz for liveness and
# /readyz for readiness.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["/memberbind", "healthcheck", "http://127.0.0.1:9090/readyz"]
ENTRYPOINT ["/memberbind"]
CMD ["serve"]
