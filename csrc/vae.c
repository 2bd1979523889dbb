/* vae.c (template, see real.h): the variational autoencoder.
 *
 * The encoder is a dense stack ending in 2k linear units, h = [μ | logvar] per row; the
 * decoder is a dense stack from the k latent units to the output. Both are sia_net views into
 * ONE flat parameter vector (encoder first, decoder after it), so the optimizer steps once over
 * all of it. For a batch of B rows x:
 *
 *   h = enc(x)                  (B, 2k), μ = h[:, :k], s = clamp(logvar, LO, HI) = h[:, k:] clamped
 *   z = μ + exp(s/2) ε          (B, k), ε ~ N(0, I) drawn from the passed rng
 *   y = dec(z)                  (B, d)
 *   recon = loss(y, x)          summed over features, mean over the batch (as loss.c)
 *   KL    = (1/B) Σ_b −½ Σ_j (1 + s − μ² − exp(s))
 *   loss  = recon + w KL        w = β, or β ramped up linearly over the warm-up epochs
 *
 * The clamp [SIA_LOGVAR_MIN, SIA_LOGVAR_MAX] = [-30, 20] keeps exp(s) finite in float32
 * (exp(20) ≈ 4.9e8, exp(-30) ≈ 9.4e-14). It is part of the function: where logvar is outside
 * it, s is constant and the gradient reaching logvar (from z and from the KL) is exactly 0, as
 * with the BCE clamp of loss.c. Inside it, everything is the plain formula. */

#ifndef SIA_LOGVAR_MIN
#define SIA_LOGVAR_MIN (-30.0)
#define SIA_LOGVAR_MAX 20.0
#endif

static inline REAL FN(clamp_logvar)(REAL lv) {
    const REAL lo = (REAL)SIA_LOGVAR_MIN, hi = (REAL)SIA_LOGVAR_MAX;
    return lv < lo ? lo : (lv > hi ? hi : lv);
}
static inline int FN(logvar_inside)(REAL lv) {
    return lv >= (REAL)SIA_LOGVAR_MIN && lv <= (REAL)SIA_LOGVAR_MAX;
}

/* The latent kernels take their exps in the vectors (activation.c's vexpm1), LAT_PIECE latent
 * elements at a time: e = r k + j for row r and unit j, the logvar of e being h[r 2k + k + j].
 * One scalar libm exp per element and kernel was 3% of a digits step. */
enum { LAT_PIECE = 128 };

/* buf[i] = exp(c · clamp(logvar)) for the latent elements e0 .. e0 + m - 1 (m <= LAT_PIECE).
   c · clamp(logvar) lies in [-30, 20]: exp is finite there, as vexpm1 needs; NaN stays NaN. */
SIA_CLONES
static void FN(logvar_exps)(REAL *buf, const REAL *h, int64_t e0, int64_t m, int64_t k, REAL c) {
    for (int64_t i = 0, r = e0 / k, j = e0 % k; i < m; i++) {
        buf[i] = c * FN(clamp_logvar)(h[r * 2 * k + k + j]);
        if (++j == k) j = 0, r++;
    }
    int64_t i = 0;
    sia_vr e;
    for (; i + SIA_VL <= m; i += SIA_VL) {
        FN(vexpm1)(*(const sia_vr_u *)(buf + i), &e);
        *(sia_vr_u *)(buf + i) = e;
    }
    if (i < m) {
        FN(vexpm1)(FN(vload_part)(buf + i, m - i), &e);
        FN(vstore_part)(buf + i, e, m - i);
    }
}

/* Runs the statements after C for every latent element e (row r, unit j) of B rows, piece by
   piece, with x = exp(C · clamp(logvar)) of that element in a local. */
