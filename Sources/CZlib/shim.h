#include <zlib.h>

// deflateInit2 is a macro, which Swift cannot call.
static inline int sluice_deflate_init_gzip(z_stream *s, int level) {
    return deflateInit2(s, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
}
