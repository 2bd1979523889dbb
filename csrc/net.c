/* net.c (template, see real.h): a stack of dense layers over borrowed buffers.
 * Layer l (1..L) maps a[l-1] (B, n_{l-1}) to z[l] = a[l-1] W_lᵀ + b_l and a[l] = f_l(z[l]). */

int FN(sia_acts_alloc)(FN(sia_acts) *A, const int64_t *sizes, int64_t L, int64_t cap) {
    /* One block: the pointer tables, then a[0], z[1], a[1], ..., z[L], a[L], dA, dZ, t. */
    int64_t maxw = 0, count = 0, rows;
    for (int64_t l = 0; l <= L; l++) {
        if (sizes[l] > maxw) maxw = sizes[l];
        if (!sia_add_ok(count, l == 0 ? sizes[0] : 2 * sizes[l], &count)) return SIA_ENOMEM;
    }
    if (!sia_add_ok(count, 2 * maxw + sizes[L], &count) || !sia_mul_ok(count, cap, &rows) ||
        !sia_mul_ok(rows, (int64_t)sizeof(REAL), &rows))
        return SIA_ENOMEM;
    int64_t table = 2 * (L + 1) * (int64_t)sizeof(REAL *);
    table = (table + 63) / 64 * 64;
    if (!sia_add_ok(rows, table, &rows) || (uint64_t)rows > SIZE_MAX / 2) return SIA_ENOMEM;
    char *block = malloc((size_t)rows);
    if (!block) return SIA_ENOMEM;
    A->cap = cap;
    A->block = block;
    A->a = (REAL **)block;
    A->z = A->a + (L + 1);
    REAL *p = (REAL *)(block + table);
    A->a[0] = p;
    A->z[0] = NULL;
    p += cap * sizes[0];
    for (int64_t l = 1; l <= L; l++) {
        A->z[l] = p;
        p += cap * sizes[l];
        A->a[l] = p;
        p += cap * sizes[l];
    }
    A->dA = p;
    p += cap * maxw;
    A->dZ = p;
    p += cap * maxw;
    A->t = p;
    return SIA_OK;
}

void FN(sia_acts_free)(FN(sia_acts) *A) {
    free(A->block);
    A->block = NULL;
}

REAL *FN(sia_net_W)(const FN(sia_net) *net, int64_t l) {
    int64_t off = 0;
    for (int64_t k = 1; k < l; k++) off += net->sizes[k] * (net->sizes[k - 1] + 1);
    return net->params + off;
}

void FN(sia_net_forward)(const FN(sia_net) *net, FN(sia_acts) *A, int64_t B, int64_t l0, int64_t l1) {
    REAL *W = FN(sia_net_W)(net, l0 + 1);
    for (int64_t l = l0 + 1; l <= l1; l++) {
        int64_t n_in = net->sizes[l - 1], n_out = net->sizes[l];
        const REAL *b = W + n_out * n_in;
        FN(sia_dense_forward)(A->z[l], A->a[l - 1], W, b, B, n_in, n_out, net->nthreads);
        FN(sia_act_forward)(A->a[l], A->z[l], B * n_out, net->act[l - 1], net->beta[l - 1]);
        W += n_out * (n_in + 1);
    }
}

void FN(sia_net_backward)(FN(sia_net) *net, FN(sia_acts) *A, int64_t B, int64_t l0, int64_t l1,
                          int want_dinp) {
    /* dZ holds dL/dz_l. Dense backward gives dL/da_{l-1} in dA; the activation of layer l-1
       turns it into dL/dz_{l-1} = dL/da_{l-1} · f'(a_{l-1}), back in dZ. */
    int64_t off = FN(sia_net_W)(net, l1) - net->params;
    for (int64_t l = l1; l > l0; l--) {
        int64_t n_in = net->sizes[l - 1], n_out = net->sizes[l];
        const REAL *W = net->params + off;
        REAL *dW = net->grads + off, *db = dW + n_out * n_in;
        int need_dinp = l > l0 + 1 || want_dinp;
        if (need_dinp) memset(A->dA, 0, (size_t)(B * n_in) * sizeof(REAL));
        FN(sia_dense_backward)(need_dinp ? A->dA : NULL, dW, db, A->dZ, A->a[l - 1], W, B, n_in,
                               n_out, net->nthreads);
        if (l > l0 + 1) {
            memset(A->dZ, 0, (size_t)(B * n_in) * sizeof(REAL));
            FN(sia_act_backward)(A->dZ, A->dA, A->a[l - 1], B * n_in, net->act[l - 2],
                                 net->beta[l - 2]);
            off -= n_in * (net->sizes[l - 2] + 1);
        }
    }
}

int FN(sia_net_predict)(const FN(sia_net) *net, REAL *out, const REAL *X, int64_t n, int64_t l0,
                        int64_t l1) {
    const int64_t n_in = net->sizes[l0], n_out = net->sizes[l1];
    if (l0 == l1) {
        memcpy(out, X, (size_t)(n * n_in) * sizeof(REAL));
        return SIA_OK;
    }
    FN(sia_acts) A;
    int64_t cap = n < 256 ? (n > 0 ? n : 1) : 256;
    if (FN(sia_acts_alloc)(&A, net->sizes, net->L, cap) != SIA_OK) return SIA_ENOMEM;
    for (int64_t r = 0; r < n; r += cap) {
        int64_t B = n - r < cap ? n - r : cap;
        /* The acts tables are laid out from layer 0; only layers l0..l1 are used here. */
        memcpy(A.a[l0], X + r * n_in, (size_t)(B * n_in) * sizeof(REAL));
        FN(sia_net_forward)(net, &A, B, l0, l1);
        memcpy(out + r * n_out, A.a[l1], (size_t)(B * n_out) * sizeof(REAL));
    }
    FN(sia_acts_free)(&A);
    return SIA_OK;
}

int FN(sia_net_loss_grad)(FN(sia_net) *net, double *loss_out, const REAL *X, const REAL *Y,
                          int64_t n, int loss) {
    const int64_t L = net->L, d_in = net->sizes[0], d_out = net->sizes[L];
    FN(sia_acts) A;
    if (FN(sia_acts_alloc)(&A, net->sizes, L, n > 0 ? n : 1) != SIA_OK) return SIA_ENOMEM;
    memcpy(A.a[0], X, (size_t)(n * d_in) * sizeof(REAL));
    FN(sia_net_forward)(net, &A, n, 0, L);
    int kind = net->act[L - 1];
    double beta = net->beta[L - 1];
    *loss_out = FN(sia_loss_forward)(A.z[L], A.a[L], Y, n, d_out, loss, kind, beta);
    if (!net->grads) {
        FN(sia_acts_free)(&A);
        return SIA_OK;
    }
    memset(A.dZ, 0, (size_t)(n * d_out) * sizeof(REAL));
    FN(sia_loss_backward)(A.dZ, A.z[L], A.a[L], Y, n, d_out, loss, kind, beta);
    FN(sia_net_backward)(net, &A, n, 0, L, 0);
    FN(sia_acts_free)(&A);
    return SIA_OK;
}

void FN(sia_pixel_errors)(int64_t *errs, const REAL *Y, const REAL *T, int64_t n, int64_t d) {
    for (int64_t r = 0; r < n; r++) {
        int64_t e = 0;
        for (int64_t j = 0; j < d; j++) e += (Y[r * d + j] >= (REAL)0.5) != (T[r * d + j] >= (REAL)0.5);
        errs[r] = e;
    }
}
