// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Sluice",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Sluice", targets: ["Sluice"]),
        .library(name: "SluiceKafka", targets: ["SluiceKafka"]),
        .library(name: "SluiceState", targets: ["SluiceState"]),
        .library(name: "SluiceTransforms", targets: ["SluiceTransforms"]),
        .library(name: "SluiceSinks", targets: ["SluiceSinks"]),
        .library(name: "SluiceConfig", targets: ["SluiceConfig"]),
        .executable(name: "sluice", targets: ["sluice"]),
        .executable(name: "nginx-classify", targets: ["nginx-classify"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        .systemLibrary(name: "CRdKafka", pkgConfig: "rdkafka", providers: [.apt(["librdkafka-dev"])]),
        .systemLibrary(name: "CRocksDB", pkgConfig: "rocksdb", providers: [.apt(["librocksdb-dev"])]),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "CLZ4", pkgConfig: "liblz4", providers: [.apt(["liblz4-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CPCRE2", pkgConfig: "libpcre2-8", providers: [.apt(["libpcre2-dev"])]),

        .target(name: "SluiceKafka", dependencies: [
            "CRdKafka", .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "SluiceState", dependencies: ["CRocksDB"]),
        .target(name: "Sluice", dependencies: [
            "SluiceKafka", "SluiceState", .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "SluiceTransforms", dependencies: ["Sluice", "CPCRE2"]),
        .target(name: "SluiceSinks", dependencies: [
            "Sluice", "SluiceKafka", "SluiceTransforms", "CCurl", "CZlib", .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "SluiceConfig", dependencies: [
            "Sluice", "SluiceKafka", "SluiceTransforms", "SluiceSinks", .product(name: "Yams", package: "Yams"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // Example topologies users start from, kept at the top level; each is tested.
        .target(name: "SluiceExamples", dependencies: ["Sluice", "SluiceTransforms"], path: "topologies",
                exclude: ["nginx-json-classify.yaml", "nginx-classify.yaml", "syslog-ingest.yaml", "logs-to-elasticsearch.yaml",
                          "statsd-rollup.yaml"]),
        .executableTarget(name: "sluice", dependencies: [
            "Sluice", "SluiceKafka", "SluiceState", "SluiceConfig", "SluiceTransforms", "SluiceExamples",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "nginx-classify", dependencies: [
            "Sluice", "SluiceExamples",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        .testTarget(name: "SluiceKafkaTests", dependencies: ["SluiceKafka"]),
        .testTarget(name: "SluiceStateTests", dependencies: ["SluiceState"]),
        .testTarget(name: "SluiceTests", dependencies: ["Sluice", "SluiceKafka", "SluiceState"]),
        .testTarget(name: "SluiceTransformsTests", dependencies: ["SluiceTransforms", "Sluice"]),
        .testTarget(name: "SluiceSinksTests", dependencies: ["SluiceSinks", "Sluice", "SluiceKafka", "SluiceTransforms"]),
        .testTarget(name: "SluiceConfigTests", dependencies: ["SluiceConfig", "SluiceTransforms", "Sluice", "SluiceKafka", "SluiceSinks"]),
        .testTarget(name: "SluiceExamplesTests", dependencies: ["SluiceExamples", "SluiceConfig", "SluiceTransforms", "Sluice", "SluiceKafka"]),
        .testTarget(name: "IntegrationTests", dependencies: ["Sluice", "SluiceKafka", "SluiceExamples", "SluiceSinks", "SluiceTransforms"]),
    ],
    swiftLanguageModes: [.v6]
)
