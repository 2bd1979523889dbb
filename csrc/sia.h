/* sia.h: the internal header of the sia_autoencoder C core. The header is the manual.
 *
 * Conventions
 *   - Kernels are pure C: they never touch Python, never print, exit or abort.
 *     They return void or an int status (SIA_OK, SIA_E*), which module.c turns into an exception.
 *   - Arguments go outputs first, then inputs, then parameters, then sizes. A gradient is d<name>.
 *   - Backward passes accumulate with += ; the caller zeroes the gradients.
 *   - Dense weights are (out, in), row-major. All parameters of a network live in one flat
 *     buffer: W1 (n1, n0), b1 (n1), W2 (n2, n1), b2 (n2), ... and the gradients mirror it.
 *   - One loss reduction everywhere: sum over features, mean over the batch; a loss code with
 *     SIA_LOSS_MEAN (the users' choice of Keras's and PyTorch's reduction) also takes the mean
 *     over the features, inside loss.c, so nothing else knows about it.
 *   - Hyperparameters are double; buffers are REAL (float or double).
 *   - float32 and float64 come from one source: the templated files (dense.c, conv.c, pooling.c,
 *     activation.c, loss.c, optim.c, noise.c, net.c, train.c, vae.c, gemm.c) are compiled twice,
 *     by real_f32.c and real_f64.c, which define REAL and FN(name) -> name##_f32 / name##_f64.
 */
#ifndef SIA_H
#define SIA_H

#include <stddef.h>
#include <stdint.h>

/* Status codes. */
enum {
    SIA_OK = 0,
    SIA_EVALUE = 1,    /* an argument is out of range */
    SIA_ENOMEM = 2,    /* an allocation failed or a size overflowed */
    SIA_PAUSED = 3,    /* a training call reached its deadline; call again to resume */
    SIA_EDIVERGED = 4, /* the loss or a gradient became NaN or inf; the step was not applied */
};

/* Activations: y = f(x). logistic(β) = 1/(1+exp(-2βx)) (the course's convention), tanh(βx);
   elu(β) = x for x > 0, β (exp(x) - 1) otherwise (β is Keras's and torch's alpha);
   selu = λ elu(x) with α = SIA_SELU_ALPHA, λ = SIA_SELU_SCALE (Klambauer et al.; β unused). */
enum { SIA_LINEAR = 0, SIA_LOGISTIC = 1, SIA_TANH = 2, SIA_RELU = 3, SIA_ELU = 4, SIA_SELU = 5,
       SIA_N_ACT = 6 };
#define SIA_SELU_ALPHA 1.6732632423543772848170429916717
#define SIA_SELU_SCALE 1.0507009873554804934193349852946
/* Losses, summed over features and averaged over the batch:
   MSE = (1/B) Σ_b Σ_j (y - t)², BCE = -(1/B) Σ_b Σ_j [t log y + (1-t) log(1-y)],
   MAE = (1/B) Σ_b Σ_j |y - t|.
   A loss code is a kind plus SIA_LOSS_MEAN for the mean over the n features too (Keras's and
   PyTorch's reduction): the loss and its gradient are then divided by n, in the kernels. */
enum { SIA_MSE = 0, SIA_BCE = 1, SIA_MAE = 2, SIA_LOSS_MEAN = 3, SIA_N_LOSS = 6 };
static inline int sia_loss_kind(int loss) { return loss % SIA_LOSS_MEAN; }
static inline int sia_loss_is_mean(int loss) { return loss >= SIA_LOSS_MEAN; }
/* Optimizers over one flat parameter vector (the update rules: optim.c). */
enum { SIA_GD = 0, SIA_MOMENTUM = 1, SIA_ADAM = 2, SIA_RMSPROP = 3, SIA_NADAM = 4, SIA_ADADELTA = 5,
       SIA_ADAMW = 6, SIA_N_OPTIM = 7 };
/* Input noise for denoising training, applied to each batch as it is drawn. */
enum { SIA_NOISE_NONE = 0, SIA_NOISE_SALT_PEPPER = 1, SIA_NOISE_BIT_FLIP = 2, SIA_NOISE_GAUSSIAN = 3,
       SIA_N_NOISE = 4 };

