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

/* Adam's corrections for the step about to be taken, t + 1 (1 for the other optimizers); the
   step count itself moves only when the step is applied (sia_optim_step). */
static void sia_optim_next(sia_optim *opt, double *c1, double *c2) {
    *c1 = *c2 = 1;
    if (opt->kind != SIA_ADAM) return;
    opt->t += 1;
    sia_adam_corrections(opt, c1, c2);
    opt->t -= 1;
}
#endif

/* The update of elements [0, n) from the gradient g, or g + h when h is not NULL (the sum of a
   data-parallel step's parts, vae.c), at step opt->t with Adam's corrections c1, c2. Every loop
   is element-wise and branch-free, so it vectorizes (sqrt and divide included, with
   -fno-math-errno), and any slice of the vectors can be updated on its own, to the same values.
   With store == 0 nothing is written: the loop only computes the new p (and m, v) and returns
   1 if one of them would not be finite (or within 2^-10 of the largest REAL, a margin for a
   product the other instance might fuse differently), else 0; with store == 1 it writes them
   and returns 0. Inlined by optim_update, with h = NULL apart, so the plain step reads no
   second gradient. */
SIA_INLINE int FN(optim_loop)(REAL *p, REAL *m, REAL *v, const REAL *g, const REAL *h, int64_t n,
                              const sia_optim *opt, double c1d, double c2d, int store) {
    const REAL lr = (REAL)opt->lr, big = (REAL)((SIA_IS32 ? (double)FLT_MAX : DBL_MAX) * (1 - 1.0 / 1024));
    int bad = 0;
#define GRAD(i) (h ? g[i] + h[i] : g[i])
#define OUT(dst, x) do { const REAL x_ = (x); if (store) dst = x_; else bad |= !(fabs(x_) <= big); } while (0)
    if (opt->kind == SIA_GD) {
        for (int64_t i = 0; i < n; i++) OUT(p[i], p[i] - lr * GRAD(i));
    } else if (opt->kind == SIA_MOMENTUM) {
        const REAL a = (REAL)opt->momentum;
        for (int64_t i = 0; i < n; i++) {
            const REAL mi = a * m[i] - lr * GRAD(i);
            OUT(p[i], p[i] + mi);
            OUT(m[i], mi);
        }
    } else {
        const REAL b1 = (REAL)opt->beta1, b2 = (REAL)opt->beta2, eps = (REAL)opt->eps;
        const REAL c1 = (REAL)c1d, c2 = (REAL)c2d;
        for (int64_t i = 0; i < n; i++) {
            const REAL gi = GRAD(i);
            const REAL mi = b1 * m[i] + (1 - b1) * gi;
            const REAL vi = b2 * v[i] + (1 - b2) * gi * gi;
            OUT(p[i], p[i] - lr * (mi * c1) / (sqrt(vi * c2) + eps));
            OUT(m[i], mi);
            OUT(v[i], vi);
        }
    }
#undef OUT
#undef GRAD
    return bad;
}

/* SIA_CLONES (activation.c) adds an AVX2 + FMA build. store: as optim_loop. */
SIA_CLONES
static int FN(optim_update)(REAL *p, REAL *m, REAL *v, const REAL *g, const REAL *h, int64_t n,
                            const sia_optim *opt, double c1, double c2, int store) {
    if (store) return h ? FN(optim_loop)(p, m, v, g, h, n, opt, c1, c2, 1)
                        : FN(optim_loop)(p, m, v, g, NULL, n, opt, c1, c2, 1);
    return h ? FN(optim_loop)(p, m, v, g, h, n, opt, c1, c2, 0)
             : FN(optim_loop)(p, m, v, g, NULL, n, opt, c1, c2, 0);
}

/* A step is applied only when every value it writes is finite: one pass computes them without
   storing, the second stores them (the same arithmetic). So a step that would overflow (a huge
   learning rate in float32, lr·g or v = g² beyond the range) leaves p, m, v and t as they were,
   the last finite weights, and returns SIA_EDIVERGED. */
int FN(sia_optim_step)(REAL *p, REAL *m, REAL *v, const REAL *g, int64_t n, sia_optim *opt) {
    double c1, c2;
    sia_optim_next(opt, &c1, &c2);
    if (FN(optim_update)(p, m, v, g, NULL, n, opt, c1, c2, 0)) return SIA_EDIVERGED;
    FN(optim_update)(p, m, v, g, NULL, n, opt, c1, c2, 1);
    opt->t += 1;
    return SIA_OK;
}

/* ---- the update of a data-parallel step (vae.c, train.c) ----
 * g (n) and more ((parts - 1) n, one buffer after another): the gradients of a step's parts.
 * The update uses their sum in the order of the parts, ((g + more_1) + more_2) + ..., the last
 * term added inside the update (g receives the partial sums), one slice of whole 64-byte lines
 * per task, on up to `parts` threads: a first run sums and checks each slice (bad[i]), a
 * second, only if no slice is bad, stores. */
typedef struct {
    REAL *p, *m, *v, *g;
    const REAL *more;
    int64_t n;
    int parts, store;
    const sia_optim *opt;
    double c1, c2;
    int bad[SIA_PARTS];
} FN(parts_update);

/* g (n) += h (n) */
SIA_CLONES
static void FN(vec_add)(REAL *g, const REAL *h, int64_t n) {
    for (int64_t j = 0; j < n; j++) g[j] += h[j];
}

static void FN(parts_update_task)(void *ctx, int64_t i) {
    FN(parts_update) *c = ctx;
    const int64_t line = 64 / (int64_t)sizeof(REAL), lines = (c->n + line - 1) / line;
    const int64_t a = sia_part_start(i, lines, c->parts) * line;
    const int64_t b = i + 1 == c->parts ? c->n : sia_part_start(i + 1, lines, c->parts) * line;
    c->bad[i] = 0;
    if (a >= b) return;
    const REAL *h = c->more + (int64_t)(c->parts - 2) * c->n + a;
    if (!c->store)
        for (int q = 1; q < c->parts - 1; q++) FN(vec_add)(c->g + a, c->more + (q - 1) * c->n + a, b - a);
    c->bad[i] = FN(optim_update)(c->p + a, c->m + a, c->v + a, c->g + a, h, b - a, c->opt, c->c1,
                                 c->c2, c->store);
}

int FN(sia_optim_step_parts)(REAL *p, REAL *m, REAL *v, REAL *g, const REAL *more, int64_t n,
                             int parts, sia_optim *opt) {
    FN(parts_update) c = {.p = p, .m = m, .v = v, .g = g, .more = more, .n = n, .parts = parts, .opt = opt};
    sia_optim_next(opt, &c.c1, &c.c2);
    sia_pool_run(parts, parts, FN(parts_update_task), &c);
    for (int i = 0; i < parts; i++)
        if (c.bad[i]) return SIA_EDIVERGED;
    c.store = 1;
    sia_pool_run(parts, parts, FN(parts_update_task), &c);
    opt->t += 1;
    return SIA_OK;
}
