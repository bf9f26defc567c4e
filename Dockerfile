# Sluice in a container: `docker build -t sluice .` then, for example,
#   docker run --rm -v $PWD/topologies:/etc/sluice/topologies sluice \
#     run /etc/sluice/topologies/nginx-classify.yaml --bootstrap kafka:9092
# scripts/compose.yaml runs the example pipeline beside Kafka and Elasticsearch.
# DockerfileTests checks the runtime stage's libraries against what the
# binary links.

# Build stage: Swift on Debian bookworm, with the headers of Debian's C libraries.
FROM swift:6.3-bookworm AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      librdkafka-dev librocksdb-dev libcurl4-openssl-dev liblz4-dev libzstd-dev libpcre2-dev zlib1g-dev pkg-config python3-pip \
 && rm -rf /var/lib/apt/lists/*
# Bookworm's librdkafka 2.0.2 fails the handshake with brokers that send
# KIP-482 tagged fields; the run time uses the ABI-compatible build that the
# confluent-kafka wheel carries (as scripts/install.sh does).
RUN pip3 install --quiet --break-system-packages --no-deps --target /opt/rdkafka confluent-kafka==2.16.1 \
 && cp /opt/rdkafka/confluent_kafka.libs/librdkafka-*.so.1 /opt/librdkafka.so.1
WORKDIR /src
COPY Package.swift ./
COPY Sources Sources
COPY Tests Tests
COPY topologies topologies
# The Swift runtime and Foundation are linked in: the runtime image needs no toolchain.
# Cross-module optimization: see scripts/lib.sh.
RUN swift build -c release -Xswiftc -cross-module-optimization --static-swift-stdlib --product sluice \
 && cp "$(swift build -c release --show-bin-path)/sluice" /opt/sluice

# Runtime stage: the binary and the shared libraries it links, nothing else.
FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      librocksdb7.8 libcurl4 libpcre2-8-0 zlib1g ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /opt/librdkafka.so.1 /usr/local/lib/librdkafka.so.1
RUN ldconfig && mkdir -p /var/lib/sluice && chown 65534:65534 /var/lib/sluice
COPY --from=build /opt/sluice /usr/local/bin/sluice
COPY topologies/*.yaml /etc/sluice/topologies/
USER 65534:65534
VOLUME /var/lib/sluice
EXPOSE 9464
ENTRYPOINT ["sluice"]
CMD ["run", "/etc/sluice/topologies/nginx-classify.yaml", "--state-dir", "/var/lib/sluice", "--metrics-address", "0.0.0.0:9464"]