/* BCE clamps y to [SIA_BCE_EPS, 1 - SIA_BCE_EPS] when the output is not logistic (as Keras does);
   with a logistic output it is computed from the pre-activation, with no log at all of y. */
#define SIA_BCE_EPS 1e-7

/* ---- random numbers (rng.c): xoshiro256**, its state passed in, never global ---- */
typedef struct { uint64_t s[4]; } sia_rng;
void sia_rng_seed(sia_rng *r, uint64_t seed);          /* splitmix64 expansion of the seed */
uint64_t sia_rng_next(sia_rng *r);
double sia_rng_uniform(sia_rng *r);                    /* [0, 1), 53 bits */
double sia_rng_normal(sia_rng *r);                     /* N(0, 1), Box-Muller */
void sia_rng_normals(sia_rng *r, double *out, int64_t n); /* n N(0, 1), two per pair of uniforms */
uint64_t sia_rng_below(sia_rng *r, uint64_t n);        /* uniform in [0, n), unbiased (Lemire) */
void sia_rng_shuffle(int64_t *idx, int64_t n, sia_rng *r); /* Fisher-Yates, in place */

/* ---- optimizer hyperparameters; t counts the steps taken (the step increments it) ---- */
typedef struct {
    int kind;                    /* SIA_GD .. SIA_ADAMW */
    double lr;                   /* learning rate */
    double momentum;             /* α of momentum and of RMSprop */
    double beta1, beta2, eps;    /* Adam, AdamW, Nadam; eps also RMSprop's and Adadelta's */
    double rho;                  /* RMSprop, Adadelta: decay of the mean square */
    double weight_decay;         /* wd: AdamW decays p by lr wd p; the others add wd p to g */
    int64_t t;                   /* steps taken so far */
    int64_t t_flat;              /* Adam: from this t on both bias corrections are exactly 1
                                    (0: not found yet; optim.c finds it) */
    double mu_prod;              /* Nadam: μ_1 ⋯ μ_mu_t (optim.c keeps it; 0 once negligible) */
    int64_t mu_t;                /* Nadam: the step mu_prod is for (0: not formed yet) */
    double seen[3];              /* bounds on |p|, |m|, |v| as step seen_t left them (optim.c) */
    int64_t seen_t;              /* 0: none. Valid while only the steps write p, m and v: the
                                    struct lives for one call (a training run) */
} sia_optim;

/* ---- one training run: what to do, and where it is, so that a paused run resumes ---- */
typedef struct {
    int loss;                    /* SIA_MSE or SIA_BCE */
    int64_t batch;               /* samples per step, 1 (online) .. n (batch) */
    int shuffle;                 /* reshuffle the order every epoch from the rng */
    int64_t epochs;              /* epochs to run in this call */
    double loss_tol;             /* stop after an epoch whose loss is < loss_tol (<= 0: off) */
    int64_t max_wrong;           /* stop when every sample has <= max_wrong wrong pixels (< 0: off) */
    int noise;                   /* SIA_NOISE_* applied to each input batch */
    double noise_level;          /* p for salt-and-pepper and bit flip, σ for Gaussian */
    /* networks with a SAMPLE layer: loss = recon + kl_weight * KL (+ activity penalties) */
    double kl_weight;
} sia_train_cfg;

/* A step's gradient is computed SIA_STEP_ROWS rows at a time at most (summed), so that the
   activations of one huge batch need not fit at once and a training call can pause between
   chunks; a conv net's chunks are smaller, to stay in cache (net.c, acts_rows). */
#define SIA_STEP_ROWS 256

typedef struct {
    int64_t epoch;               /* epochs completed in this run */
    int64_t step;                /* next batch within the current epoch */
    int64_t row;                 /* rows of that batch whose gradient is summed already */
    double step_loss;            /* their loss, summed over rows */
    double step_recon, step_kl, step_reg; /* its terms, summed over rows */
    double loss_sum, recon_sum, kl_sum, reg_sum; /* sums over the current epoch, weighted by
                                                    batch size */
    int stopped;                 /* a stop condition was met */
} sia_train_state;