#define LATENT_LOOP(B, k, h, C, ...)                                                    \
    do {                                                                                \
        REAL buf_[LAT_PIECE];                                                           \
        for (int64_t e0_ = 0, r = 0, j = 0; e0_ < (B) * (k); e0_ += LAT_PIECE) {        \
            const int64_t m_ = (B) * (k) - e0_ < LAT_PIECE ? (B) * (k) - e0_ : LAT_PIECE; \
            FN(logvar_exps)(buf_, h, e0_, m_, k, C);                                     \
            for (int64_t i_ = 0; i_ < m_; i_++) {                                       \
                const REAL x = buf_[i_];                                                \
                __VA_ARGS__;                                                            \
                if (++j == (k)) j = 0, r++;                                             \
            }                                                                           \
        }                                                                               \
    } while (0)

/* h (B, 2k) rows [μ | logvar], eps (B, k), z (B, k): z = μ + exp(s/2) ε. */
void FN(sia_reparam_forward)(REAL *z, const REAL *h, const REAL *eps, int64_t B, int64_t k) {
    LATENT_LOOP(B, k, h, (REAL)0.5, z[r * k + j] = h[r * 2 * k + j] + x * eps[r * k + j]);
}

/* Forward was z = μ + exp(s/2) ε, so
 *   dμ      += dz
 *   dlogvar += dz · ε · ½ exp(s/2)   inside the clamp, 0 outside. */
void FN(sia_reparam_backward)(REAL *dh, const REAL *dz, const REAL *h, const REAL *eps, int64_t B,
                              int64_t k) {
    LATENT_LOOP(B, k, h, (REAL)0.5, {
        const REAL d = dz[r * k + j];
        dh[r * 2 * k + j] += d;
        if (FN(logvar_inside)(h[r * 2 * k + k + j])) dh[r * 2 * k + k + j] += d * eps[r * k + j] * (REAL)0.5 * x;
    });
}

/* h (B, 2k): the KL of N(μ, exp(s)) from N(0, I), summed over the k units, mean over the batch. */
double FN(sia_kl_forward)(const REAL *h, int64_t B, int64_t k) {
    double total = 0;
    REAL s = 0; /* the current row's sum */
    LATENT_LOOP(B, k, h, (REAL)1, {
        const REAL mu = h[r * 2 * k + j];
        s += 1 + FN(clamp_logvar)(h[r * 2 * k + k + j]) - mu * mu - x;
        if (j == k - 1) total += -0.5 * (double)s, s = 0;
    });
    return B > 0 ? total / (double)B : 0.0;
}

/* Forward was (w/B) Σ −½ (1 + s − μ² − exp(s)), so
 *   dμ      += (w/B) μ
 *   dlogvar += (w/B) ½ (exp(s) − 1)   inside the clamp, 0 outside. */
void FN(sia_kl_backward)(REAL *dh, const REAL *h, int64_t B, int64_t k, double weight) {
    const REAL g = (REAL)(weight / (double)(B > 0 ? B : 1));
    LATENT_LOOP(B, k, h, (REAL)1, {
        dh[r * 2 * k + j] += g * h[r * 2 * k + j];
        if (FN(logvar_inside)(h[r * 2 * k + k + j])) dh[r * 2 * k + k + j] += g * (REAL)0.5 * (x - 1);
    });
}
#undef LATENT_LOOP

