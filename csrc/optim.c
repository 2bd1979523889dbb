/* optim.c (template, see real.h): element-wise updates over the flat parameter vector.
 * They know nothing about the model. g is the gradient; with weight_decay wd > 0 every optimizer
 * but AdamW uses g + wd p (L2 in the loss, as torch.optim's weight_decay), AdamW decays p itself.
 *   gradient descent  p -= lr g
 *   momentum          m = α m - lr g;  p += m            (m is the velocity, Δp of the last step)
 *   Adam              m = β1 m + (1-β1) g;  v = β2 v + (1-β2) g²;
 *                     p -= lr m̂ / (√v̂ + ε),  m̂ = m / (1-β1^t), v̂ = v / (1-β2^t)   (Kingma & Ba)
 *   AdamW             p -= lr wd p, then Adam's step            (Loshchilov & Hutter, decoupled)
 *   RMSprop           v = ρ v + (1-ρ) g²;  m = α m + lr g / √(v + ε);  p -= m
 *                     (Keras: ε inside the root; with α = 0, m is lr g / √(v + ε))
 *   Nadam (Keras)     m, v as Adam;  μ_t = β1 (1 - ½ 0.96^t),  Π_t = μ_1 ⋯ μ_t;
 *                     p -= lr [μ_{t+1} m / (1-Π_{t+1}) + (1-μ_t) g / (1-Π_t)] / (√v̂ + ε)
 *   Adadelta          v = ρ v + (1-ρ) g²;  Δ = -√(m + ε) / √(v + ε) g;  m = ρ m + (1-ρ) Δ²;
 *                     p += lr Δ                                  (Zeiler; m holds E[Δ²])
 * Each step's scalars (bias corrections, Nadam's schedule, 1 - β...) are formed in double and
 * rounded once to REAL. */

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

/* Nadam's momentum schedule μ_t = β1 (1 - ½ 0.96^t) (Keras; torch.optim.NAdam with
   momentum_decay = 1). */
static double sia_nadam_mu(double beta1, int64_t t) { return beta1 * (1.0 - 0.5 * pow(0.96, (double)t)); }

/* Below this, 1 - Π rounds to exactly 1 in double, now and for every later (smaller) Π, so Π is
   kept as 0 from then on: a run split into several calls sees the same numbers. */
#define SIA_NADAM_PROD_TINY 0x1p-60

/* Π_t = μ_1 ⋯ μ_t, multiplied in order as Keras and torch keep it. opt->mu_prod holds Π for
   opt->mu_t; a step extends it by one factor, a fresh sia_optim (a new call at step t)
   rebuilds it, stopping once it is under SIA_NADAM_PROD_TINY. */
static double sia_nadam_prod(sia_optim *opt, int64_t t) {
    if (opt->mu_t != t - 1 || t == 1) {
        double prod = 1;
        for (int64_t s = 1; s < t && prod != 0; s++) {
            prod *= sia_nadam_mu(opt->beta1, s);
            if (prod < SIA_NADAM_PROD_TINY) prod = 0;
        }
        opt->mu_prod = prod;
    }
    double prod = opt->mu_prod * sia_nadam_mu(opt->beta1, t);
    if (prod < SIA_NADAM_PROD_TINY) prod = 0;
    opt->mu_prod = prod;
    opt->mu_t = t;
    return prod;
}

/* The scalars of one step, in double; the loops round each once. */
typedef struct {
    double c1, c2;     /* Adam, AdamW: bias corrections; Nadam: c2 only */
    double a, b;       /* Nadam: lr (1-μ_t)/(1-Π_t) and lr μ_{t+1}/(1-Π_{t+1}) */
    double decay;      /* AdamW: 1 - lr wd */
} sia_optim_k;

/* Starts a step: opt->t += 1, and the step's scalars. A step that is then refused (an updated
   value not finite) takes t back; Nadam's running product then rebuilds itself at the next
   step (opt->mu_t is one ahead), to the same value. */
