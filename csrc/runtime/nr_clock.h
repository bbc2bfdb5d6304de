/*
 * nr_clock.h -- identifiers and time: UUIDv7, the UTC microsecond clock and
 * RFC 3339 formatting.
 */
#ifndef NR_CLOCK_H
#define NR_CLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct nr_uuid {
    uint8_t bytes[16];
} nr_uuid;

/* Length of "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" plus NUL. */
#define NR_UUID_STR_LEN 37
/* Length of "YYYY-MM-DDTHH:MM:SS.ffffff+00:00" plus NUL (years 0..9999). */
#define NR_TIMESTAMP_STR_LEN 33

/* Earliest and latest timestamps the runtime accepts (years 1..9999). */
#define NR_TIME_MIN_US (-62135596800000000LL)
#define NR_TIME_MAX_US (253402300799999999LL)

/* Microseconds since the Unix epoch, UTC (CLOCK_REALTIME). */
int64_t nr_now_us(void);

/* A fresh UUIDv7: 48-bit millisecond time, version 7, variant 10, random rest.
 * Random bytes come from getrandom() through a per-thread buffer that is
 * discarded in a forked child. */
void nr_uuid_v7(nr_uuid *out);

/* Lowercase hyphenated form into buf (NR_UUID_STR_LEN bytes). */
void nr_uuid_format(const nr_uuid *u, char buf[NR_UUID_STR_LEN]);

/* Parses the hyphenated (or 32-hex) form; false on malformed input. */
bool nr_uuid_parse(const char *text, nr_uuid *out);

static inline bool nr_uuid_eq(const nr_uuid *a, const nr_uuid *b)
{
    for (int i = 0; i < 16; i++)
        if (a->bytes[i] != b->bytes[i])
            return false;
    return true;
}

/* Whether us lies in [NR_TIME_MIN_US, NR_TIME_MAX_US]. */
bool nr_time_in_range(int64_t us);

/* RFC 3339 UTC with six fraction digits and a "+00:00" offset, e.g.
 * "2026-11-25T15:03:00.123456+00:00".  us must be in range. */
void nr_time_format(int64_t us, char buf[NR_TIMESTAMP_STR_LEN]);

/* Called in a forked child: drop per-process random state. */
void nr_clock_after_fork_child(void);

#endif /* NR_CLOCK_H */