int FN(sia_vae_trainer_alloc)(FN(sia_vae_trainer) *tr, const FN(sia_vae) *vae, int64_t n,
                              int64_t batch) {
    const int64_t k = vae->dec.sizes[0];
    int64_t order_bytes, eps_bytes;
    tr->order = NULL;
    tr->eps = NULL;
    tr->pgrads = NULL;
    tr->enc.block = tr->dec.block = NULL;
    for (int i = 0; i < SIA_PARTS; i++) tr->penc[i].block = tr->pdec[i].block = NULL;
    const double we = sia_widest(vae->enc.sizes, vae->enc.L), wd = sia_widest(vae->dec.sizes, vae->dec.L);
    tr->widest = we > wd ? we : wd;
    tr->parts = sia_step_parts(vae->enc.nthreads, batch, tr->widest);
    if (!sia_mul_ok(n, (int64_t)sizeof(int64_t), &order_bytes) || !sia_mul_ok(batch, k, &eps_bytes) ||
        !sia_mul_ok(eps_bytes, (int64_t)sizeof(REAL), &eps_bytes) ||
        (uint64_t)order_bytes > SIZE_MAX / 2 || (uint64_t)eps_bytes > SIZE_MAX / 2)
        return SIA_ENOMEM;
    if (FN(sia_acts_alloc)(&tr->enc, vae->enc.sizes, vae->enc.L, batch) != SIA_OK) return SIA_ENOMEM;
    if (FN(sia_acts_alloc)(&tr->dec, vae->dec.sizes, vae->dec.L, batch) != SIA_OK) {
        FN(sia_acts_free)(&tr->enc);
        return SIA_ENOMEM;
    }
    tr->order = malloc((size_t)(order_bytes > 0 ? order_bytes : 1));
    tr->eps = malloc((size_t)(eps_bytes > 0 ? eps_bytes : 1));
    if (!tr->order || !tr->eps) {
        FN(sia_vae_trainer_free)(tr);
        return SIA_ENOMEM;
    }
    if (tr->parts > 1) { /* parts 1..: at most ceil(batch / 2) rows each, and their gradients */
        const int64_t P = sia_param_count(vae->enc.sizes, vae->enc.L) +
                          sia_param_count(vae->dec.sizes, vae->dec.L);
        int64_t bytes;
        if (!sia_mul_ok(P, (int64_t)(tr->parts - 1) * (int64_t)sizeof(REAL), &bytes) ||
            (uint64_t)bytes > SIZE_MAX / 2 || !(tr->pgrads = malloc((size_t)bytes))) {
            FN(sia_vae_trainer_free)(tr);
            return SIA_ENOMEM;
        }
        for (int i = 1; i < tr->parts; i++)
            if (FN(sia_acts_alloc)(&tr->penc[i], vae->enc.sizes, vae->enc.L, (batch + 1) / 2) != SIA_OK ||
                FN(sia_acts_alloc)(&tr->pdec[i], vae->dec.sizes, vae->dec.L, (batch + 1) / 2) != SIA_OK) {
                FN(sia_vae_trainer_free)(tr);
                return SIA_ENOMEM;
            }
    }
    for (int64_t i = 0; i < n; i++) tr->order[i] = i;
    return SIA_OK;
}

void FN(sia_vae_trainer_free)(FN(sia_vae_trainer) *tr) {
    FN(sia_acts_free)(&tr->enc);
    FN(sia_acts_free)(&tr->dec);
    for (int i = 0; i < SIA_PARTS; i++) {
        FN(sia_acts_free)(&tr->penc[i]);
        FN(sia_acts_free)(&tr->pdec[i]);
    }
    free(tr->order);
    free(tr->eps);
    free(tr->pgrads);
    tr->order = NULL;
    tr->eps = NULL;
    tr->pgrads = NULL;
}

/* Forward of B rows already in E->a[0], which are also the targets, with eps (B, k): fills
   every activation and returns recon and KL in out[1], out[2], and recon + w KL in out[0]. */
static void FN(vae_forward)(const FN(sia_vae) *vae, FN(sia_acts) *E, FN(sia_acts) *D,
                            const REAL *eps, int64_t B, int loss, double w, double out[3]) {
    const int64_t Le = vae->enc.L, k = vae->dec.sizes[0];
    FN(sia_net_forward)(&vae->enc, E, B, 0, Le);
    FN(sia_reparam_forward)(D->a[0], E->a[Le], eps, B, k);
    out[1] = FN(net_forward_loss)(&vae->dec, D, E->a[0], B, loss);
    out[2] = FN(sia_kl_forward)(E->a[Le], B, k);
    out[0] = out[1] + w * out[2];
}

/* Backward after vae_forward: the gradient of share · (recon + w KL), written into both nets'
 * grads, or added to them when accumulate. share = B / B_step for a part of B rows of a step
 * of B_step rows: the step's loss is the mean over all its rows. Written, it needs no zeroed
 * grads (net.c's net_backward writes every parameter's gradient), so a training step makes no
 * pass over them before the optimizer. dL/dy (B × d) is written by the loss; dL/dh (B × 2k)
 * is small, zeroed, then accumulated by the kernels.
 * Returns whether every gradient is finite (net_backward checks each layer's). */