static void sia_optim_begin(sia_optim *opt, sia_optim_k *k) {
    opt->t += 1;
    *k = (sia_optim_k){.c1 = 1, .c2 = 1, .decay = 1};
    if (opt->kind == SIA_ADAM || opt->kind == SIA_ADAMW || opt->kind == SIA_NADAM)
        sia_adam_corrections(opt, &k->c1, &k->c2);
    if (opt->kind == SIA_ADAMW) k->decay = 1.0 - opt->lr * opt->weight_decay;
    if (opt->kind == SIA_NADAM) {
        const double prod = sia_nadam_prod(opt, opt->t);
        const double next = sia_nadam_mu(opt->beta1, opt->t + 1);
        double prod_next = prod * next;
        if (prod_next < SIA_NADAM_PROD_TINY) prod_next = 0;
        k->a = opt->lr * (1.0 - sia_nadam_mu(opt->beta1, opt->t)) / (1.0 - prod);
        k->b = opt->lr * next / (1.0 - prod_next);
    }
}
#endif

/* The update of elements [0, n) from the gradient g, or g + h when h is not NULL (the sum of a
   data-parallel step's parts, vae.c, train.c), plus wd p when l2 (weight decay in the loss), at
   step opt->t with the step's scalars k. Every loop is element-wise and branch-free, so it
   vectorizes (sqrt and divide included, with -fno-math-errno), and any slice of the vectors can
   be updated on its own, to the same values. With store == 0 nothing is written: the loop only
   forms the new p, m, v and returns 1 if one of them would not be finite (or would lie within
   2^-10 of the largest REAL: a margin for a product the storing instance might fuse otherwise),
   else 0; with store == 1 it writes them (and returns 0). Inlined eight times by optim_update
   (h NULL or not, l2 or not, store or not), so the plain step reads no second gradient, adds
   no decay and checks nothing while it stores. */
