# memberbind for production: a static binary without the embedded
# development database and SMTP server (-tags noembed), run as non-root.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -tags noembed -trimpath -ldflags="-s -w" -o /out/memberbind ./cmd/memberbind

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/memberbind /memberbind
USER nonroot:nonroot
EXPOSE 8080
ENTRYPOINT ["/memberbind"]
CMD ["serve"]