static int FN(vae_backward)(FN(sia_vae) *vae, FN(sia_acts) *E, FN(sia_acts) *D, const REAL *eps,
                            int64_t B, int loss, double w, int accumulate, double share) {
    const int64_t Le = vae->enc.L, Ld = vae->dec.L, k = vae->dec.sizes[0], d = vae->dec.sizes[Ld];
    const int64_t h2 = vae->enc.sizes[Le];
    /* Decoder: dL/dy -> ... -> dL/dz in D->dA (B, k). */
    FN(loss_backward_write)(D->dZ, D->a[Ld], E->a[0], B, d, loss, vae->dec.act[Ld - 1],
                            vae->dec.beta[Ld - 1]);
    if (share != 1) FN(vec_scale)(D->dZ, B * d, share);
    int finite = FN(net_backward)(&vae->dec, D, B, 0, Ld, 1, accumulate);
    /* dL/dh (B, 2k) from z and from the KL, straight into E->dZ; then times the head's f'(h)
       (nothing to do for the usual linear head). */
    memset(E->dZ, 0, (size_t)(B * h2) * sizeof(REAL));
    FN(sia_reparam_backward)(E->dZ, D->dA, E->a[Le], eps, B, k);
    FN(sia_kl_backward)(E->dZ, E->a[Le], B, k, w * share);
    FN(act_grad_scale)(E->dZ, E->a[Le], B * h2, vae->enc.act[Le - 1], vae->enc.beta[Le - 1]);
    return FN(net_backward)(&vae->enc, E, B, 0, Le, 0, accumulate) && finite;
}

int FN(sia_vae_loss_grad)(FN(sia_vae) *vae, double out[3], const REAL *X, const REAL *eps,
                          int64_t n, int loss, double kl_weight) {
    const int64_t d = vae->enc.sizes[0];
    FN(sia_acts) E, D;
    int64_t cap = n > 0 ? n : 1;
    if (FN(sia_acts_alloc)(&E, vae->enc.sizes, vae->enc.L, cap) != SIA_OK) return SIA_ENOMEM;
    if (FN(sia_acts_alloc)(&D, vae->dec.sizes, vae->dec.L, cap) != SIA_OK) {
        FN(sia_acts_free)(&E);
        return SIA_ENOMEM;
    }
    memcpy(E.a[0], X, (size_t)(n * d) * sizeof(REAL));
    FN(vae_forward)(vae, &E, &D, eps, n, loss, kl_weight, out);
    if (vae->enc.grads && vae->dec.grads) FN(vae_backward)(vae, &E, &D, eps, n, loss, kl_weight, 1, 1);
    FN(sia_acts_free)(&E);
    FN(sia_acts_free)(&D);
    return SIA_OK;
}

/* Largest number of wrong pixels of the reconstructions through the mean (z = μ). */
static int64_t FN(vae_max_wrong)(const FN(sia_vae) *vae, FN(sia_acts) *E, FN(sia_acts) *D,
                                 const REAL *X, int64_t n) {
    const int64_t Le = vae->enc.L, Ld = vae->dec.L, k = vae->dec.sizes[0], d = vae->enc.sizes[0];
    int64_t worst = 0;
    for (int64_t r = 0; r < n; r += E->cap) {
        int64_t B = n - r < E->cap ? n - r : E->cap;
        memcpy(E->a[0], X + r * d, (size_t)(B * d) * sizeof(REAL));
        FN(sia_net_forward)(&vae->enc, E, B, 0, Le);
        for (int64_t i = 0; i < B; i++)
            memcpy(D->a[0] + i * k, E->a[Le] + i * 2 * k, (size_t)k * sizeof(REAL));
        FN(sia_net_forward)(&vae->dec, D, B, 0, Ld);
        for (int64_t i = 0; i < B; i++) {
            int64_t e;
            FN(sia_pixel_errors)(&e, D->a[Ld] + i * d, X + (r + i) * d, 1, d);
            if (e > worst) worst = e;
        }
    }
    return worst;
}