SIA_INLINE int FN(optim_loop)(REAL *p, REAL *m, REAL *v, const REAL *g, const REAL *h, int l2,
                              int64_t n, const sia_optim *opt, const sia_optim_k *k, int store) {
    const REAL lr = (REAL)opt->lr, wd = (REAL)opt->weight_decay;
    const REAL big = (REAL)((SIA_IS32 ? (double)FLT_MAX : DBL_MAX) * (1 - 1.0 / 1024));
    int bad = 0;
#define GRAD(i) (l2 ? (h ? g[i] + h[i] : g[i]) + wd * p[i] : (h ? g[i] + h[i] : g[i]))
#define OUT(dst, x) do { const REAL x_ = (x); if (store) dst = x_; else bad |= !(fabs(x_) <= big); } while (0)
    switch (opt->kind) {
    case SIA_GD:
        for (int64_t i = 0; i < n; i++) OUT(p[i], p[i] - lr * GRAD(i));
        break;
    case SIA_MOMENTUM: {
        const REAL a = (REAL)opt->momentum;
        for (int64_t i = 0; i < n; i++) {
            const REAL mi = a * m[i] - lr * GRAD(i);
            OUT(p[i], p[i] + mi);
            OUT(m[i], mi);
        }
        break;
    }
    case SIA_ADAM:
    case SIA_ADAMW: {
        /* 1 - β is formed in double and rounded once: in float, 1 - (float)0.999 is 1.3e-5 off
           0.001, and float32 steps came out 6.7e-6 too large (issue 18). */
        const REAL b1 = (REAL)opt->beta1, b2 = (REAL)opt->beta2, eps = (REAL)opt->eps;
        const REAL one_b1 = (REAL)(1.0 - opt->beta1), one_b2 = (REAL)(1.0 - opt->beta2);
        const REAL c1 = (REAL)k->c1, c2 = (REAL)k->c2, decay = (REAL)k->decay;
        const int decoupled = opt->kind == SIA_ADAMW;
        for (int64_t i = 0; i < n; i++) {
            const REAL gi = GRAD(i);
            const REAL mi = b1 * m[i] + one_b1 * gi;
            const REAL vi = b2 * v[i] + one_b2 * gi * gi;
            const REAL pi = decoupled ? p[i] * decay : p[i];
            OUT(p[i], pi - lr * (mi * c1) / (sqrt(vi * c2) + eps));
            OUT(m[i], mi);
            OUT(v[i], vi);
        }
        break;
    }
    case SIA_NADAM: {
        const REAL b1 = (REAL)opt->beta1, b2 = (REAL)opt->beta2, eps = (REAL)opt->eps;
        const REAL one_b1 = (REAL)(1.0 - opt->beta1), one_b2 = (REAL)(1.0 - opt->beta2);
        const REAL c2 = (REAL)k->c2, ka = (REAL)k->a, kb = (REAL)k->b;
        for (int64_t i = 0; i < n; i++) {
            const REAL gi = GRAD(i);
            const REAL mi = b1 * m[i] + one_b1 * gi;
            const REAL vi = b2 * v[i] + one_b2 * gi * gi;
            OUT(p[i], p[i] - (kb * mi + ka * gi) / (sqrt(vi * c2) + eps));
            OUT(m[i], mi);
            OUT(v[i], vi);
        }
        break;
    }
    case SIA_RMSPROP: {
        const REAL rho = (REAL)opt->rho, one_rho = (REAL)(1.0 - opt->rho), eps = (REAL)opt->eps;
        const REAL a = (REAL)opt->momentum;
        for (int64_t i = 0; i < n; i++) {
            const REAL gi = GRAD(i);
            const REAL vi = rho * v[i] + one_rho * gi * gi;
            const REAL mi = a * m[i] + lr * gi / sqrt(vi + eps);
            OUT(p[i], p[i] - mi);
            OUT(m[i], mi);
            OUT(v[i], vi);
        }
        break;
    }
    case SIA_ADADELTA: {
        const REAL rho = (REAL)opt->rho, one_rho = (REAL)(1.0 - opt->rho), eps = (REAL)opt->eps;
        for (int64_t i = 0; i < n; i++) {
            const REAL gi = GRAD(i);
            const REAL vi = rho * v[i] + one_rho * gi * gi;
            const REAL d = -sqrt(m[i] + eps) / sqrt(vi + eps) * gi;
            OUT(p[i], p[i] + lr * d);
            OUT(m[i], rho * m[i] + one_rho * d * d);
            OUT(v[i], vi);
        }
        break;
    }
    }
#undef OUT
#undef GRAD
    return bad;
}

/* SIA_CLONES (activation.c) adds an AVX2 + FMA build. store: as optim_loop. */
SIA_CLONES
static int FN(optim_update)(REAL *p, REAL *m, REAL *v, const REAL *g, const REAL *h, int64_t n,
                            const sia_optim *opt, const sia_optim_k *k, int store) {
    const int l2 = opt->weight_decay != 0 && opt->kind != SIA_ADAMW;
#define LOOP(H, L2, S) FN(optim_loop)(p, m, v, g, H, L2, n, opt, k, S)
    if (store) {
        if (h && l2) return LOOP(h, 1, 1);
        if (h) return LOOP(h, 0, 1);
        return l2 ? LOOP(NULL, 1, 1) : LOOP(NULL, 0, 1);
    }
    if (h && l2) return LOOP(h, 1, 0);
    if (h) return LOOP(h, 0, 0);
    return l2 ? LOOP(NULL, 1, 0) : LOOP(NULL, 0, 0);
#undef LOOP
}

