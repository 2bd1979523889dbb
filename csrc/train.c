/* train.c (template, see real.h): whole epochs in C. Each step gathers a batch in the epoch's
 * order, corrupts it with fresh noise if asked, runs forward, loss, backward and one optimizer
 * step. Python is not called in here; module.c releases the GIL around it and passes a deadline
 * so that it can check for Ctrl-C between steps. */

int FN(sia_trainer_alloc)(FN(sia_trainer) *tr, const int64_t *sizes, int64_t L, int64_t n,
                          int64_t batch, int nthreads) {
    int64_t bytes;
    tr->order = NULL;
    tr->pgrads = NULL;
    tr->acts.block = NULL;
    for (int i = 0; i < SIA_PARTS; i++) tr->pacts[i].block = NULL;
    if (!sia_mul_ok(n, (int64_t)sizeof(int64_t), &bytes) || (uint64_t)bytes > SIZE_MAX / 2)
        return SIA_ENOMEM;
    int64_t cap = batch < SIA_STEP_ROWS ? batch : SIA_STEP_ROWS;
    tr->widest = sia_widest(sizes, L);
    tr->parts = sia_step_parts(nthreads, cap, tr->widest);
    if (FN(sia_acts_alloc)(&tr->acts, sizes, L, cap) != SIA_OK) return SIA_ENOMEM;
    tr->order = malloc((size_t)(bytes > 0 ? bytes : 1));
    if (!tr->order) {
        FN(sia_trainer_free)(tr);
        return SIA_ENOMEM;
    }
    for (int64_t i = 0; i < n; i++) tr->order[i] = i;
    if (tr->parts > 1) { /* parts 1..: at most ceil(cap / 2) rows each, and their gradients */
        if (!sia_mul_ok(sia_param_count(sizes, L), (int64_t)(tr->parts - 1) * (int64_t)sizeof(REAL), &bytes) ||
            (uint64_t)bytes > SIZE_MAX / 2 || !(tr->pgrads = malloc((size_t)bytes))) {
            FN(sia_trainer_free)(tr);
            return SIA_ENOMEM;
        }
        for (int i = 1; i < tr->parts; i++)
            if (FN(sia_acts_alloc)(&tr->pacts[i], sizes, L, (cap + 1) / 2) != SIA_OK) {
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
    tr->order = NULL;
    tr->pgrads = NULL;
}

/* B rows, inputs A->a[0] and targets t (B, n_L), through forward, loss and backward: the
   gradient of share · (their mean loss) written into net's grads, or added when accumulate.
   *loss_out: that mean. Returns whether the loss and every gradient are finite (backward is
   skipped when the loss is not). */
static int FN(rows_grad)(FN(sia_net) *net, FN(sia_acts) *A, const REAL *t, int64_t B, int loss,
                         double share, int accumulate, double *loss_out) {
    const int64_t L = net->L, d_out = net->sizes[L];
    *loss_out = FN(net_forward_loss)(net, A, t, B, loss);
    if (!isfinite(*loss_out)) return 0;
    FN(loss_backward_write)(A->dZ, A->a[L], t, B, d_out, loss, net->act[L - 1], net->beta[L - 1]);
    if (share != 1) FN(vec_scale)(A->dZ, B * d_out, share);
    return FN(net_backward)(net, A, B, 0, L, 0, accumulate);
}

/* A chunk of a data-parallel step (sia.h): part i of the chunk's Bc rows into its own
   gradient buffer (part 0: the net's grads), its share of the step's B rows. */
typedef struct {
    FN(sia_net) *net;
    FN(sia_trainer) *tr;
    const REAL *t;           /* (Bc, n_L) the chunk's targets; its inputs are tr->acts.a[0] */
    int64_t Bc, B, P;
    int parts, loss, accumulate;
    double loss_out[SIA_PARTS];
    int ok[SIA_PARTS];
} FN(train_split);

static void FN(train_part_task)(void *ctx, int64_t i) {
    FN(train_split) *c = ctx;
    const int64_t L = c->net->L, r0 = sia_part_start(i, c->Bc, c->parts);
    const int64_t B = sia_part_start(i + 1, c->Bc, c->parts) - r0;
    FN(sia_net) view = *c->net;
    FN(sia_acts) *A = &c->tr->acts;
    view.nthreads = 1; /* this part is one thread's work */
    if (i > 0) {
        FN(sia_acts) *own = &c->tr->pacts[i];
        own->a[0] = A->a[0] + r0 * c->net->sizes[0]; /* the chunk's rows, copied or in place */
        view.grads = c->tr->pgrads + (i - 1) * c->P;
        A = own;
    }
    c->ok[i] = FN(rows_grad)(&view, A, c->t + r0 * c->net->sizes[L], B, c->loss,
                             (double)B / (double)c->B, c->accumulate, &c->loss_out[i]);
}

/* Largest number of wrong pixels over the rows of X -> Y, in batches of the trainer's size. */
static int64_t FN(max_wrong_pixels)(const FN(sia_net) *net, FN(sia_acts) *A, const REAL *X,
                                    const REAL *Y, int64_t n) {
    const int64_t L = net->L, d_in = net->sizes[0], d_out = net->sizes[L];
    int64_t worst = 0;
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

int FN(sia_train)(FN(sia_net) *net, FN(sia_trainer) *tr, sia_train_state *st, double *loss_out,
                  const REAL *X, const REAL *Y, int64_t n, const sia_train_cfg *cfg,
                  sia_optim *opt, REAL *m, REAL *v, sia_rng *rng, int64_t deadline_ns) {
    const int64_t L = net->L, d_in = net->sizes[0], d_out = net->sizes[L];
    const int64_t P = sia_param_count(net->sizes, L);
    const int64_t batch = cfg->batch, n_steps = (n + batch - 1) / batch;
    FN(sia_acts) *A = &tr->acts;
    REAL *const a0 = A->a[0]; /* the batch's rows, when they are copied */

    while (st->epoch < cfg->epochs) {
        if (st->step == 0 && st->row == 0) {
            st->loss_sum = 0;
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
            /* The first chunk writes every gradient, the others add to them. A chunk of a step
               too large for one chunk has the first chunk's parts or fewer (sia_step_parts). */
            const int parts = sia_step_parts(tr->parts, Bc, tr->widest);
            double loss = 0;
            int ok = 1;
            if (parts > 1) {
                FN(train_split) c = {.net = net, .tr = tr, .t = t, .Bc = Bc, .B = B, .P = P,
                                     .parts = parts, .loss = cfg->loss, .accumulate = c0 > 0};
                sia_pool_run(parts, parts, FN(train_part_task), &c);
                for (int i = 0; i < parts; i++) {
                    ok &= c.ok[i];
                    loss += c.loss_out[i] * (double)(sia_part_start(i + 1, Bc, parts) -
                                                     sia_part_start(i, Bc, parts));
                }
                loss /= (double)Bc;
            } else {
                ok = FN(rows_grad)(net, A, t, Bc, cfg->loss, (double)Bc / (double)B, c0 > 0, &loss);
            }
            A->a[0] = a0;
            if (!ok) { /* a loss or gradient is NaN or inf: nothing of the step is applied */
                st->row = 0, st->step_loss = 0;
                return SIA_EDIVERGED;
            }
            st->step_loss += loss * (double)Bc;
            st->row += Bc;
            if (st->row < B && deadline_ns && sia_now_ns() > deadline_ns) return SIA_PAUSED;
        }
        st->row = 0;
        const int parts = sia_step_parts(tr->parts, B < A->cap ? B : A->cap, tr->widest); /* the first chunk's */
        const int applied = parts > 1 ? FN(sia_optim_step_parts)(net->params, m, v, net->grads, tr->pgrads, P, parts, opt)
                                      : FN(sia_optim_step)(net->params, m, v, net->grads, P, opt);
        if (applied != SIA_OK) { /* an updated parameter would not be finite: the step is out */
            st->step_loss = 0;
            return SIA_EDIVERGED;
        }
        st->loss_sum += st->step_loss;
        st->step_loss = 0;
        st->step += 1;

        if (st->step == n_steps) {
            double epoch_loss = st->loss_sum / (double)n;
            loss_out[st->epoch] = epoch_loss;
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
