#include <librdkafka/rdkafka.h>
#include <stdint.h>
#include <stddef.h>

/* rd_kafka_producev is variadic, which Swift cannot call. This is its one
 * form Sluice uses: a cached topic handle, copied key and value, optional
 * headers (owned by librdkafka on success), an explicit timestamp, and the
 * opaque its delivery report carries back. */
static inline rd_kafka_resp_err_t sluice_produce(
    rd_kafka_t *rk, rd_kafka_topic_t *rkt, int32_t partition,
    const void *key, size_t key_len, const void *value, size_t value_len,
    rd_kafka_headers_t *headers, int64_t timestamp, void *opaque) {
    if (headers) {
        return rd_kafka_producev(rk, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_PARTITION(partition),
                                 RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                 RD_KAFKA_V_KEY((void *)key, key_len),
                                 RD_KAFKA_V_VALUE((void *)value, value_len),
                                 RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_OPAQUE(opaque),
                                 RD_KAFKA_V_TIMESTAMP(timestamp), RD_KAFKA_V_END);
    }
    return rd_kafka_producev(rk, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_PARTITION(partition),
                             RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                             RD_KAFKA_V_KEY((void *)key, key_len),
                             RD_KAFKA_V_VALUE((void *)value, value_len), RD_KAFKA_V_OPAQUE(opaque),
                             RD_KAFKA_V_TIMESTAMP(timestamp), RD_KAFKA_V_END);
}
#include <librdkafka/rdkafka_mock.h>