/* ---- a network is a sequence of layer records over one flat parameter vector ----
 * Layer kinds. Each has its own file and three functions in the ops table of net.c
 * (sia_kernels.h, FN(sia_layer_ops)): scratch, forward, backward. */
enum {
    SIA_LAYER_DENSE = 0,     /* z = in Wᵀ + b, W (out, in) then b (out)                      (dense.c) */
    SIA_LAYER_DENSE_T = 1,   /* tied: z = in W' + b, W' the W (in, out) of another dense layer,
                                its offset in `tied`; only b is this layer's own            (dense.c) */
    SIA_LAYER_CONV2D = 2,    /* W (out_c, kh, kw, in_c) then b (out_c)                        (conv.c) */
    SIA_LAYER_CONV2D_T = 3,  /* W (in_c, kh, kw, out_c) then b (out_c)                        (conv.c) */
    SIA_LAYER_MAXPOOL = 4,   /*                                                            (pooling.c) */
    SIA_LAYER_AVGPOOL = 5,   /* "same": the mean over the valid cells only, as Keras        (pooling.c) */
    SIA_LAYER_GAP = 6,       /* global average pooling (h, w, c) -> (c)                     (pooling.c) */
    SIA_LAYER_UPSAMPLE = 7,  /* nearest, out = in · (kh, kw)                                (pooling.c) */
    SIA_LAYER_RESHAPE = 8,   /* Flatten, Reshape: a no-op on the (B, n) buffer (the engine aliases it) */
    SIA_LAYER_DROPOUT = 9,   /* inverted dropout of `rate` in training, identity outside      (noise.c) */
    SIA_LAYER_GNOISE = 10,   /* in + rate · N(0, 1) in training, identity outside             (noise.c) */
    SIA_LAYER_SAMPLE = 11,   /* VAE: [μ | logvar] (2k) -> z = μ + exp(½ logvar) ε (k) in training,
                                z = μ outside; the engine adds w · KL to the loss              (vae.c) */
    SIA_N_LAYER
};
/* Activity regularizers on a layer's output a (B, n), added to the loss. L1 and L2 are per
   sample and averaged over the batch, like the loss: L1 λ (1/B) Σ_b Σ_j |a_bj| (gradient
   λ sign(a)/B, 0 at 0), L2 λ (1/B) Σ_b Σ_j a_bj² (gradient 2λ a/B), λ = reg_a. KL sparsity is
   w Σ_j KL(ρ ‖ ρ̂_j) with w = reg_a, ρ = reg_b, ρ̂_j = (1/B) Σ_b a_bj the batch mean of unit j
   (kept in [SIA_BCE_EPS, 1 - SIA_BCE_EPS]) and KL(ρ ‖ ρ̂) = ρ log(ρ/ρ̂) + (1-ρ) log((1-ρ)/(1-ρ̂)),
   NOT divided by the batch again; its gradient w (-ρ/ρ̂_j + (1-ρ)/(1-ρ̂_j)) / B reaches every
   row. It needs outputs in (0, 1) (the Python side refuses other activations), and couples the
   rows, so a step with it runs whole (no chunks, no data-parallel parts). */
enum { SIA_REG_NONE = 0, SIA_REG_L1 = 1, SIA_REG_L2 = 2, SIA_REG_KL = 3, SIA_N_REG };

/* One layer. Shapes are per sample, channels last: a flat layer has h = w = 1, c = n.
 * n_in = in_h·in_w·in_c, n_out = out_h·out_w·out_c; a batch buffer is (B, n), row-major, each
 * row one sample in (H, W, C) order. */
