/* optim.c (template, see real.h): element-wise updates over the flat parameter vector.
 * They know nothing about the model.
 *   gradient descent  p -= lr g
 *   momentum          m = α m - lr g;  p += m            (m is the velocity, Δp of the last step)
 *   Adam              m = β1 m + (1-β1) g;  v = β2 v + (1-β2) g²;
 *                     p -= lr m̂ / (√v̂ + ε),  m̂ = m / (1-β1^t), v̂ = v / (1-β2^t)   (Kingma & Ba) */

/* Every loop is element-wise and branch-free, so it vectorizes (sqrt and divide included, with
   -fno-math-errno); SIA_CLONES (activation.c) adds an AVX2 + FMA build of it. */
SIA_CLONES
void FN(sia_optim_step)(REAL *p, REAL *m, REAL *v, const REAL *g, int64_t n, sia_optim *opt) {
    opt->t += 1;
    const REAL lr = (REAL)opt->lr;
    if (opt->kind == SIA_GD) {
        for (int64_t i = 0; i < n; i++) p[i] -= lr * g[i];
    } else if (opt->kind == SIA_MOMENTUM) {
        const REAL a = (REAL)opt->momentum;
        for (int64_t i = 0; i < n; i++) {
            m[i] = a * m[i] - lr * g[i];
            p[i] += m[i];
        }
    } else {
        const REAL b1 = (REAL)opt->beta1, b2 = (REAL)opt->beta2, eps = (REAL)opt->eps;
        const REAL c1 = (REAL)(1.0 / (1.0 - pow(opt->beta1, (double)opt->t)));
        const REAL c2 = (REAL)(1.0 / (1.0 - pow(opt->beta2, (double)opt->t)));
        for (int64_t i = 0; i < n; i++) {
            m[i] = b1 * m[i] + (1 - b1) * g[i];
            v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
            p[i] -= lr * (m[i] * c1) / (sqrt(v[i] * c2) + eps);
        }
    }
}
