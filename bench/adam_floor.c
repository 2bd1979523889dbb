/* adam_floor.c: the cost of Adam alone on the letters network (workload A, 2,977 parameters),
 * as the C core computes it (one flat loop, vectorized for AVX2 + FMA), in float32 and float64,
 * with and without its square root and division. It bounds an online epoch from below: A-online
 * takes 32 optimizer steps per epoch, whatever the rest costs.
 *
 *   cc -O3 -march=x86-64-v3 -fno-math-errno bench/adam_floor.c -o /tmp/adam_floor -lm && /tmp/adam_floor
 *
 * Each line: the best of 7 timings of 20,000 steps (µs per step), and the epochs per second that
 * 32 such steps alone would allow. */
#include <stdio.h>
#include <stdlib.h>
#include <tgmath.h>
#include <time.h>

enum { N = 2977, STEPS = 20000, TRIES = 7 };

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
    static REAL name##_p[N], name##_m[N], name##_v[N], name##_g[N];                             \
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
    static void name##_bench(const char *dtype) {                                               \
        static const char *what[] = {"Adam (sqrt and divide)", "without sqrt", "without divide", \
                                     "without either"};                                         \
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
    }
ADAM(float, adam_f32)
ADAM(double, adam_f64)

int main(void) {
    adam_f32_bench("float32");
    adam_f64_bench("float64");
    return 0;
}
