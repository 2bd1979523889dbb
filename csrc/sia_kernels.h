/* sia_kernels.h: the templated kernels, included twice by sia.h (REAL = float, then double).
 * No include guard on purpose. Shapes are row-major; sizes are int64_t. */

/* ---- gemm.c ----
 * C (M, N) = op(A) (M, K) · op(B) (K, N), plus C itself when accumulate is set.
 * A is stored (M, K), or (K, M) when transA; B is stored (K, N), or (N, K) when transB.
 * Every C element is reduced over k in the same order whatever nthreads is, so results
 * are bit-identical for any thread count. */
void FN(sia_gemm)(REAL *C, const REAL *A, const REAL *B, int64_t M, int64_t N, int64_t K,
                  int transA, int transB, int accumulate, int nthreads);

/* ---- dense.c ----
 * inp (B, n_in), W (n_out, n_in), b (n_out), out (B, n_out): out = inp Wᵀ + b. */
void FN(sia_dense_forward)(REAL *out, const REAL *inp, const REAL *W, const REAL *b,
                           int64_t B, int64_t n_in, int64_t n_out, int nthreads);
/* dout (B, n_out); accumulates dinp (B, n_in) (skipped when NULL), dW (n_out, n_in), db (n_out). */
void FN(sia_dense_backward)(REAL *dinp, REAL *dW, REAL *db, const REAL *dout, const REAL *inp,
                            const REAL *W, int64_t B, int64_t n_in, int64_t n_out, int nthreads);

/* ---- conv.c, pooling.c: layer kinds of the engine (sia_layer, sia.h) ----
 * Each kind has three entries of the engine's table:
 *   <kind>_scratch(l, B): REALs of scratch that forward and backward need for B rows (-1 on
 *     overflow, 0 if none);
 *   <kind>_forward(l, z, in, W, noise, B, scratch, nthreads): z (B, n_out) = the layer's linear
 *     part of in (B, n_in), W = the layer's parameters (W, then b);
 *   <kind>_backward(l, din, dW, dz, in, z, W, noise, B, scratch, accumulate, nthreads): from
 *     dz (B, n_out) = dL/dz, writes (accumulate = 0) or adds (1) dW and db (W's layout), and
 *     writes din (B, n_in) unless it is NULL.
 * Conv2D: W (out_c, kh, kw, in_c), b (out_c); Conv2DTranspose: W (in_c, kh, kw, out_c),
 * b (out_c). MaxPool2D, AveragePooling2D, GlobalAveragePooling2D and UpSampling2D share the
 * pool_* entries and have no parameters (W and dW unused). */
int64_t FN(sia_conv2d_scratch)(const sia_layer *l, int64_t B);
void FN(sia_conv2d_forward)(const sia_layer *l, REAL *z, const REAL *in, const REAL *W,
                        const REAL *noise, int64_t B, REAL *scratch, int nthreads);
void FN(sia_conv2d_backward)(const sia_layer *l, REAL *din, REAL *dW, const REAL *dz, const REAL *in,
                         const REAL *z, const REAL *W, const REAL *noise, int64_t B, REAL *scratch,
                         int accumulate, int nthreads);
int64_t FN(sia_conv2d_t_scratch)(const sia_layer *l, int64_t B);
void FN(sia_conv2d_t_forward)(const sia_layer *l, REAL *z, const REAL *in, const REAL *W,
                          const REAL *noise, int64_t B, REAL *scratch, int nthreads);
void FN(sia_conv2d_t_backward)(const sia_layer *l, REAL *din, REAL *dW, const REAL *dz,
                           const REAL *in, const REAL *z, const REAL *W, const REAL *noise,
                           int64_t B, REAL *scratch, int accumulate, int nthreads);
/* Whether a Conv2D or Conv2DTranspose applies its own ReLU (on its direct paths): z is then a. */
int FN(sia_conv_fuses_act)(const sia_layer *l);
int FN(sia_conv_fuses_grad)(const sia_layer *l);
/* Their backward with the ReLU of the layer below folded in, on the direct paths: din = the
   backward's, times [in > 0] (bit for bit the engine's pass). Returns 0, writing nothing, on
   the other paths (Winograd, im2col) and without din. */
