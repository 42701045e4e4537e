# The demo server (examples/server.rs) as a container policy would have it: built in a full
# Rust image, run from a slim one as an unprivileged user, with a health check and nothing
# to write to. Build and run:
#
#   docker build -t tower-security-demo .
#   docker run --rm -p 8080:8080 --read-only --cap-drop ALL \
#     --security-opt no-new-privileges -e SECRET_KEY="$(openssl rand -hex 32)" \
#     tower-security-demo
#
# The image serves plain HTTP on 8080 in production mode: put a TLS-terminating proxy in front
# and name it in TOWER_SECURITY_TRUSTED_PROXIES, or every path but /health is redirected to
# HTTPS. Add `--allow-host NAME --canonical-host NAME --https-port 443` after the image name
# for the host clients use. Without SECRET_KEY a random key is made at each start. Nothing is
# written at run time, so --read-only needs no tmpfs.

# Build stage: the full toolchain, discarded after the build.
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --example server

# Runtime stage: a slim base with the one binary.
FROM debian:bookworm-slim AS runtime
RUN useradd --uid 1000 --user-group --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin demo
COPY --from=build /src/target/release/examples/server /usr/local/bin/tower-security-demo
# Numeric, so the runtime can check it is not root without reading /etc/passwd.
USER 1000:1000
EXPOSE 8080
# /health is exempt from the HTTPS redirect; the probe needs no curl in the image.
HEALTHCHECK --interval=30s --timeout=3s --start-period=5s --retries=3 \
    CMD ["/usr/local/bin/tower-security-demo", "--health-check", "--port", "8080"]
ENTRYPOINT ["/usr/local/bin/tower-security-demo"]
CMD ["--public", "--port", "8080", "--production"]
