/* train.c (template, see real.h): whole epochs in C, ONE trainer for every network (dense,
 * denoising, VAE, convolutional...). Each step gathers a batch in the epoch's order, corrupts it
 * with fresh noise if asked, draws the random numbers of the stochastic layers, runs forward,
 * loss, backward and one optimizer step. Python is not called in here; module.c releases the
 * GIL around it and passes a deadline so that it can check for Ctrl-C between steps. */

/* Rows per chunk of a step: SIA_STEP_ROWS, fewer for a net with large activations (net.c's
   acts_rows), or the whole batch when a layer samples (a VAE step
   runs whole, as it always did) or its penalty couples the rows (KL sparsity: ρ̂ is the batch
   mean, so the math must be the batch's, not a chunk's). */
static int FN(net_whole_steps)(const FN(sia_net) *net) {
    for (int64_t j = 0; j < net->L; j++)
        if (net->layers[j].kind == SIA_LAYER_SAMPLE || net->layers[j].reg == SIA_REG_KL) return 1;
    return 0;
}
static int FN(net_couples_rows)(const FN(sia_net) *net) {
    for (int64_t j = 0; j < net->L; j++)
        if (net->layers[j].reg == SIA_REG_KL) return 1;
    return 0;
}
/* The random numbers of a step's row: Σ_j sia_layer_n_noise. */
static int64_t FN(net_noise_cols)(const FN(sia_net) *net) {
    int64_t c = 0;
    for (int64_t j = 0; j < net->L; j++) c += sia_layer_n_noise(&net->layers[j]);
    return c;
}

int FN(sia_trainer_alloc)(FN(sia_trainer) *tr, const FN(sia_net) *net, int64_t n, int64_t batch) {
    int64_t bytes, nb;
    tr->order = NULL;
    tr->pgrads = NULL;
    tr->noise = NULL;
    tr->acts.block = NULL;
    tr->batch = batch;
    for (int i = 0; i < SIA_PARTS; i++) tr->pacts[i].block = NULL;
    if (!sia_mul_ok(n, (int64_t)sizeof(int64_t), &bytes) || (uint64_t)bytes > SIZE_MAX / 2)
        return SIA_ENOMEM;
    const int64_t rows = FN(acts_rows)(net, 0, net->L, ACTS_CHUNK_BYTES, SIA_STEP_ROWS);
    const int64_t cap = FN(net_whole_steps)(net) || batch < rows ? batch : rows;
    tr->widest = FN(sia_net_widest)(net);
    tr->parts = FN(net_couples_rows)(net) ? 1 : sia_step_parts(net->nthreads, cap, tr->widest);
    if (FN(sia_acts_alloc)(&tr->acts, net, cap) != SIA_OK) return SIA_ENOMEM;
    tr->order = malloc((size_t)(bytes > 0 ? bytes : 1));
    if (!tr->order || !sia_mul_ok(batch, FN(net_noise_cols)(net), &nb) ||
        !sia_mul_ok(nb, (int64_t)sizeof(REAL), &nb) || (uint64_t)nb > SIZE_MAX / 2 ||
        !(tr->noise = malloc((size_t)(nb > 0 ? nb : 1)))) {
        FN(sia_trainer_free)(tr);
        return SIA_ENOMEM;
    }
    for (int64_t i = 0; i < n; i++) tr->order[i] = i;
    if (tr->parts > 1) { /* parts 1..: at most ceil(cap / 2) rows each, and their gradients */
        if (!sia_mul_ok(net->P, (int64_t)(tr->parts - 1) * (int64_t)sizeof(REAL), &bytes) ||
            (uint64_t)bytes > SIZE_MAX / 2 || !(tr->pgrads = malloc((size_t)(bytes > 0 ? bytes : 1)))) {
            FN(sia_trainer_free)(tr);
            return SIA_ENOMEM;
        }
        for (int i = 1; i < tr->parts; i++)
            if (FN(sia_acts_alloc)(&tr->pacts[i], net, (cap + 1) / 2) != SIA_OK) {
                FN(sia_trainer_free)(tr);
                return SIA_ENOMEM;
            }
    }
    return SIA_OK;
}