int FN(sia_conv_backward_relu)(const sia_layer *l, REAL *din, REAL *dW, const REAL *dz, const REAL *in,
                               const REAL *z, const REAL *W, const REAL *noise, int64_t B, REAL *scratch,
                               int accumulate, int nthreads);
int64_t FN(sia_pool_scratch)(const sia_layer *l, int64_t B);
void FN(sia_pool_forward)(const sia_layer *l, REAL *z, const REAL *in, const REAL *W, const REAL *noise,
                      int64_t B, REAL *scratch, int nthreads);
void FN(sia_pool_backward)(const sia_layer *l, REAL *din, REAL *dW, const REAL *dz, const REAL *in,
                       const REAL *z, const REAL *W, const REAL *noise, int64_t B, REAL *scratch,
                       int accumulate, int nthreads);
/* The backward of MaxPool2D without overlapping windows and of UpSampling2D with the ReLU of the
   layer below folded in: din = the backward's, times [in > 0] element by element (bit for bit
   the engine's pass over it). Returns 0, writing nothing, for the other kinds and shapes. */
int FN(sia_pool_backward_relu)(const sia_layer *l, REAL *din, REAL *dW, const REAL *dz, const REAL *in,
                               const REAL *z, const REAL *W, const REAL *noise, int64_t B, REAL *scratch,
                               int accumulate, int nthreads);

/* ---- activation.c ----
 * inp, out (n,): out = f(inp) for kind SIA_LINEAR, SIA_LOGISTIC, SIA_TANH, SIA_RELU with β. */
void FN(sia_act_forward)(REAL *out, const REAL *inp, int64_t n, int kind, double beta);
/* out is the cached forward output y; dinp += dout · f'(x), with f' written from y. */
void FN(sia_act_backward)(REAL *dinp, const REAL *dout, const REAL *out, int64_t n, int kind,
                          double beta);

/* ---- loss.c ----
 * z, y, t (B, n): the output layer's pre-activation and activation (kind, β), and the target.
 * Returns the loss, summed over features (averaged, for a SIA_LOSS_MEAN code) and averaged
 * over the batch. */
double FN(sia_loss_forward)(const REAL *z, const REAL *y, const REAL *t, int64_t B, int64_t n,
                            int loss, int kind, double beta);
/* dz (B, n) += dL/dz, the loss and the output activation's derivative folded together. */
void FN(sia_loss_backward)(REAL *dz, const REAL *z, const REAL *y, const REAL *t, int64_t B,
                           int64_t n, int loss, int kind, double beta);

/* ---- optim.c ----
 * p, g (n,): one step of opt->kind over the flat vectors; m, v (n,) are its state
 * (momentum keeps its velocity in m). Increments opt->t and returns SIA_OK; or returns
 * SIA_EDIVERGED with p, m, v and opt->t untouched when a value it would write is not finite. */
int FN(sia_optim_step)(REAL *p, REAL *m, REAL *v, const REAL *g, int64_t n, sia_optim *opt);
/* One step from the sum of a data-parallel step's gradients g (n) and more ((parts - 1) n),
 * added in the order of the parts; g is overwritten. On up to `parts` threads, each updating a
 * slice: the same values whichever thread runs which slice. Returns as sia_optim_step. */
int FN(sia_optim_step_parts)(REAL *p, REAL *m, REAL *v, REAL *g, const REAL *more, int64_t n,
                             int parts, sia_optim *opt);
/* sia_optim_step on up to nthreads threads (at most SIA_PARTS), each updating a slice, when n
 * is large enough to gain from it: the same values as sia_optim_step, whatever the threads. */
int FN(sia_optim_step_threads)(REAL *p, REAL *m, REAL *v, const REAL *g, int64_t n, int nthreads,
                               sia_optim *opt);

/* ---- noise.c ----
 * x (n,) in place: salt-and-pepper (p: set to 0 or 1 at random), bit flip (p: x -> 1 - x),
 * Gaussian (σ: x + σ N(0,1), clipped to [0, 1]). */
void FN(sia_noise_apply)(REAL *x, int64_t n, int kind, double level, sia_rng *rng);

