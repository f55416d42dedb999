# Pure-Go build (modernc.org/sqlite needs no C compiler), static binaries.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# The build context has no .git (.dockerignore), so the Go toolchain cannot
# stamp the VCS revision that --version shows: pass it in, e.g.
#   CASEBOOK_REVISION=$(git rev-parse HEAD) docker compose build
ARG CASEBOOK_REVISION=""
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags "-X github.com/casebook/casebook/internal/buildinfo.Revision=${CASEBOOK_REVISION}" \
      -o /out/casebookd ./cmd/casebookd && \
    CGO_ENABLED=0 go build -trimpath \
      -ldflags "-X github.com/casebook/casebook/internal/buildinfo.Revision=${CASEBOOK_REVISION}" \
      -o /out/casebook ./cmd/casebook && \
    mkdir -p /out/rootfs/data && chmod 0700 /out/rootfs/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/casebookd /out/casebook /usr/local/bin/
# /data belongs to the user casebookd runs as, distroless' nonroot
# (uid and gid 65532), mode 0700: copying the contents of rootfs keeps the
# directory's mode, --chown gives it to nonroot. A named volume mounted on
# /data starts as a copy of it, owner and mode included; a bind-mounted
# host directory does not (chown it to 65532 on the host).
COPY --from=build --chown=65532:65532 /out/rootfs/ /
USER 65532:65532
ENV CASEBOOK_DATA=/data CASEBOOK_ADDR=0.0.0.0:8080
VOLUME ["/data"]
EXPOSE 8080
# distroless has no curl: casebookd probes its own /readyz.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["/usr/local/bin/casebookd", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/casebookd"]