typedef struct {
    int32_t kind;                /* SIA_LAYER_* */
    int32_t act;                 /* activation applied to the output (SIA_LINEAR: none) */
    double beta;                 /* its β */
    int64_t in_h, in_w, in_c;    /* per-sample input shape */
    int64_t out_h, out_w, out_c; /* per-sample output shape */
    int64_t kh, kw, sh, sw;      /* kernel (pool size, upsampling size) and strides */
    int64_t pad_t, pad_l;        /* padding before the first row / column ("same" puts the odd
                                    one at the bottom / right, as Keras); the padding after is
                                    implied by the shapes */
    int64_t off;                 /* offset of the layer's W in the flat parameters, its bias
                                    right after W (-1: no parameters) */
    int64_t n_params;            /* W and b of this layer (a tied layer: b only, at off) */
    int64_t tied;                /* DENSE_T: the offset of the W it uses (transposed); else -1 */
    double rate;                 /* Dropout rate; GaussianNoise σ */
    int32_t reg;                 /* SIA_REG_* on the output */
    double reg_a, reg_b;         /* L1/L2: λ; KL: weight, target ρ */
} sia_layer;

/* Python passes the records as two arrays, converted and validated by module.c:
 *   int64 (L, SIA_REC_INTS):  kind, act, in_h, in_w, in_c, out_h, out_w, out_c, kh, kw, sh, sw,
 *                             pad_t, pad_l, off, n_params, tied, reg, 0, 0
 *   float64 (L, SIA_REC_REALS): beta, rate, reg_a, reg_b, 0, 0, 0, 0
 * (sia_autoencoder/_net.py builds them in this order.) */
#define SIA_REC_INTS 20
#define SIA_REC_REALS 8
static inline int64_t sia_layer_n_in(const sia_layer *l) { return l->in_h * l->in_w * l->in_c; }
static inline int64_t sia_layer_n_out(const sia_layer *l) { return l->out_h * l->out_w * l->out_c; }
/* The random numbers a layer takes per sample in a training step: Dropout (uniforms, kept as
   the multipliers 0 or 1/(1 - rate)) and GaussianNoise (σ N(0, 1)) one per input, SAMPLE one ε
   per latent unit (sia_rng_normals, row-major, as the VAE always drew them). */
static inline int64_t sia_layer_n_noise(const sia_layer *l) {
    return l->kind == SIA_LAYER_DROPOUT || l->kind == SIA_LAYER_GNOISE ? sia_layer_n_in(l)
         : l->kind == SIA_LAYER_SAMPLE ? sia_layer_n_out(l) : 0;
}

/* Pixel errors: output and target thresholded at 0.5, counted per sample. */

/* Overflow-checked size arithmetic: return 0 on overflow, else set *out. */
static inline int sia_mul_ok(int64_t a, int64_t b, int64_t *out) {
    if (a < 0 || b < 0) return 0;
    if (a != 0 && b > INT64_MAX / a) return 0;
    *out = a * b;
    return 1;
}
static inline int sia_add_ok(int64_t a, int64_t b, int64_t *out) {
    if (a < 0 || b < 0 || a > INT64_MAX - b) return 0;
    *out = a + b;
    return 1;
}

/* Parameters of a dense stack with widths sizes[0..L]; -1 on overflow. */
int64_t sia_param_count(const int64_t *sizes, int64_t L);

/* Data-parallel steps (vae.c, train.c). With nthreads >= 2, a step of B rows runs as parts:
   part i of `parts` takes rows [i B / parts, (i+1) B / parts) through its own activations into
   its own gradient buffer, and the step's gradient is their sum in the order of the parts
   (sia_optim_step_parts). parts = min(nthreads, SIA_PARTS, B / SIA_PART_ROWS); 1 (the step runs
   whole) when that is under 2, or when a product of the step would be threaded by gemm itself
   (B · n_in · n_out >= SIA_THREAD_WORK multiply-adds for its widest layer). The parts depend
   on B, nthreads and the layer sizes alone, not on which thread runs them, so results are
   bit-identical for a given thread count; they differ from 1 thread's by the order of the
   batch sums only. */