/* ---- proving a step finite without doing it twice ----
 * A step is applied only when every value it writes is finite: a step that would overflow (a
 * huge learning rate in float32, lr·g or v = g² beyond the range) leaves p, m, v and t as they
 * were, the last finite weights, and returns SIA_EDIVERGED; the trainers then stop. Checking
 * each value means forming the update twice (once to check, once to store), and the square
 * roots and divisions of Adam dominate its cost. So first a cheap bound: from max|p|, max|m|,
 * max|v|, max|g| (+ max|h|) and the step's scalars, the triangle inequality bounds every value
 * the step forms (optim_bound_finite below). Where that bound is below REAL_MAX / 4 (room for
 * the rounding of a dozen operations), the step is stored at once; otherwise (a bound too
 * loose, an optimizer the bound does not cover, or any input not finite) the check pass runs as
 * before. The bound of a stored step is also one on the next step's p, m and v (opt->seen): a
 * training run's next step then reads only g for its bound, and reads p, m and v again only
 * when that looser bound cannot prove the step. The maxima are exact, so which way a step goes
 * never depends on the thread count. */

/* The bits of a REAL, for the maxima: |x| ordered as an unsigned integer is |x| ordered as a
   number, with inf above every finite and NaN above inf; an integer maximum vectorizes. */
typedef uint32_t sia_bits_f32 __attribute__((may_alias));
typedef uint64_t sia_bits_f64 __attribute__((may_alias));

/* max over i of |x[i]| as bits; *any = the OR of every x[i]'s bits (its sign bit: some x < 0). */
SIA_INLINE FN(sia_bits) FN(max_bits)(const REAL *x, int64_t n, FN(sia_bits) *any) {
    const FN(sia_bits) mag = ~(FN(sia_bits))0 >> 1, *u = (const FN(sia_bits) *)x;
    FN(sia_bits) mx = 0, all = 0;
    for (int64_t i = 0; i < n; i++) {
        all |= u[i];
        mx = (u[i] & mag) > mx ? u[i] & mag : mx;
    }
    *any = all;
    return mx;
}

SIA_INLINE double FN(bits_real)(FN(sia_bits) b) {
    REAL r;
    memcpy(&r, &b, sizeof r);
    return (double)r;
}

/* The maxima of a slice of n: q[0..3] = max |p|, |m|, |v|, |g| + max |h| (h may be NULL), and
   q[4] = 1 when some v has its sign bit set (a negative v: Adam's root would be NaN). NaN when
   an input is NaN. Only the state the optimizer reads (m from momentum on, v for Adam's kin),
   and none of p, m, v when seen (bounds on them from the last step, opt->seen) is not NULL. */
SIA_CLONES
static void FN(optim_maxima)(double *q, const REAL *p, const REAL *m, const REAL *v, const REAL *g,
                             const REAL *h, int64_t n, const sia_optim *opt, const double *seen) {
    FN(sia_bits) any = 0, vany = 0;
    const int adam = opt->kind == SIA_ADAM || opt->kind == SIA_ADAMW || opt->kind == SIA_NADAM;
    if (seen) {
        q[0] = seen[0], q[1] = seen[1], q[2] = seen[2], q[4] = 0; /* v >= 0 was proven */
    } else {
        q[0] = FN(bits_real)(FN(max_bits)(p, n, &any));
        q[1] = opt->kind != SIA_GD ? FN(bits_real)(FN(max_bits)(m, n, &any)) : 0;
        q[2] = adam ? FN(bits_real)(FN(max_bits)(v, n, &vany)) : 0;
        q[4] = (double)((vany >> (8 * sizeof(REAL) - 1)) != 0);
    }
    q[3] = FN(bits_real)(FN(max_bits)(g, n, &any));
    if (h) q[3] += FN(bits_real)(FN(max_bits)(h, n, &any));
}

/* 1 when the step at scalars k provably writes only finite values, given the maxima (or bounds)
   q of its inputs (optim_maxima); then next = bounds on |p|, |m|, |v| after it. 0 when it
   cannot tell. */
