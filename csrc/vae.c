/* vae.c (template, see real.h): the latent kernels of the variational autoencoder, and its
 * SAMPLE layer kind. A VAE is one network of the engine (net.c) and the one trainer (train.c):
 * encoder layers ending in a linear head of 2k units, h = [μ | logvar] per row, a SAMPLE layer,
 * then the decoder's layers. For a batch of B rows x:
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

/* ---- the SAMPLE kind: in (B, 2k) rows [μ | logvar] -> z (B, k) ----
 * In training, noise is this step's ε (B, k) (drawn by the trainer with sia_rng_normals,
 * row-major): z = μ + exp(s/2) ε. Outside training (noise NULL): z = μ. The KL term is the
 * engine's (net.c adds w · KL to the loss and its gradient to din), as every penalty is. */

static int64_t FN(sample_scratch)(const sia_layer *l, int64_t B) { return 0; }

static void FN(sample_forward)(const sia_layer *l, REAL *z, const REAL *in, const REAL *W,
                               const REAL *noise, int64_t B, REAL *scratch, int nthreads) {
    const int64_t k = sia_layer_n_out(l);
    if (noise) FN(sia_reparam_forward)(z, in, noise, B, k);
    else
        for (int64_t r = 0; r < B; r++) memcpy(z + r * k, in + r * 2 * k, (size_t)k * sizeof(REAL));
}

/* din (B, 2k) = dL/dh through z (sia_reparam_backward; without ε, dμ = dz and dlogvar = 0). */
static void FN(sample_backward)(const sia_layer *l, REAL *din, REAL *dW, const REAL *dz,
                                const REAL *in, const REAL *z, const REAL *W, const REAL *noise,
                                int64_t B, REAL *scratch, int accumulate, int nthreads) {
    const int64_t k = sia_layer_n_out(l);
    if (!din) return;
    memset(din, 0, (size_t)(B * 2 * k) * sizeof(REAL));
    if (noise) FN(sia_reparam_backward)(din, dz, in, noise, B, k);
    else
        for (int64_t r = 0; r < B; r++) memcpy(din + r * 2 * k, dz + r * k, (size_t)k * sizeof(REAL));
}