#define SIA_THREAD_WORK 4194304.0
#define SIA_PARTS 4
#define SIA_PART_ROWS 4
static inline int sia_step_parts(int nthreads, int64_t B, double widest) {
    const int64_t most = B / SIA_PART_ROWS;
    if (nthreads < 2 || most < 2 || (double)B * widest >= SIA_THREAD_WORK) return 1;
    int parts = nthreads < SIA_PARTS ? nthreads : SIA_PARTS;
    return most < parts ? (int)most : parts;
}
/* Where part i of `parts` starts among n rows (or slices): i n / parts. */
static inline int64_t sia_part_start(int64_t i, int64_t n, int parts) { return i * n / parts; }
/* The widest layer of sizes (L+1,): the largest n_in · n_out. */
static inline double sia_widest(const int64_t *sizes, int64_t L) {
    double w = 0;
    for (int64_t l = 1; l <= L; l++)
        if ((double)sizes[l - 1] * (double)sizes[l] > w) w = (double)sizes[l - 1] * (double)sizes[l];
    return w;
}

/* Convolutions and pools (conv.c, pooling.c) run their batch as up to SIA_LAYER_TASKS tasks
   of whole samples, each with its slice of the scratch: a task's samples and its slice depend
   on B and nthreads alone, so results are bit-identical for a given thread count. */
#define SIA_LAYER_TASKS 4

/* A monotonic clock in nanoseconds, for the deadlines of paused runs. */
int64_t sia_now_ns(void);

/* Thread pool (pool.c): runs task(ctx, i) for i = 0 .. n-1 on the caller and up to nthreads-1
   persistent workers, and returns when all are done. Tasks are claimed one by one, so the caller
   runs all of them when the workers are busy or not scheduled: a task's result must not depend
   on the thread that runs it. */
void sia_pool_run(int nthreads, int64_t n, void (*task)(void *ctx, int64_t i), void *ctx);
/* The calling thread's buffer for data that the tasks of its pool runs share (gemm.c: op(A)
   packed once for all the strips of a threaded product). Only a caller writes its own; tasks
   read it between the runs' ends. */
#define SIA_GEMM_SHARED_BYTES (1 << 20)
typedef union {
    float a_f32[SIA_GEMM_SHARED_BYTES / sizeof(float)];
    double a_f64[SIA_GEMM_SHARED_BYTES / sizeof(double)];
} sia_shared_buffer; /* a REAL's part: sia_gemm_shared.FN(a) */
extern _Thread_local sia_shared_buffer sia_gemm_shared;

/* Vector paths (simd.c), narrowest first. The matrix product (gemm.c) and conv.c's panel
   micro-kernels run the one in sia_simd:
   the widest the CPU has, or a narrower one forced with the environment variable SIA_SIMD
   ("avx512", "avx2", "baseline"), set when the module loads. The element-wise loops of the other
   files are target clones that the loader picks from the CPU alone; they give the same bits on
   avx512 and avx2 (no sum in them is vectorized). */
enum { SIA_SIMD_BASELINE, SIA_SIMD_AVX2, SIA_SIMD_AVX512 };
extern int sia_simd;
int sia_simd_widest(void);         /* the widest path this CPU runs */
int sia_simd_parse(const char *s); /* "avx512", "avx2", "baseline" -> SIA_SIMD_*, else -1 */
const char *sia_simd_name(int path);
/* The vector bytes of conv.c's panel micro-kernels on the current path: 64 on avx512, else 32. */
int sia_simd_conv_bytes(void);
/* Conv2D layers with a 3 × 3 kernel at stride 1 and enough channels go by Winograd's F(2 × 2,
   3 × 3) (winograd.c), the forward of the Conv2DTranspose layers with a 3 × 3 kernel at
   stride 2 whose shapes it suits by F(2, 2) on its phases, and the dW of the 3 × 3 stride-2
   layers of both kinds whose shapes it suits by F(2, 2) (winograd2.c), while this is set (the
   default; simd.c); the tests clear it to compare with the direct paths (_core._set_winograd). */
extern int sia_winograd;

/* The templated kernels, declared once per precision. */
#define REAL float
#define FN(name) name##_f32
#include "sia_kernels.h"
#undef REAL
#undef FN
#define REAL double
#define FN(name) name##_f64
#include "sia_kernels.h"
#undef REAL
#undef FN

#endif