static int FN(optim_bound_finite)(const double *q, const sia_optim *opt, const sia_optim_k *k,
                                  double *next) {
    const double lim = (SIA_IS32 ? (double)FLT_MAX : DBL_MAX) / 4;
    const double P = q[0], M = q[1], V = q[2], eps = opt->eps, lr = fabs(opt->lr);
    for (int a = 0; a < 4; a++)
        if (!(q[a] <= lim)) return 0; /* NaN, inf or too large */
    const double G = q[3] + (opt->kind != SIA_ADAMW ? fabs(opt->weight_decay) * P : 0);
    double bound, mn = M, vn = V;
    switch (opt->kind) {
    case SIA_GD: bound = P + lr * G; break;
    case SIA_MOMENTUM:
        mn = fabs(opt->momentum) * M + lr * G;
        bound = P + mn;
        break;
    case SIA_ADAM:
    case SIA_ADAMW:
    case SIA_NADAM: {
        const double b1 = opt->beta1, b2 = opt->beta2;
        if (q[4] || !(b2 >= 0 && b2 <= 1) || !(eps > 0) || !(G <= 1e150)) return 0;
        mn = fabs(b1) * M + fabs(1.0 - b1) * G, vn = b2 * V + (1.0 - b2) * G * G;
        const double step = opt->kind == SIA_NADAM ? (fabs(k->b) * mn + fabs(k->a) * G) / eps
                                                   : lr * mn * fabs(k->c1) / eps;
        bound = P * fabs(k->decay) + step;
        if (!(vn * fabs(k->c2) <= lim) || !(G * G <= lim)) return 0;
        break;
    }
    default: return 0; /* RMSprop, Adadelta: the check pass */
    }
    if (!(bound <= lim && mn <= lim && vn <= lim)) return 0;
    next[0] = bound, next[1] = mn, next[2] = vn;
    return 1;
}

int FN(sia_optim_step)(REAL *p, REAL *m, REAL *v, const REAL *g, int64_t n, sia_optim *opt) {
    sia_optim_k k;
    sia_optim_begin(opt, &k);
    double q[5], next[3];
    int proven = 0;
    if (opt->seen_t && opt->seen_t == opt->t - 1) { /* bounds from the last step, then g */
        FN(optim_maxima)(q, p, m, v, g, NULL, n, opt, opt->seen);
        proven = FN(optim_bound_finite)(q, opt, &k, next);
    }
    if (!proven) {
        FN(optim_maxima)(q, p, m, v, g, NULL, n, opt, NULL);
        proven = FN(optim_bound_finite)(q, opt, &k, next);
    }
    opt->seen_t = 0;
    if (!proven && FN(optim_update)(p, m, v, g, NULL, n, opt, &k, 0)) {
        opt->t -= 1;
        return SIA_EDIVERGED;
    }
    FN(optim_update)(p, m, v, g, NULL, n, opt, &k, 1);
    if (proven) memcpy(opt->seen, next, sizeof next), opt->seen_t = opt->t;
    return SIA_OK;
}

/* ---- the update on several threads: of a data-parallel step (vae.c, train.c), or of a whole one ----
 * g (n) and more ((grads - 1) n, one buffer after another): the gradients of a step's parts
 * (grads = parts), or the step's one gradient (grads = 1, more = NULL).
 * The update uses their sum in the order of the parts, ((g + more_1) + more_2) + ..., the last
 * term added inside the update (g receives the partial sums), one slice of whole 64-byte lines
 * per task, on up to `parts` threads: a first run sums each slice and bounds it (bad[i] = 0 when
 * the bound proves its step finite; from the last step's bounds on p, m, v when there are, and
 * if they fall short, a second run from p, m, v themselves), a check run only if some slice's
 * bound still could not, and a last run, only if no slice is bad, stores. */
