# Pure-Go build (modernc.org/sqlite needs no C compiler), static binaries.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -o /out/casebookd ./cmd/casebookd && \
    CGO_ENABLED=0 go build -trimpath -o /out/casebook ./cmd/casebook

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/casebookd /out/casebook /usr/local/bin/
USER nonroot:nonroot
VOLUME ["/data"]
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/casebookd"]