/* ---- a data-parallel step (see sia_vae_trainer) ---- */
typedef struct {
    FN(sia_vae) *vae;
    FN(sia_vae_trainer) *tr;
    const REAL *X;
    const int64_t *rows;     /* (B,) the step's rows of X */
    int64_t B, P;
    int parts, loss;
    double w;
    double out[SIA_PARTS][3]; /* each part's {total, recon, KL}, means over its rows */
    int ok[SIA_PARTS];        /* each part's loss and gradients are finite */
} FN(vae_split);

/* Part i: its rows through the forward and backward, the gradient of its share of the step's
   mean loss written into its own buffer (part 0: the nets' grads). */
static void FN(vae_part_task)(void *ctx, int64_t i) {
    FN(vae_split) *c = ctx;
    const int64_t d = c->vae->enc.sizes[0], k = c->vae->dec.sizes[0];
    const int64_t r0 = sia_part_start(i, c->B, c->parts), B = sia_part_start(i + 1, c->B, c->parts) - r0;
    FN(sia_vae) view = *c->vae;
    FN(sia_acts) *E = &c->tr->enc, *D = &c->tr->dec;
    if (i > 0) {
        view.enc.grads = c->tr->pgrads + (i - 1) * c->P;
        view.dec.grads = view.enc.grads + (c->vae->dec.grads - c->vae->enc.grads);
        E = &c->tr->penc[i];
        D = &c->tr->pdec[i];
    }
    view.enc.nthreads = view.dec.nthreads = 1; /* this part is one thread's work */
    for (int64_t r = 0; r < B; r++)
        memcpy(E->a[0] + r * d, c->X + c->rows[r0 + r] * d, (size_t)d * sizeof(REAL));
    const REAL *eps = c->tr->eps + r0 * k;
    FN(vae_forward)(&view, E, D, eps, B, c->loss, c->w, c->out[i]);
    c->ok[i] = isfinite(c->out[i][0]) &&
               FN(vae_backward)(&view, E, D, eps, B, c->loss, c->w, 0, (double)B / (double)c->B);
}

/* One step over the rows (B,) split into parts (>= 2): forward, backward, the summed gradient
   and the update, on up to `parts` threads. out: the step's means. Returns SIA_OK, or
   SIA_EDIVERGED (nothing applied) when a loss, a gradient or an updated parameter is not
   finite. */
static int FN(vae_split_step)(FN(sia_vae) *vae, FN(sia_vae_trainer) *tr, const REAL *X,
                              const int64_t *rows, int64_t B, int64_t P, int parts, int loss,
                              double w, sia_optim *opt, REAL *m, REAL *v, double out[3]) {
    FN(vae_split) c = {.vae = vae, .tr = tr, .X = X, .rows = rows, .B = B, .P = P,
                       .parts = parts, .loss = loss, .w = w};
    sia_pool_run(parts, parts, FN(vae_part_task), &c);
    int ok = 1;
    out[0] = out[1] = out[2] = 0;
    for (int i = 0; i < parts; i++) {
        const double rows_i = (double)(sia_part_start(i + 1, B, parts) - sia_part_start(i, B, parts));
        ok &= c.ok[i];
        for (int j = 0; j < 3; j++) out[j] += c.out[i][j] * rows_i;
    }
    for (int j = 0; j < 3; j++) out[j] /= (double)B;
    if (!ok) return SIA_EDIVERGED;
    return FN(sia_optim_step_parts)(vae->enc.params, m, v, vae->enc.grads, tr->pgrads, P, parts, opt);
}