/* ---- the layer kinds (sia.h's sia_layer): one file each, three functions each ----
 * scratch: the REALs that forward/backward need for B rows (im2col buffers...), 0 if none.
 * forward: z (B, n_out) = the layer's linear part of in (B, n_in); W = params + l->off (a tied
 *   layer: params + l->tied); noise (B, n_noise) = this step's random numbers for the layer, in
 *   training, NULL outside it (sia_layer_n_noise).
 * backward: dz (B, n_out) = dL/dz (the activation's derivative already applied by the engine).
 *   Writes (accumulate == 0) or adds (accumulate == 1) dW (W's layout, then db right after it:
 *   a tied layer's dW points at the W it shares, its db at grads + l->off); writes din (B, n_in)
 *   = dL/din unless din is NULL. z is the forward's output, in its input.
 * No allocation, no printing: the engine gives the scratch, allocated once with the activations. */
typedef struct {
    int64_t (*scratch)(const sia_layer *l, int64_t B);
    void (*forward)(const sia_layer *l, REAL *z, const REAL *in, const REAL *W, const REAL *noise,
                    int64_t B, REAL *scratch, int nthreads);
    void (*backward)(const sia_layer *l, REAL *din, REAL *dW, const REAL *dz, const REAL *in,
                     const REAL *z, const REAL *W, const REAL *noise, int64_t B, REAL *scratch,
                     int accumulate, int nthreads);
    /* optional: whether forward applies the layer's activation itself, writing a into z (the
       engine then keeps no separate a and makes no pass of its own); NULL: never */
    int (*fuses_act)(const sia_layer *l);
    /* optional, for a kind that fuses its activation: whether backward also applies f' itself,
       from its z, taking dL/da as its dz (the engine then makes no pass of its own; it passes
       z = NULL when dz has f' in it already); NULL: never */
    int (*fuses_grad)(const sia_layer *l);
    /* optional: backward with the ReLU of the layer below folded into din (in is that layer's
       output a): din = backward's din times [in > 0], element by element, as the engine's pass
       would make it. Returns 0 having written nothing when it cannot (the engine then calls
       backward and makes the pass); NULL: never */
    int (*backward_relu)(const sia_layer *l, REAL *din, REAL *dW, const REAL *dz, const REAL *in,
                         const REAL *z, const REAL *W, const REAL *noise, int64_t B, REAL *scratch,
                         int accumulate, int nthreads);
} FN(sia_layer_kind);
/* net.c: the table, indexed by kind; a NULL forward is a kind this build does not have. */
extern const FN(sia_layer_kind) FN(sia_layer_ops)[SIA_N_LAYER];

/* ---- net.c: the engine, a sequence of layers over borrowed buffers ---- */
typedef struct {
    int64_t L;               /* layers */
    const sia_layer *layers; /* (L,) validated (module.c) */
    REAL *params;            /* (P,) every layer's W and b at its offset */
    REAL *grads;             /* (P,) same layout, may be NULL for inference */
    int64_t P;
    int nthreads;
} FN(sia_net);

/* Activations of up to cap rows, in one allocation. a[0] the input rows (cap, n_in of layer 0);
   layer j (0-based) writes z[j+1], a[j+1] (cap, its n_out): a linear layer's a is its z, and a
   RESHAPE's is its input's (set by the forward). dA, dZ (cap, widest n) for backward; t the
   target rows; scratch the kinds'. noise[j]: layer j's random numbers for these rows (the
   trainer sets them per part; all NULL: the deterministic forward of inference). */
typedef struct {
    int64_t cap;
    REAL **a, **z;
    const REAL **noise;
    REAL *dA, *dZ, *t, *scratch;
    void *block;
} FN(sia_acts);

int FN(sia_acts_alloc)(FN(sia_acts) *A, const FN(sia_net) *net, int64_t cap);
void FN(sia_acts_free)(FN(sia_acts) *A);
/* Layers l0 .. l1-1 over B rows, reading A->a[l0]; their outputs in A->a[l1]. */
void FN(sia_net_forward)(const FN(sia_net) *net, FN(sia_acts) *A, int64_t B, int64_t l0, int64_t l1);
/* out (n, n_out of layer l1-1) = layers l0 .. l1-1 applied to X (n, n_in of layer l0),
   deterministically (Dropout, GaussianNoise: identity; SAMPLE: z = μ); SIA_ENOMEM if it can't
   allocate. */
int FN(sia_net_predict)(const FN(sia_net) *net, REAL *out, const REAL *X, int64_t n, int64_t l0,
                        int64_t l1);
