/* nr_clock.c -- UUIDv7, the UTC clock, RFC 3339 formatting. */
#include "nr_clock.h"

#include <errno.h>
#include <stdio.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

int64_t nr_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Bumped in a forked child so every thread's random buffer is refilled there:
 * parent and child must never hand out the same UUIDs. */
static atomic_uint g_fork_generation;

void nr_clock_after_fork_child(void)
{
    atomic_fetch_add(&g_fork_generation, 1);
}

/* Per-thread pool of random bytes, so a UUID costs no system call. */
static _Thread_local struct {
    uint8_t bytes[256];
    size_t used;
    unsigned generation;
    bool filled;
} tls_random;

static void random_fill(void *dst, size_t n)
{
    unsigned gen = atomic_load(&g_fork_generation);
    if (!tls_random.filled || tls_random.generation != gen ||
        tls_random.used + n > sizeof tls_random.bytes) {
        size_t got = 0;
        while (got < sizeof tls_random.bytes) {
            ssize_t r = getrandom(tls_random.bytes + got, sizeof tls_random.bytes - got, 0);
            if (r < 0) {
                if (errno == EINTR)
                    continue;
                /* getrandom cannot fail on Linux >= 3.17 once the pool is
                 * initialised; fall back to the clock rather than crash. */
                int64_t t = nr_now_us();
                for (size_t i = got; i < sizeof tls_random.bytes; i++)
                    tls_random.bytes[i] = (uint8_t)((t >> ((i % 8) * 8)) ^ (int64_t)i * 131);
                break;
            }
            got += (size_t)r;
        }
        tls_random.used = 0;
        tls_random.generation = gen;
        tls_random.filled = true;
    }
    memcpy(dst, tls_random.bytes + tls_random.used, n);
    tls_random.used += n;
}

void nr_uuid_v7(nr_uuid *out)
{
    uint64_t ms = (uint64_t)(nr_now_us() / 1000);
    random_fill(out->bytes + 6, 10);
    out->bytes[0] = (uint8_t)(ms >> 40);
    out->bytes[1] = (uint8_t)(ms >> 32);
    out->bytes[2] = (uint8_t)(ms >> 24);
    out->bytes[3] = (uint8_t)(ms >> 16);
    out->bytes[4] = (uint8_t)(ms >> 8);
    out->bytes[5] = (uint8_t)ms;
    out->bytes[6] = (uint8_t)(0x70 | (out->bytes[6] & 0x0f)); /* version 7 */
    out->bytes[8] = (uint8_t)(0x80 | (out->bytes[8] & 0x3f)); /* variant 10 */
}

void nr_uuid_format(const nr_uuid *u, char buf[NR_UUID_STR_LEN])
{
    static const char hex[] = "0123456789abcdef";
    size_t j = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            buf[j++] = '-';
        buf[j++] = hex[u->bytes[i] >> 4];
        buf[j++] = hex[u->bytes[i] & 0xf];
    }
    buf[j] = '\0';
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

bool nr_uuid_parse(const char *text, nr_uuid *out)
{
    if (text == NULL)
        return false;
    size_t len = strlen(text);
    bool hyphenated = (len == 36);
    if (!hyphenated && len != 32)
        return false;
    size_t k = 0;
    for (int i = 0; i < 16; i++) {
        if (hyphenated && (k == 8 || k == 13 || k == 18 || k == 23)) {
            if (text[k] != '-')
                return false;
            k++;
        }
        int hi = hexval(text[k]), lo = hexval(text[k + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out->bytes[i] = (uint8_t)(hi << 4 | lo);
        k += 2;
    }
    return true;
}

bool nr_time_in_range(int64_t us)
{
    return us >= NR_TIME_MIN_US && us <= NR_TIME_MAX_US;
}

/* Civil date from days since 1970-01-01 (proleptic Gregorian calendar), using
 * 400-year eras so the arithmetic stays in integers. */
static void civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d)
{
    days += 719468; /* shift the epoch to 0000-03-01 */
    int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    unsigned doe = (unsigned)(days - era * 146097);                      /* [0, 146096] */
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);              /* [0, 365] */
    unsigned mp = (5 * doy + 2) / 153;                                   /* March-based month */
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

void nr_time_format(int64_t us, char buf[NR_TIMESTAMP_STR_LEN])
{
    int64_t secs = us / 1000000;
    int64_t frac = us % 1000000;
    if (frac < 0) {
        frac += 1000000;
        secs -= 1;
    }
    int64_t days = secs / 86400;
    int64_t sod = secs % 86400;
    if (sod < 0) {
        sod += 86400;
        days -= 1;
    }
    int64_t year;
    unsigned month, day;
    civil_from_days(days, &year, &month, &day);
    /* The modulos only tell the compiler the field widths: the values are in
     * range for every timestamp nr_time_in_range accepts. */
    snprintf(buf, NR_TIMESTAMP_STR_LEN, "%04u-%02u-%02uT%02u:%02u:%02u.%06u+00:00",
             (unsigned)year % 10000u, month % 100u, day % 100u, (unsigned)(sod / 3600) % 100u,
             (unsigned)(sod / 60 % 60) % 100u, (unsigned)(sod % 60) % 100u,
             (unsigned)frac % 1000000u);
}
