/* optim.c (template, see real.h): element-wise updates over the flat parameter vector.
 * They know nothing about the model.
 *   gradient descent  p -= lr g
 *   momentum          m = α m - lr g;  p += m            (m is the velocity, Δp of the last step)
 *   Adam              m = β1 m + (1-β1) g;  v = β2 v + (1-β2) g²;
 *                     p -= lr m̂ / (√v̂ + ε),  m̂ = m / (1-β1^t), v̂ = v / (1-β2^t)   (Kingma & Ba) */

#ifndef SIA_OPTIM_ONCE
#define SIA_OPTIM_ONCE
/* Adam's bias corrections 1/(1-β1^t) and 1/(1-β2^t) for t = opt->t. Once β^t <= 2^-64, 1 - β^t
   rounds to 1 in double and the correction is exactly 1, for every later t too (β < 1). So
   opt->t_flat, the first t where that holds for both β (found once, with a margin for log2's
   rounding), spares the two pow calls of every later step: 2% of an online letters step, whose
   t passes 44,000 (β2 = 0.999) in the first 1,400 epochs. */
static void sia_adam_corrections(sia_optim *opt, double *c1, double *c2) {
    if (!opt->t_flat) {
        const double b = opt->beta1 > opt->beta2 ? opt->beta1 : opt->beta2;
        opt->t_flat = b > 0 ? (int64_t)ceil(64.0 / -log2(b) * (1 + 1e-12)) + 1 : 1;
    }
    if (opt->t >= opt->t_flat) {
        *c1 = *c2 = 1;
        return;
    }
    *c1 = 1.0 / (1.0 - pow(opt->beta1, (double)opt->t));
    *c2 = 1.0 / (1.0 - pow(opt->beta2, (double)opt->t));
}

/* Starts a step: opt->t += 1, and Adam's corrections for it (1 for the other optimizers). */
static void sia_optim_begin(sia_optim *opt, double *c1, double *c2) {
    opt->t += 1;
    *c1 = *c2 = 1;
    if (opt->kind == SIA_ADAM) sia_adam_corrections(opt, c1, c2);
}
#endif

/* The update of elements [0, n) from the gradient g, or g + h when h is not NULL (the sum of a
   data-parallel step's parts, vae.c), at step opt->t with Adam's corrections c1, c2. Every loop
   is element-wise and branch-free, so it vectorizes (sqrt and divide included, with
   -fno-math-errno), and any slice of the vectors can be updated on its own, to the same values.
   Inlined twice by optim_update, once with h = NULL, so the plain step reads no second gradient. */
SIA_INLINE void FN(optim_loop)(REAL *p, REAL *m, REAL *v, const REAL *g, const REAL *h, int64_t n,
                               const sia_optim *opt, double c1d, double c2d) {
    const REAL lr = (REAL)opt->lr;
#define GRAD(i) (h ? g[i] + h[i] : g[i])
    if (opt->kind == SIA_GD) {
        for (int64_t i = 0; i < n; i++) p[i] -= lr * GRAD(i);
    } else if (opt->kind == SIA_MOMENTUM) {
        const REAL a = (REAL)opt->momentum;
        for (int64_t i = 0; i < n; i++) {
            m[i] = a * m[i] - lr * GRAD(i);
            p[i] += m[i];
        }
    } else {
        /* 1 - β is formed in double and rounded once: in float, 1 - (float)0.999 is 1.3e-5 off
           0.001, and float32 steps came out 6.7e-6 too large (issue 18). */
        const REAL b1 = (REAL)opt->beta1, b2 = (REAL)opt->beta2, eps = (REAL)opt->eps;
        const REAL one_b1 = (REAL)(1.0 - opt->beta1), one_b2 = (REAL)(1.0 - opt->beta2);
        const REAL c1 = (REAL)c1d, c2 = (REAL)c2d;
        for (int64_t i = 0; i < n; i++) {
            const REAL gi = GRAD(i);
            m[i] = b1 * m[i] + one_b1 * gi;
            v[i] = b2 * v[i] + one_b2 * gi * gi;
            p[i] -= lr * (m[i] * c1) / (sqrt(v[i] * c2) + eps);
        }
    }
#undef GRAD
}

/* SIA_CLONES (activation.c) adds an AVX2 + FMA build. */
SIA_CLONES
static void FN(optim_update)(REAL *p, REAL *m, REAL *v, const REAL *g, const REAL *h, int64_t n,
                             const sia_optim *opt, double c1, double c2) {
    if (h) FN(optim_loop)(p, m, v, g, h, n, opt, c1, c2);
    else FN(optim_loop)(p, m, v, g, NULL, n, opt, c1, c2);
}

void FN(sia_optim_step)(REAL *p, REAL *m, REAL *v, const REAL *g, int64_t n, sia_optim *opt) {
    double c1, c2;
    sia_optim_begin(opt, &c1, &c2);
    FN(optim_update)(p, m, v, g, NULL, n, opt, c1, c2);
}

/* ---- the update of a data-parallel step (vae.c, train.c) ----
 * g (n) and more ((parts - 1) n, one buffer after another): the gradients of a step's parts.
 * The update uses their sum in the order of the parts, ((g + more_1) + more_2) + ..., the last
 * term added inside the update (g receives the partial sums), one slice of whole 64-byte lines
 * per task, on up to `parts` threads. */
typedef struct {
    REAL *p, *m, *v, *g;
    const REAL *more;
    int64_t n;
    int parts;
    const sia_optim *opt;
    double c1, c2;
} FN(parts_update);

/* g (n) += h (n) */
SIA_CLONES
static void FN(vec_add)(REAL *g, const REAL *h, int64_t n) {
    for (int64_t j = 0; j < n; j++) g[j] += h[j];
}

static void FN(parts_update_task)(void *ctx, int64_t i) {
    const FN(parts_update) *c = ctx;
    const int64_t line = 64 / (int64_t)sizeof(REAL), lines = (c->n + line - 1) / line;
    const int64_t a = sia_part_start(i, lines, c->parts) * line;
    const int64_t b = i + 1 == c->parts ? c->n : sia_part_start(i + 1, lines, c->parts) * line;
    if (a >= b) return;
    const REAL *h = c->more + a;
    for (int q = 1; q < c->parts - 1; q++, h += c->n) FN(vec_add)(c->g + a, h, b - a);
    FN(optim_update)(c->p + a, c->m + a, c->v + a, c->g + a, h, b - a, c->opt, c->c1, c->c2);
}

void FN(sia_optim_step_parts)(REAL *p, REAL *m, REAL *v, REAL *g, const REAL *more, int64_t n,
                              int parts, sia_optim *opt) {
    FN(parts_update) c = {.p = p, .m = m, .v = v, .g = g, .more = more, .n = n, .parts = parts, .opt = opt};
    sia_optim_begin(opt, &c.c1, &c.c2);
    sia_pool_run(parts, parts, FN(parts_update_task), &c);
}
