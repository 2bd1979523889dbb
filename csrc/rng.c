/* rng.c: xoshiro256** (Blackman & Vigna), seeded by splitmix64. The state is passed in. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <time.h>
#include "sia.h"

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void sia_rng_seed(sia_rng *r, uint64_t seed) {
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t sia_rng_next(sia_rng *r) {
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double sia_rng_uniform(sia_rng *r) { return (double)(sia_rng_next(r) >> 11) * 0x1.0p-53; }

/* Box-Muller's radius R and angle θ from one pair of uniforms: R cos θ and R sin θ are two
   independent N(0, 1). u1 in (0, 1] keeps the log finite. */
static void box_muller(sia_rng *r, double *R, double *theta) {
    double u1 = 1.0 - sia_rng_uniform(r);
    double u2 = sia_rng_uniform(r);
    *R = sqrt(-2.0 * log(u1));
    *theta = 6.283185307179586 * u2;
}

double sia_rng_normal(sia_rng *r) {
    double R, theta;
    box_muller(r, &R, &theta);
    return R * cos(theta);
}

void sia_rng_normals(sia_rng *r, double *out, int64_t n) {
    /* Both normals of each pair (GCC makes cos and sin one sincos call); the last of an odd n
       is the R cos θ of a pair, as sia_rng_normal. */
    int64_t i = 0;
    for (; i + 1 < n; i += 2) {
        double R, theta;
        box_muller(r, &R, &theta);
        out[i] = R * cos(theta);
        out[i + 1] = R * sin(theta);
    }
    if (i < n) out[i] = sia_rng_normal(r);
}

/* Rejections sia_rng_below allows before it takes a draw as it is: each happens with
   probability < n / 2^64, so a sound generator never gets there, and a broken state (all zeros,
   which xoshiro256** never leaves and from which it yields only 0) cannot loop forever. */
#define SIA_MAX_REJECTS 64

uint64_t sia_rng_below(sia_rng *r, uint64_t n) {
    /* Lemire's multiply-and-reject: unbiased for every n >= 1. */
    __uint128_t m = (__uint128_t)sia_rng_next(r) * n;
    uint64_t low = (uint64_t)m;
    if (low < n) {
        uint64_t threshold = -n % n;
        for (int tries = 0; low < threshold && tries < SIA_MAX_REJECTS; tries++) {
            m = (__uint128_t)sia_rng_next(r) * n;
            low = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

void sia_rng_shuffle(int64_t *idx, int64_t n, sia_rng *r) {
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)sia_rng_below(r, (uint64_t)i + 1);
        int64_t tmp = idx[i];
        idx[i] = idx[j];
        idx[j] = tmp;
    }
}

int64_t sia_param_count(const int64_t *sizes, int64_t L) {
    int64_t total = 0, w;
    for (int64_t l = 1; l <= L; l++) {
        if (!sia_mul_ok(sizes[l], sizes[l - 1], &w) || !sia_add_ok(total, w, &total) ||
            !sia_add_ok(total, sizes[l], &total))
            return -1;
    }
    return total;
}

int64_t sia_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}