enum { PARTS_SUM, PARTS_BOUND, PARTS_CHECK, PARTS_STORE };
typedef struct {
    REAL *p, *m, *v, *g;
    const REAL *more;
    int64_t n;
    int grads, parts, run;
    const sia_optim *opt;
    sia_optim_k k;
    const double *seen;        /* PARTS_SUM: bounds on p, m, v from the last step, or NULL */
    int bad[SIA_PARTS];
    double next[SIA_PARTS][3]; /* PARTS_SUM: bounds after the step, per slice */
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
    if (c->run != PARTS_STORE) c->next[i][0] = c->next[i][1] = c->next[i][2] = 0;
    if (a >= b) return;
    const REAL *h = c->grads > 1 ? c->more + (int64_t)(c->grads - 2) * c->n + a : NULL;
    if (c->run == PARTS_SUM || c->run == PARTS_BOUND) {
        if (c->run == PARTS_SUM)
            for (int q = 1; q < c->grads - 1; q++) FN(vec_add)(c->g + a, c->more + (q - 1) * c->n + a, b - a);
        double q[5];
        FN(optim_maxima)(q, c->p + a, c->m + a, c->v + a, c->g + a, h, b - a, c->opt,
                         c->run == PARTS_SUM ? c->seen : NULL);
        c->bad[i] = !FN(optim_bound_finite)(q, c->opt, &c->k, c->next[i]);
        return;
    }
    c->bad[i] = FN(optim_update)(c->p + a, c->m + a, c->v + a, c->g + a, h, b - a, c->opt, &c->k,
                                 c->run == PARTS_STORE);
}

static int FN(optim_step_sliced)(REAL *p, REAL *m, REAL *v, REAL *g, const REAL *more, int grads,
                                 int64_t n, int parts, sia_optim *opt) {
    FN(parts_update) c = {.p = p, .m = m, .v = v, .g = g, .more = more, .n = n, .grads = grads,
                          .parts = parts, .opt = opt};
    sia_optim_begin(opt, &c.k);
    c.run = PARTS_SUM; /* the sum of the parts, and its bound from opt->seen when there are */
    c.seen = opt->seen_t && opt->seen_t == opt->t - 1 ? opt->seen : NULL;
    opt->seen_t = 0;
    sia_pool_run(parts, parts, FN(parts_update_task), &c);
    int unproven = 0;
    for (int i = 0; i < parts; i++) unproven |= c.bad[i];
    if (unproven && c.seen) { /* again from p, m and v themselves */
        c.run = PARTS_BOUND;
        sia_pool_run(parts, parts, FN(parts_update_task), &c);
        unproven = 0;
        for (int i = 0; i < parts; i++) unproven |= c.bad[i];
    }
    if (unproven) {
        c.run = PARTS_CHECK;
        sia_pool_run(parts, parts, FN(parts_update_task), &c);
        for (int i = 0; i < parts; i++)
            if (c.bad[i]) {
                opt->t -= 1;
                return SIA_EDIVERGED;
            }
    }
    c.run = PARTS_STORE;
    sia_pool_run(parts, parts, FN(parts_update_task), &c);
    if (!unproven) { /* the slices' bounds, combined */
        for (int a = 0; a < 3; a++) {
            opt->seen[a] = 0;
            for (int i = 0; i < parts; i++) opt->seen[a] = fmax(opt->seen[a], c.next[i][a]);
        }
        opt->seen_t = opt->t;
    }
    return SIA_OK;
}

int FN(sia_optim_step_parts)(REAL *p, REAL *m, REAL *v, REAL *g, const REAL *more, int64_t n,
                             int parts, sia_optim *opt) {
    return FN(optim_step_sliced)(p, m, v, g, more, parts, n, parts, opt);
}

/* Below this many parameters the update stays on one thread: a few tens of µs, about what
   waking a worker and waiting for it cost. */
#define OPTIM_THREAD_PARAMS 65536

int FN(sia_optim_step_threads)(REAL *p, REAL *m, REAL *v, const REAL *g, int64_t n, int nthreads,
                               sia_optim *opt) {
    if (nthreads < 2 || n < OPTIM_THREAD_PARAMS) return FN(sia_optim_step)(p, m, v, g, n, opt);
    /* With one gradient the slices never write g (they sum no parts into it). */
    return FN(optim_step_sliced)(p, m, v, (REAL *)g, NULL, 1, n,
                                 nthreads < SIA_PARTS ? nthreads : SIA_PARTS, opt);
}