void FN(sia_trainer_free)(FN(sia_trainer) *tr) {
    FN(sia_acts_free)(&tr->acts);
    for (int i = 0; i < SIA_PARTS; i++) FN(sia_acts_free)(&tr->pacts[i]);
    free(tr->order);
    free(tr->pgrads);
    free(tr->noise);
    tr->order = NULL;
    tr->pgrads = NULL;
    tr->noise = NULL;
}

/* The random numbers of a step of B rows, layer after layer in order, each layer's (B, n_noise)
   at tr->noise + batch · (the columns of the layers before it). Dropout: the multipliers
   [u >= rate] / (1 - rate); GaussianNoise: σ ε; SAMPLE: ε, in pieces of 64 (pairs stay whole),
   as the VAE trainer drew them. */
static void FN(draw_layer_noise)(const FN(sia_net) *net, FN(sia_trainer) *tr, int64_t B, sia_rng *rng) {
    REAL *base = tr->noise;
    for (int64_t j = 0; j < net->L; j++) {
        const sia_layer *l = &net->layers[j];
        const int64_t k = sia_layer_n_noise(l), m = B * k;
        REAL *out = base;
        base += tr->batch * k;
        if (!k) continue;
        if (l->kind == SIA_LAYER_DROPOUT) {
            const REAL keep = (REAL)(1.0 / (1.0 - l->rate));
            for (int64_t i = 0; i < m; i++) out[i] = sia_rng_uniform(rng) >= l->rate ? keep : 0;
            continue;
        }
        const double s = l->kind == SIA_LAYER_GNOISE ? l->rate : 1.0;
        for (int64_t i = 0; i < m; i += 64) {
            double e[64];
            const int64_t c = m - i < 64 ? m - i : 64;
            sia_rng_normals(rng, e, c);
            for (int64_t q = 0; q < c; q++) out[i + q] = (REAL)(s * e[q]);
        }
    }
}

/* Points A->noise at the step's numbers of its rows r0 .. (NULL for layers without any). */
static void FN(point_noise)(const FN(sia_net) *net, const FN(sia_trainer) *tr, FN(sia_acts) *A,
                            int64_t r0) {
    const REAL *base = tr->noise;
    for (int64_t j = 0; j < net->L; j++) {
        const int64_t k = sia_layer_n_noise(&net->layers[j]);
        A->noise[j] = k ? base + r0 * k : NULL;
        base += tr->batch * k;
    }
}

/* A chunk of a data-parallel step (sia.h): part i of the chunk's Bc rows into its own
   gradient buffer (part 0: the net's grads), its share of the step's B rows. */
typedef struct {
    FN(sia_net) *net;
    FN(sia_trainer) *tr;
    const REAL *t;           /* (Bc, n_out) the chunk's targets; its inputs are tr->acts.a[0] */
    int64_t c0, Bc, B;       /* the chunk's first row in the step, its rows, the step's */
    int parts, loss, accumulate;
    double w;
    double out[SIA_PARTS][4];
    int ok[SIA_PARTS];
} FN(train_split);

static void FN(train_part_task)(void *ctx, int64_t i) {
    FN(train_split) *c = ctx;
    const int64_t r0 = sia_part_start(i, c->Bc, c->parts);
    const int64_t B = sia_part_start(i + 1, c->Bc, c->parts) - r0;
    const int64_t n_in = sia_layer_n_in(&c->net->layers[0]);
    const int64_t n_out = sia_layer_n_out(&c->net->layers[c->net->L - 1]);
    FN(sia_net) view = *c->net;
    FN(sia_acts) *A = &c->tr->acts;
    view.nthreads = 1; /* this part is one thread's work */
    if (i > 0) {
        FN(sia_acts) *own = &c->tr->pacts[i];
        own->a[0] = A->a[0] + r0 * n_in; /* the chunk's rows, copied or in place */
        view.grads = c->tr->pgrads + (i - 1) * c->net->P;
        A = own;
    }
    FN(point_noise)(c->net, c->tr, A, c->c0 + r0);
    c->ok[i] = FN(rows_grad)(&view, A, c->t + r0 * n_out, B, c->loss, c->w, (double)B / (double)c->B,
                             c->accumulate, 0, c->out[i]);
}

