/* adam_floor.c: the cost of Adam alone, as the C core computes it (one flat loop over the
 * parameters, vectorized for the -march it is built with), in float32 and float64, with and
 * without its square root and division. By default on the letters network (workload A, 2,977
 * parameters): it bounds an online epoch from below, since A-online takes 32 optimizer steps per
 * epoch whatever the rest costs. With a count n, on n parameters (workload B's 1,083,696: its
 * four arrays then outgrow the L2 cache, and the update bounds a step of B with its products).
 *
 *   cc -O3 -march=x86-64-v3 -fno-math-errno bench/adam_floor.c -o /tmp/adam_floor -lm && /tmp/adam_floor [n]
 *
 * Each line: the best of 7 timings of about 60 million parameter updates (µs per step), and the
 * epochs per second that 32 such steps alone would allow. */
#include <stdio.h>
#include <stdlib.h>
#include <tgmath.h>
#include <time.h>

enum { TRIES = 7 };
static int N = 2977, STEPS = 20000;

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

/* One loop over the parameters, as optim.c's, ending with the update `last`. */
#define STEP(last)                                                                              \
    for (int i = 0; i < N; i++) {                                                               \
        m[i] = b1 * m[i] + (1 - b1) * g[i];                                                     \
        v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];                                              \
        last;                                                                                   \
    }

/* variant 0: Adam as optim.c; 1: without the square root; 2: without the division
   (a product instead); 3: without either. */
#define ADAM(REAL, name)                                                                         \
    static REAL *name##_p, *name##_m, *name##_v, *name##_g;                                     \
    __attribute__((noinline)) static void name(int variant, REAL c1, REAL c2) {                 \
        REAL *p = name##_p, *m = name##_m, *v = name##_v, *g = name##_g;                        \
        const REAL b1 = 0.9, b2 = 0.999, lr = 1e-3, eps = 1e-8;                                 \
        switch (variant) {                                                                      \
        case 0: STEP(p[i] -= lr * (m[i] * c1) / (sqrt(v[i] * c2) + eps)); break;                \
        case 1: STEP(p[i] -= lr * (m[i] * c1) / (v[i] * c2 + eps)); break;                      \
        case 2: STEP(p[i] -= lr * (m[i] * c1) * (sqrt(v[i] * c2) + eps)); break;                \
        default: STEP(p[i] -= lr * (m[i] * c1) * (v[i] * c2 + eps)); break;                     \
        }                                                                                       \
    }                                                                                           \
    static int name##_bench(const char *dtype) {                                                \
        static const char *what[] = {"Adam (sqrt and divide)", "without sqrt", "without divide", \
                                     "without either"};                                         \
        REAL **arrays[] = {&name##_p, &name##_m, &name##_v, &name##_g};                          \
        for (int a = 0; a < 4; a++)                                                             \
            if (!(*arrays[a] = calloc((size_t)N, sizeof(REAL)))) return 1;                       \
        for (int i = 0; i < N; i++) name##_g[i] = (REAL)((i % 97) - 48) * (REAL)1e-3;          \
        for (int variant = 0; variant < 4; variant++) {                                         \
            double best = 1e9;                                                                  \
            for (int t = 0; t < TRIES; t++) {                                                   \
                double t0 = now();                                                              \
                for (int s = 0; s < STEPS; s++) name(variant, (REAL)1.0001, (REAL)1.0002);      \
                double dt = (now() - t0) / STEPS;                                               \
                if (dt < best) best = dt;                                                       \
            }                                                                                   \
            printf("%s  %-24s %6.3f us/step   32 steps: <= %6.0f epochs/s\n", dtype,           \
                   what[variant], best * 1e6, 1 / (32 * best));                                 \
        }                                                                                       \
        for (int a = 0; a < 4; a++) free(*arrays[a]);                                           \
        return 0;                                                                               \
    }
ADAM(float, adam_f32)
ADAM(double, adam_f64)

int main(int argc, char **argv) {
    if (argc > 1) {
        const long n = strtol(argv[1], NULL, 10);
        if (n < 1 || n > 100000000) {
            fprintf(stderr, "adam_floor: n must be a parameter count from 1 to 10^8, got %s\n", argv[1]);
            return 2;
        }
        N = (int)n;
        STEPS = 60000000 / N > 20 ? 60000000 / N : 20;
    }
    if (adam_f32_bench("float32") || adam_f64_bench("float64")) {
        fprintf(stderr, "adam_floor: out of memory for %d parameters\n", N);
        return 1;
    }
    return 0;
}