/* The loss terms of X -> Y (n rows) as one batch: out = {total, reconstruction, KL, activity
   penalties}, total = recon + kl_weight · KL + penalties. noise: the stochastic layers' numbers
   for the n rows, layer after layer in order, each (n, n_noise) (NULL: the deterministic
   forward). Accumulates the gradient of the total into net->grads (unless it is NULL). */
int FN(sia_net_loss_grad)(FN(sia_net) *net, double out[4], const REAL *X, const REAL *Y,
                          const REAL *noise, int64_t n, int loss, double kl_weight);
/* errs (n,) = wrong pixels of each row of Y (n, d) against T, both thresholded at 0.5. */
void FN(sia_pixel_errors)(int64_t *errs, const REAL *Y, const REAL *T, int64_t n, int64_t d);

/* ---- train.c: ONE trainer for every network: shuffling, batching, input noise, the layers'
   random numbers, chunks, data-parallel parts, stop conditions, divergence ---- */
typedef struct {
    FN(sia_acts) acts;       /* a chunk of the batch */
    int64_t *order;          /* (n,) sample order of the current epoch */
    int parts;               /* most parts of a data-parallel step (sia_step_parts, sia.h) */
    double widest;           /* the largest product of a layer, per row (sia_net_widest) */
    FN(sia_acts) pacts[SIA_PARTS]; /* parts 1..: their activations, inputs and targets read in acts' */
    REAL *pgrads;            /* ((parts - 1) P,) the gradients of parts 1.. */
    REAL *noise;             /* the step's random numbers: layer after layer, (batch, n_noise) */
    int64_t batch;
} FN(sia_trainer);

/* The largest multiply-adds per row of one dense layer's product: decides the parts of a step
   (convolutions count for nothing: they are split by samples as the parts are). */
double FN(sia_net_widest)(const FN(sia_net) *net);
int FN(sia_trainer_alloc)(FN(sia_trainer) *tr, const FN(sia_net) *net, int64_t n, int64_t batch);
void FN(sia_trainer_free)(FN(sia_trainer) *tr);
/* Trains on X (n, n_in) -> Y (n, n_out) for cfg->epochs epochs from state st. Each epoch
   writes its means over the samples to rec[0][epoch] (total loss), rec[1] (reconstruction),
   rec[2] (KL), rec[3] (activity penalties) (rec[1..3] may be NULL). The KL weight of epoch e
   of this call is kl_weights[e] (NULL: cfg->kl_weight).
   Returns SIA_OK when done or stopped (st->stopped), SIA_PAUSED after the step or chunk during
   which deadline_ns passed (0: none), SIA_EDIVERGED when a step's loss or gradient is not
   finite (that step is not applied). Weights are always those of the last completed step. */
int FN(sia_train)(FN(sia_net) *net, FN(sia_trainer) *tr, sia_train_state *st, double *const rec[4],
                  const double *kl_weights, const REAL *X, const REAL *Y, int64_t n,
                  const sia_train_cfg *cfg, sia_optim *opt, REAL *m, REAL *v, sia_rng *rng,
                  int64_t deadline_ns);

/* ---- vae.c: the latent kernels of the SAMPLE kind ----
 * h (B, 2k) is the encoder's output, each row [μ (k) | logvar (k)]; eps, z (B, k).
 * logvar is clamped to [-30, 20] (SIA_LOGVAR_MIN/MAX in vae.c) so that exp stays finite;
 * outside the clamp the gradient reaching logvar is 0. */
/* z = μ + exp(½ logvar) ε. */
void FN(sia_reparam_forward)(REAL *z, const REAL *h, const REAL *eps, int64_t B, int64_t k);
/* dh (B, 2k) += dL/dh from dz (B, k). */
void FN(sia_reparam_backward)(REAL *dh, const REAL *dz, const REAL *h, const REAL *eps, int64_t B,
                              int64_t k);
/* KL(N(μ, exp(logvar)) ‖ N(0, I)) = −½ Σ_j (1 + logvar − μ² − exp(logvar)), mean over the batch. */
double FN(sia_kl_forward)(const REAL *h, int64_t B, int64_t k);
/* dh (B, 2k) += weight · dKL/dh (the KL being the batch mean). */
void FN(sia_kl_backward)(REAL *dh, const REAL *h, int64_t B, int64_t k, double weight);