/* Largest number of wrong pixels over the rows of X -> Y, in batches of the trainer's size,
   through the deterministic forward (no dropout or noise; a VAE through z = μ). */
static int64_t FN(max_wrong_pixels)(const FN(sia_net) *net, FN(sia_acts) *A, const REAL *X,
                                    const REAL *Y, int64_t n) {
    const int64_t L = net->L, d_in = sia_layer_n_in(&net->layers[0]);
    const int64_t d_out = sia_layer_n_out(&net->layers[L - 1]);
    int64_t worst = 0;
    for (int64_t j = 0; j < L; j++) A->noise[j] = NULL;
    for (int64_t r = 0; r < n; r += A->cap) {
        int64_t B = n - r < A->cap ? n - r : A->cap;
        memcpy(A->a[0], X + r * d_in, (size_t)(B * d_in) * sizeof(REAL));
        FN(sia_net_forward)(net, A, B, 0, L);
        for (int64_t i = 0; i < B; i++) {
            int64_t e;
            FN(sia_pixel_errors)(&e, A->a[L] + i * d_out, Y + (r + i) * d_out, 1, d_out);
            if (e > worst) worst = e;
        }
    }
    return worst;
}

int FN(sia_train)(FN(sia_net) *net, FN(sia_trainer) *tr, sia_train_state *st, double *const rec[4],
                  const double *kl_weights, const REAL *X, const REAL *Y, int64_t n,
                  const sia_train_cfg *cfg, sia_optim *opt, REAL *m, REAL *v, sia_rng *rng,
                  int64_t deadline_ns) {
    const int64_t L = net->L, d_in = sia_layer_n_in(&net->layers[0]);
    const int64_t d_out = sia_layer_n_out(&net->layers[L - 1]), P = net->P;
    const int64_t batch = cfg->batch, n_steps = (n + batch - 1) / batch;
    const int stochastic = FN(net_noise_cols)(net) > 0;
    FN(sia_acts) *A = &tr->acts;
    REAL *const a0 = A->a[0]; /* the batch's rows, when they are copied */

    while (st->epoch < cfg->epochs) {
        const double w = kl_weights ? kl_weights[st->epoch] : cfg->kl_weight;
        if (st->step == 0 && st->row == 0) {
            st->loss_sum = st->recon_sum = st->kl_sum = st->reg_sum = 0;
            /* Each epoch's order depends only on the rng state, however epochs are split
               into calls. */
            for (int64_t i = 0; i < n; i++) tr->order[i] = i;
            if (cfg->shuffle) sia_rng_shuffle(tr->order, n, rng);
        }
        /* One step: the batch rows, in the epoch's order, in chunks of at most A->cap rows
           (SIA_STEP_ROWS). A batch's loss is the mean over its B rows, so a chunk of Bc rows
           adds (Bc / B) times its own mean's gradient. The first chunk writes the gradients,
           the others add to them; the deadline may pause between chunks, and the next call
           resumes at st->row. Nothing is applied before the last chunk. */
        const int64_t r0 = st->step * batch, B = n - r0 < batch ? n - r0 : batch;
        while (st->row < B) {
            const int64_t c0 = st->row, Bc = B - c0 < A->cap ? B - c0 : A->cap;
            const int64_t *rows = tr->order + r0 + c0;
            int64_t run = 1; /* rows consecutive in X from rows[0] */
            while (run < Bc && rows[run] == rows[0] + run) run++;
            const REAL *t = A->t;
            if (run == Bc && cfg->noise == SIA_NOISE_NONE) {
                /* One run, uncorrupted (every chunk, without shuffling): read in place, X and
                   Y as they are, which the forward and backward only read; a[0] points back at
                   the batch's buffer below. A copy cost more than its memcpy: the kernels' whole
                   vectors straddled memcpy's stores, and such a load waits for both to reach
                   the cache (in an online step, twice per row of X and of Y). */
                A->a[0] = (REAL *)(X + rows[0] * d_in);
                t = Y + rows[0] * d_out;
            } else {
                for (int64_t i = 0; i < Bc; i += run) { /* runs of consecutive rows, one copy */
                    const int64_t s = rows[i];
                    for (run = 1; i + run < Bc && rows[i + run] == s + run; run++) {}
                    memcpy(A->a[0] + i * d_in, X + s * d_in, (size_t)(run * d_in) * sizeof(REAL));
                    memcpy(A->t + i * d_out, Y + s * d_out, (size_t)(run * d_out) * sizeof(REAL));
                }
                if (cfg->noise != SIA_NOISE_NONE)
                    FN(sia_noise_apply)(A->a[0], Bc * d_in, cfg->noise, cfg->noise_level, rng);
            }
            /* The layers' random numbers for the whole step, after its first chunk's input
               noise: parts and chunks read their rows of them, whichever thread runs them. */
            if (stochastic && c0 == 0) FN(draw_layer_noise)(net, tr, B, rng);
            /* The first chunk writes every gradient, the others add to them. A chunk of a step
               too large for one chunk has the first chunk's parts or fewer (sia_step_parts). */
            const int parts = sia_step_parts(tr->parts, Bc, tr->widest);
            double out[4] = {0, 0, 0, 0};
            int ok = 1;
            if (parts > 1) {
                FN(train_split) c = {.net = net, .tr = tr, .t = t, .c0 = c0, .Bc = Bc, .B = B,
                                     .parts = parts, .loss = cfg->loss, .accumulate = c0 > 0, .w = w};
                sia_pool_run(parts, parts, FN(train_part_task), &c);
                for (int i = 0; i < parts; i++) {
                    const double rows_i = (double)(sia_part_start(i + 1, Bc, parts) - sia_part_start(i, Bc, parts));
                    ok &= c.ok[i];
                    for (int q = 0; q < 4; q++) out[q] += c.out[i][q] * rows_i;
                }
                for (int q = 0; q < 4; q++) out[q] /= (double)Bc;
            } else {
                FN(point_noise)(net, tr, A, c0);
                ok = FN(rows_grad)(net, A, t, Bc, cfg->loss, w, (double)Bc / (double)B, c0 > 0, 0, out);
            }
            A->a[0] = a0;
            if (!ok) { /* a loss or gradient is NaN or inf: nothing of the step is applied */
                st->row = 0, st->step_loss = st->step_recon = st->step_kl = st->step_reg = 0;
                return SIA_EDIVERGED;
            }
            st->step_loss += out[0] * (double)Bc;
            st->step_recon += out[1] * (double)Bc;
            st->step_kl += out[2] * (double)Bc;
            st->step_reg += out[3] * (double)Bc;
            st->row += Bc;
            if (st->row < B && deadline_ns && sia_now_ns() > deadline_ns) return SIA_PAUSED;
        }
        st->row = 0;
        const int parts = sia_step_parts(tr->parts, B < A->cap ? B : A->cap, tr->widest); /* the first chunk's */
        const int applied = parts > 1 ? FN(sia_optim_step_parts)(net->params, m, v, net->grads, tr->pgrads, P, parts, opt)
                                      : FN(sia_optim_step_threads)(net->params, m, v, net->grads, P, net->nthreads, opt);
        if (applied != SIA_OK) { /* an updated parameter would not be finite: the step is out */
            st->step_loss = st->step_recon = st->step_kl = st->step_reg = 0;
            return SIA_EDIVERGED;
        }
        st->loss_sum += st->step_loss;
        st->recon_sum += st->step_recon;
        st->kl_sum += st->step_kl;
        st->reg_sum += st->step_reg;
        st->step_loss = st->step_recon = st->step_kl = st->step_reg = 0;
        st->step += 1;

        if (st->step == n_steps) {
            const double epoch_loss = st->loss_sum / (double)n;
            const double sums[4] = {st->loss_sum, st->recon_sum, st->kl_sum, st->reg_sum};
            for (int q = 0; q < 4; q++)
                if (rec[q]) rec[q][st->epoch] = sums[q] / (double)n;
            st->epoch += 1;
            st->step = 0;
            if ((cfg->loss_tol > 0 && epoch_loss < cfg->loss_tol) ||
                (cfg->max_wrong >= 0 && FN(max_wrong_pixels)(net, A, X, Y, n) <= cfg->max_wrong)) {
                st->stopped = 1;
                return SIA_OK;
            }
        }
        if (deadline_ns && sia_now_ns() > deadline_ns) return SIA_PAUSED;
    }
    return SIA_OK;
}