int FN(sia_vae_train)(FN(sia_vae) *vae, FN(sia_vae_trainer) *tr, sia_train_state *st,
                      double *loss_out, double *recon_out, double *kl_out, const double *kl_weights,
                      const REAL *X, int64_t n, const sia_train_cfg *cfg, sia_optim *opt, REAL *m,
                      REAL *v, sia_rng *rng, int64_t deadline_ns) {
    const int64_t d = vae->enc.sizes[0], k = vae->dec.sizes[0];
    const int64_t P = sia_param_count(vae->enc.sizes, vae->enc.L) +
                      sia_param_count(vae->dec.sizes, vae->dec.L);
    const int64_t batch = cfg->batch, n_steps = (n + batch - 1) / batch;
    FN(sia_acts) *E = &tr->enc, *D = &tr->dec;

    while (st->epoch < cfg->epochs) {
        const double w = kl_weights ? kl_weights[st->epoch] : cfg->kl_weight;
        if (st->step == 0) {
            st->loss_sum = st->recon_sum = st->kl_sum = 0;
            /* Each epoch shuffles 0..n-1 afresh, as train.c does: its order depends only on the
               rng state, not on how many epochs this call ran before it (a callback, verbose=2
               or fit(3) twice call once per epoch or chunk, with a fresh trainer). */
            for (int64_t i = 0; i < n; i++) tr->order[i] = i;
            if (cfg->shuffle) sia_rng_shuffle(tr->order, n, rng);
        }
        /* One step: the batch rows in the epoch's order (inputs and targets), then ε (B, k). */
        int64_t r0 = st->step * batch, B = n - r0 < batch ? n - r0 : batch;
        const int parts = sia_step_parts(tr->parts, B, tr->widest);
        if (parts < 2)
            for (int64_t i = 0; i < B; i++)
                memcpy(E->a[0] + i * d, X + tr->order[r0 + i] * d, (size_t)d * sizeof(REAL));
        /* The next step's rows are scattered over X, which outgrows L2: ask for them now, so
           that its gather does not wait for one row after another while this step computes. */
        for (int64_t i = r0 + B; i < r0 + B + batch && i < n; i++)
            for (int64_t j = 0; j < d; j += 64 / (int64_t)sizeof(REAL))
                __builtin_prefetch(X + tr->order[i] * d + j, 0, 1);
        for (int64_t i = 0; i < B * k; i += 64) { /* in even pieces: pairs stay whole */
            double e[64];
            const int64_t m = B * k - i < 64 ? B * k - i : 64;
            sia_rng_normals(rng, e, m);
            for (int64_t j = 0; j < m; j++) tr->eps[i + j] = (REAL)e[j];
        }
        double out[3];
        if (parts >= 2) {
            if (FN(vae_split_step)(vae, tr, X, tr->order + r0, B, P, parts, cfg->loss, w, opt, m,
                                   v, out) != SIA_OK)
                return SIA_EDIVERGED;
        } else {
            FN(vae_forward)(vae, E, D, tr->eps, B, cfg->loss, w, out);
            if (!isfinite(out[0])) return SIA_EDIVERGED;
            if (!FN(vae_backward)(vae, E, D, tr->eps, B, cfg->loss, w, 0, 1)) /* writes every gradient */
                return SIA_EDIVERGED;
            if (FN(sia_optim_step)(vae->enc.params, m, v, vae->enc.grads, P, opt) != SIA_OK)
                return SIA_EDIVERGED; /* an updated parameter would not be finite */
        }
        st->loss_sum += out[0] * (double)B;
        st->recon_sum += out[1] * (double)B;
        st->kl_sum += out[2] * (double)B;
        st->step += 1;

        if (st->step == n_steps) {
            double epoch_loss = st->loss_sum / (double)n;
            loss_out[st->epoch] = epoch_loss;
            recon_out[st->epoch] = st->recon_sum / (double)n;
            kl_out[st->epoch] = st->kl_sum / (double)n;
            st->epoch += 1;
            st->step = 0;
            if ((cfg->loss_tol > 0 && epoch_loss < cfg->loss_tol) ||
                (cfg->max_wrong >= 0 && FN(vae_max_wrong)(vae, E, D, X, n) <= cfg->max_wrong)) {
                st->stopped = 1;
                return SIA_OK;
            }
        }
        if (deadline_ns && sia_now_ns() > deadline_ns) return SIA_PAUSED;
    }
    return SIA_OK;
}
