import Logging
import SluiceKafka
import Testing

@Suite struct KafkaConfigTests {
    @Test func anyLibrdkafkaPropertyPassesThroughByName() {
        var c = KafkaConfig(["bootstrap.servers": "b:9092"])
        c["security.protocol"] = "SASL_SSL"
        c.compression = .zstd
        c.lingerMilliseconds = 20
        c.clientRack = "eu-west-1a"
        #expect(c.properties == ["bootstrap.servers": "b:9092", "security.protocol": "SASL_SSL", "compression.type": "zstd",
                                 "linger.ms": "20", "client.rack": "eu-west-1a"])
        #expect(c.compression == .zstd && c.lingerMilliseconds == 20)
    }

    @Test func secretsAreRedactedAndOtherValuesKept() {
        let c = KafkaConfig(["sasl.password": "hunter2", "ssl.key.password": "k", "sasl.oauthbearer.client.secret": "s",
                             "sasl.jaas.config": "j", "sasl.username": "alice"])
        #expect(c.redacted == ["sasl.password": "[redacted]", "ssl.key.password": "[redacted]",
                               "sasl.oauthbearer.client.secret": "[redacted]", "sasl.jaas.config": "[redacted]",
                               "sasl.username": "alice"])
    }

    @Test func producerDefaultsAreIdempotentAcksAllAndLz4UnlessOverridden() throws {
        let p = try KafkaProducer(config: KafkaConfig(["bootstrap.servers": "127.0.0.1:1", "compression.type": "zstd"]),
                                  logger: Logger(label: "t"))
        #expect(p.config["acks"] == "all")
        #expect(p.config["enable.idempotence"] == "true")
        #expect(p.config["compression.type"] == "zstd")
    }

    @Test func anUnknownPropertyFailsAtCreationNamingItAndHidingSecretValues() {
        #expect { try KafkaProducer(config: KafkaConfig(["no.such.property": "1"]), logger: Logger(label: "t")) } throws: {
            "\($0)".contains("no.such.property")
        }
        #expect { try KafkaProducer(config: KafkaConfig(["sasl.password": "hunter2", "acks": "maybe"]), logger: Logger(label: "t")) }
            throws: { "\($0)".contains("acks") && !"\($0)".contains("hunter2") }
    }

    @Test func aConsumerNeedsAGroupAndDefaultsToManualCooperativeCommits() throws {
        #expect(throws: KafkaError.self) { try KafkaConsumer(config: KafkaConfig(), logger: Logger(label: "t")) }
        let c = try KafkaConsumer(config: KafkaConfig(["group.id": "g", "bootstrap.servers": "127.0.0.1:1"]), logger: Logger(label: "t"))
        #expect(c.config["enable.auto.commit"] == "false")
        #expect(c.config["partition.assignment.strategy"] == "cooperative-sticky")
    }
}
