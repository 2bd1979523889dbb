/* module.c: the only door between Python and the C core (sia_autoencoder._core).
 *
 * Every wrapper has the same shape: parse, check every buffer (type, dtype, contiguity,
 * alignment, writeability, shape), release the GIL, call one kernel, raise from its status,
 * clean up at one label. Messages name the argument, what was expected and what was received.
 * Python owns all memory; C borrows the buffers for the length of a call. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/arrayobject.h>
#include <math.h>
#include <stdarg.h>
#include "sia.h"

#define SLICE_NS 50000000LL /* a training call re-takes the GIL this often to check for Ctrl-C */
static int64_t slice_ns = SLICE_NS; /* the tests shorten it (_set_slice_ns) to pause at every check */

/* ---- argument checks ---- */

/* Formats a double or a shape into buf, for error messages (PyErr_Format has no %g). */
static const char *fmt_g(char *buf, double v) {
    snprintf(buf, 32, "%.17g", v);
    return buf;
}
static const char *fmt_shape(char *buf, size_t size, PyArrayObject *a) {
    size_t k = (size_t)snprintf(buf, size, "(");
    for (int i = 0; i < PyArray_NDIM(a) && k < size; i++)
        k += (size_t)snprintf(buf + k, size - k, i ? ", %lld" : "%lld", (long long)PyArray_DIM(a, i));
    if (k < size) snprintf(buf + k, size - k, PyArray_NDIM(a) == 1 ? ",)" : ")");
    return buf;
}

/* obj must be an ndarray of dtype typenum (NPY_NOTYPE: float32 or float64), ndim dimensions,
   C-contiguous and aligned, and writeable if asked. Returns it (borrowed) or NULL with an error. */
static PyArrayObject *get_array(PyObject *obj, const char *name, int typenum, int ndim, int writeable) {
    if (!PyArray_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "%s: expected a numpy.ndarray, got %s", name, Py_TYPE(obj)->tp_name);
        return NULL;
    }
    PyArrayObject *a = (PyArrayObject *)obj;
    int t = PyArray_TYPE(a);
    int ok = typenum == NPY_NOTYPE ? (t == NPY_FLOAT32 || t == NPY_FLOAT64) : t == typenum;
    if (!ok) {
        PyArray_Descr *want = PyArray_DescrFromType(typenum == NPY_NOTYPE ? NPY_FLOAT64 : typenum);
        PyErr_Format(PyExc_TypeError, "%s: expected dtype %s%S, got %S", name,
                     typenum == NPY_NOTYPE ? "float32 or " : "", (PyObject *)want, PyArray_DESCR(a));
        Py_DECREF(want);
        return NULL;
    }
    if (PyArray_NDIM(a) != ndim) {
        PyErr_Format(PyExc_ValueError, "%s: expected %d dimension%s, got %d", name, ndim,
                     ndim == 1 ? "" : "s", PyArray_NDIM(a));
        return NULL;
    }
    if (!PyArray_ISNOTSWAPPED(a)) {
        PyErr_Format(PyExc_ValueError, "%s: expected the machine's byte order, got dtype %S "
                     "(use a.astype(a.dtype.newbyteorder('=')))", name, PyArray_DESCR(a));
        return NULL;
    }
    if (!PyArray_IS_C_CONTIGUOUS(a) || !PyArray_ISALIGNED(a)) {
        PyErr_Format(PyExc_ValueError, "%s: expected a C-contiguous, aligned array", name);
        return NULL;
    }
    if (writeable && !PyArray_ISWRITEABLE(a)) {
        PyErr_Format(PyExc_ValueError, "%s: expected a writeable array, got a read-only one", name);
        return NULL;
    }
    return a;
}

/* Dimension `axis` of a must be `want`. */
static int check_dim(PyArrayObject *a, const char *name, int axis, int64_t want) {
    static const char *axes[] = {"rows", "columns"};
    int64_t got = (int64_t)PyArray_DIM(a, axis);
    if (got == want) return 0;
    if (PyArray_NDIM(a) == 2)
        PyErr_Format(PyExc_ValueError, "%s: expected %lld %s, got %lld", name, (long long)want,
                     axes[axis], (long long)got);
    else
        PyErr_Format(PyExc_ValueError, "%s: expected length %lld, got %lld", name, (long long)want,
                     (long long)got);
    return -1;
}

static int same_dtype(PyArrayObject *a, const char *name, PyArrayObject *ref, const char *refname) {
    if (PyArray_TYPE(a) == PyArray_TYPE(ref)) return 0;
    PyErr_Format(PyExc_TypeError, "%s: expected dtype %S (the dtype of %s), got %S", name,
                 PyArray_DESCR(ref), refname, PyArray_DESCR(a));
    return -1;
}

static int check_kind(int v, int n, const char *name) {
    if (v >= 0 && v < n) return 0;
    PyErr_Format(PyExc_ValueError, "%s: expected a code in [0, %d), got %d", name, n, v);
    return -1;
}

static int check_positive(double v, const char *name) {
    if (isfinite(v) && v > 0) return 0;
    char b[32];
    PyErr_Format(PyExc_ValueError, "%s: expected a finite number > 0, got %s", name, fmt_g(b, v));
    return -1;
}

/* Thread counts are a speed knob only (results are bit-identical for any count): clamp them to
   [1, SIA_MAX_THREADS], so that a typo like threads=100000 cannot ask for absurd numbers of threads. */
#define SIA_MAX_THREADS 256
#define SIA_MAX_STEPS (1LL << 62) /* optimizer step counts beyond this are refused */
static int clamp_threads(int n) { return n < 1 ? 1 : (n > SIA_MAX_THREADS ? SIA_MAX_THREADS : n); }

static int raise_status(int status) {
    if (status == SIA_ENOMEM) PyErr_NoMemory();
    else if (status != SIA_OK) PyErr_Format(PyExc_RuntimeError, "internal error: status %d", status);
    return status == SIA_OK ? 0 : -1;
}

/* Calls run(ctx, deadline) with the GIL released until it returns anything but SIA_PAUSED,
 * giving each call a deadline slice_ns ahead; between calls it re-takes the GIL and checks for
 * Ctrl-C. Returns the last status, or -1 with KeyboardInterrupt (or the handler's error) set. */
static int run_in_slices(int (*run)(void *ctx, int64_t deadline), void *ctx) {
    int status;
    PyThreadState *ts = PyEval_SaveThread();
    while ((status = run(ctx, sia_now_ns() + slice_ns)) == SIA_PAUSED) {
        PyEval_RestoreThread(ts);
        if (PyErr_CheckSignals() < 0) return -1;
        ts = PyEval_SaveThread();
    }
    PyEval_RestoreThread(ts);
    return status;
}

/* params (P,) float32 or float64, writeable (P < 0: any length), and grads None or (P,) of its
   dtype. */
static int get_params_grads(PyArrayObject **p, PyArrayObject **g, int *is64, PyObject *params,
                            PyObject *grads, int64_t P) {
    *p = get_array(params, "params", NPY_NOTYPE, 1, 1);
    if (!*p || (P >= 0 && check_dim(*p, "params", 0, P))) return -1;
    *is64 = PyArray_TYPE(*p) == NPY_FLOAT64;
    *g = NULL;
    if (grads && grads != Py_None) {
        *g = get_array(grads, "grads", NPY_NOTYPE, 1, 1);
        if (!*g || same_dtype(*g, "grads", *p, "params") || check_dim(*g, "grads", 0, PyArray_DIM(*p, 0)))
            return -1;
    }
    return 0;
}

/* ---- a network: (sizes int64 (L+1,), act int32 (L,), beta float64 (L,), params (P,), grads) ---- */

typedef struct {
    int64_t L, P;
    const int64_t *sizes;
    const int32_t *act;
    const double *beta;
    PyArrayObject *params, *grads; /* grads may be NULL */
    int is64;
} netspec;

static int get_net(netspec *s, PyObject *sizes, PyObject *act, PyObject *beta, PyObject *params,
                   PyObject *grads) {
    PyArrayObject *a_sizes = get_array(sizes, "sizes", NPY_INT64, 1, 0);
    if (!a_sizes) return -1;
    s->L = (int64_t)PyArray_DIM(a_sizes, 0) - 1;
    if (s->L < 1) {
        PyErr_Format(PyExc_ValueError, "sizes: expected at least 2 layer widths, got %lld",
                     (long long)(s->L + 1));
        return -1;
    }
    s->sizes = PyArray_DATA(a_sizes);
    for (int64_t l = 0; l <= s->L; l++)
        if (s->sizes[l] < 1) {
            PyErr_Format(PyExc_ValueError, "sizes[%lld]: expected a width >= 1, got %lld",
                         (long long)l, (long long)s->sizes[l]);
            return -1;
        }
    PyArrayObject *a_act = get_array(act, "act", NPY_INT32, 1, 0);
    PyArrayObject *a_beta = a_act ? get_array(beta, "beta", NPY_FLOAT64, 1, 0) : NULL;
    if (!a_beta || check_dim(a_act, "act", 0, s->L) || check_dim(a_beta, "beta", 0, s->L)) return -1;
    s->act = PyArray_DATA(a_act);
    s->beta = PyArray_DATA(a_beta);
    for (int64_t l = 0; l < s->L; l++) {
        if (check_kind(s->act[l], SIA_N_ACT, "act")) return -1;
        if (!(isfinite(s->beta[l]) && s->beta[l] > 0)) {
            char b[32];
            PyErr_Format(PyExc_ValueError, "beta[%lld]: expected a finite number > 0, got %s",
                         (long long)l, fmt_g(b, s->beta[l]));
            return -1;
        }
    }
    s->P = sia_param_count(s->sizes, s->L);
    if (s->P < 0) {
        PyErr_SetString(PyExc_MemoryError, "sizes: the parameter count overflows");
        return -1;
    }
    return get_params_grads(&s->params, &s->grads, &s->is64, params, grads, s->P);
}

/* A data matrix of the net's dtype with `rows` rows (-1: any, at least 1) and `cols` columns. */
static PyArrayObject *get_matrix(PyObject *obj, const char *name, PyArrayObject *ref,
                                 const char *refname, int64_t rows, int64_t cols, int writeable) {
    PyArrayObject *a = get_array(obj, name, NPY_NOTYPE, 2, writeable);
    if (!a || same_dtype(a, name, ref, refname)) return NULL;
    if (rows >= 0 ? check_dim(a, name, 0, rows) : 0) return NULL;
    if (rows < 0 && PyArray_DIM(a, 0) < 1) {
        PyErr_Format(PyExc_ValueError, "%s: expected at least 1 row, got 0", name);
        return NULL;
    }
    if (check_dim(a, name, 1, cols)) return NULL;
    return a;
}

/* ---- kernels, one wrapper each (the tests compare them with NumPy twins) ---- */

static PyObject *py_gemm(PyObject *self, PyObject *args) {
    PyObject *oC, *oA, *oB;
    int tA, tB, acc, nthreads = 1;
    if (!PyArg_ParseTuple(args, "OOOppp|i", &oC, &oA, &oB, &tA, &tB, &acc, &nthreads)) return NULL;
    PyArrayObject *C = get_array(oC, "C", NPY_NOTYPE, 2, 1), *A = NULL, *B = NULL;
    if (C) A = get_array(oA, "A", PyArray_TYPE(C), 2, 0);
    if (A) B = get_array(oB, "B", PyArray_TYPE(C), 2, 0);
    if (!B) return NULL;
    int64_t M = PyArray_DIM(C, 0), N = PyArray_DIM(C, 1);
    int64_t K = tA ? PyArray_DIM(A, 0) : PyArray_DIM(A, 1);
    if (check_dim(A, "A", tA ? 1 : 0, M) || check_dim(B, "B", tB ? 1 : 0, K) ||
        check_dim(B, "B", tB ? 0 : 1, N))
        return NULL;
    nthreads = clamp_threads(nthreads);
    Py_BEGIN_ALLOW_THREADS
    if (PyArray_TYPE(C) == NPY_FLOAT64)
        sia_gemm_f64(PyArray_DATA(C), PyArray_DATA(A), PyArray_DATA(B), M, N, K, tA, tB, acc, nthreads);
    else
        sia_gemm_f32(PyArray_DATA(C), PyArray_DATA(A), PyArray_DATA(B), M, N, K, tA, tB, acc, nthreads);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

static PyObject *py_dense_forward(PyObject *self, PyObject *args) {
    PyObject *oout, *oinp, *oW, *ob;
    if (!PyArg_ParseTuple(args, "OOOO", &oout, &oinp, &oW, &ob)) return NULL;
    PyArrayObject *W = get_array(oW, "W", NPY_NOTYPE, 2, 0), *inp = NULL, *out = NULL, *b = NULL;
    if (!W) return NULL;
    int64_t n_out = PyArray_DIM(W, 0), n_in = PyArray_DIM(W, 1);
    if (!(inp = get_matrix(oinp, "inp", W, "W", -1, n_in, 0))) return NULL;
    int64_t B = PyArray_DIM(inp, 0);
    if (!(out = get_matrix(oout, "out", W, "W", B, n_out, 1))) return NULL;
    if (!(b = get_array(ob, "b", PyArray_TYPE(W), 1, 0)) || check_dim(b, "b", 0, n_out)) return NULL;
    Py_BEGIN_ALLOW_THREADS
    if (PyArray_TYPE(W) == NPY_FLOAT64)
        sia_dense_forward_f64(PyArray_DATA(out), PyArray_DATA(inp), PyArray_DATA(W), PyArray_DATA(b), B, n_in, n_out, 1);
    else
        sia_dense_forward_f32(PyArray_DATA(out), PyArray_DATA(inp), PyArray_DATA(W), PyArray_DATA(b), B, n_in, n_out, 1);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

static PyObject *py_dense_backward(PyObject *self, PyObject *args) {
    PyObject *odinp, *odW, *odb, *odout, *oinp, *oW;
    if (!PyArg_ParseTuple(args, "OOOOOO", &odinp, &odW, &odb, &odout, &oinp, &oW)) return NULL;
    PyArrayObject *W = get_array(oW, "W", NPY_NOTYPE, 2, 0), *dW, *db, *dout, *inp, *dinp = NULL;
    if (!W) return NULL;
    int64_t n_out = PyArray_DIM(W, 0), n_in = PyArray_DIM(W, 1);
    if (!(inp = get_matrix(oinp, "inp", W, "W", -1, n_in, 0))) return NULL;
    int64_t B = PyArray_DIM(inp, 0);
    if (!(dout = get_matrix(odout, "dout", W, "W", B, n_out, 0))) return NULL;
    if (!(dW = get_matrix(odW, "dW", W, "W", n_out, n_in, 1))) return NULL;
    if (!(db = get_array(odb, "db", PyArray_TYPE(W), 1, 1)) || check_dim(db, "db", 0, n_out)) return NULL;
    if (odinp != Py_None && !(dinp = get_matrix(odinp, "dinp", W, "W", B, n_in, 1))) return NULL;
    void *pdinp = dinp ? PyArray_DATA(dinp) : NULL;
    Py_BEGIN_ALLOW_THREADS
    if (PyArray_TYPE(W) == NPY_FLOAT64)
        sia_dense_backward_f64(pdinp, PyArray_DATA(dW), PyArray_DATA(db), PyArray_DATA(dout), PyArray_DATA(inp), PyArray_DATA(W), B, n_in, n_out, 1);
    else
        sia_dense_backward_f32(pdinp, PyArray_DATA(dW), PyArray_DATA(db), PyArray_DATA(dout), PyArray_DATA(inp), PyArray_DATA(W), B, n_in, n_out, 1);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

/* Element-wise arguments: same dtype and same size as `ref`. */
static PyArrayObject *get_like(PyObject *obj, const char *name, PyArrayObject *ref, int writeable) {
    PyArrayObject *a = get_array(obj, name, PyArray_TYPE(ref), PyArray_NDIM(ref), writeable);
    if (!a) return NULL;
    if (PyArray_SIZE(a) != PyArray_SIZE(ref) ||
        !PyArray_CompareLists(PyArray_DIMS(a), PyArray_DIMS(ref), PyArray_NDIM(ref))) {
        char want[128], got[128];
        PyErr_Format(PyExc_ValueError, "%s: expected the shape %s, got %s", name,
                     fmt_shape(want, sizeof want, ref), fmt_shape(got, sizeof got, a));
        return NULL;
    }
    return a;
}

static PyObject *py_act_forward(PyObject *self, PyObject *args) {
    PyObject *oout, *oinp;
    int kind;
    double beta;
    if (!PyArg_ParseTuple(args, "OOid", &oout, &oinp, &kind, &beta)) return NULL;
    PyArrayObject *inp = get_array(oinp, "inp", NPY_NOTYPE, PyArray_Check(oinp) ? PyArray_NDIM((PyArrayObject *)oinp) : 1, 0), *out;
    if (!inp || !(out = get_like(oout, "out", inp, 1)) || check_kind(kind, SIA_N_ACT, "kind") ||
        check_positive(beta, "beta"))
        return NULL;
    int64_t n = PyArray_SIZE(inp);
    Py_BEGIN_ALLOW_THREADS
    if (PyArray_TYPE(inp) == NPY_FLOAT64) sia_act_forward_f64(PyArray_DATA(out), PyArray_DATA(inp), n, kind, beta);
    else sia_act_forward_f32(PyArray_DATA(out), PyArray_DATA(inp), n, kind, beta);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

static PyObject *py_act_backward(PyObject *self, PyObject *args) {
    PyObject *odinp, *odout, *oout;
    int kind;
    double beta;
    if (!PyArg_ParseTuple(args, "OOOid", &odinp, &odout, &oout, &kind, &beta)) return NULL;
    PyArrayObject *out = get_array(oout, "out", NPY_NOTYPE, PyArray_Check(oout) ? PyArray_NDIM((PyArrayObject *)oout) : 1, 0), *dout, *dinp;
    if (!out || !(dout = get_like(odout, "dout", out, 0)) || !(dinp = get_like(odinp, "dinp", out, 1)) ||
        check_kind(kind, SIA_N_ACT, "kind") || check_positive(beta, "beta"))
        return NULL;
    int64_t n = PyArray_SIZE(out);
    Py_BEGIN_ALLOW_THREADS
    if (PyArray_TYPE(out) == NPY_FLOAT64) sia_act_backward_f64(PyArray_DATA(dinp), PyArray_DATA(dout), PyArray_DATA(out), n, kind, beta);
    else sia_act_backward_f32(PyArray_DATA(dinp), PyArray_DATA(dout), PyArray_DATA(out), n, kind, beta);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

/* loss_forward(z, y, t, loss, kind, beta) -> float;  loss_backward(dz, z, y, t, loss, kind, beta) */
static PyObject *loss_common(PyObject *args, int backward) {
    PyObject *odz = NULL, *oz, *oy, *ot;
    int loss, kind;
    double beta, value = 0;
    int ok = backward ? PyArg_ParseTuple(args, "OOOOiid", &odz, &oz, &oy, &ot, &loss, &kind, &beta)
                      : PyArg_ParseTuple(args, "OOOiid", &oz, &oy, &ot, &loss, &kind, &beta);
    if (!ok) return NULL;
    PyArrayObject *y = get_array(oy, "y", NPY_NOTYPE, 2, 0), *z, *t, *dz = NULL;
    if (!y || !(z = get_like(oz, "z", y, 0)) || !(t = get_like(ot, "t", y, 0)) ||
        (backward && !(dz = get_like(odz, "dz", y, 1))) || check_kind(loss, SIA_N_LOSS, "loss") ||
        check_kind(kind, SIA_N_ACT, "kind") || check_positive(beta, "beta"))
        return NULL;
    int64_t B = PyArray_DIM(y, 0), n = PyArray_DIM(y, 1);
    int is64 = PyArray_TYPE(y) == NPY_FLOAT64;
    Py_BEGIN_ALLOW_THREADS
    if (backward && is64) sia_loss_backward_f64(PyArray_DATA(dz), PyArray_DATA(z), PyArray_DATA(y), PyArray_DATA(t), B, n, loss, kind, beta);
    else if (backward) sia_loss_backward_f32(PyArray_DATA(dz), PyArray_DATA(z), PyArray_DATA(y), PyArray_DATA(t), B, n, loss, kind, beta);
    else if (is64) value = sia_loss_forward_f64(PyArray_DATA(z), PyArray_DATA(y), PyArray_DATA(t), B, n, loss, kind, beta);
    else value = sia_loss_forward_f32(PyArray_DATA(z), PyArray_DATA(y), PyArray_DATA(t), B, n, loss, kind, beta);
    Py_END_ALLOW_THREADS
    if (backward) Py_RETURN_NONE;
    return PyFloat_FromDouble(value);
}
static PyObject *py_loss_forward(PyObject *self, PyObject *args) { return loss_common(args, 0); }
static PyObject *py_loss_backward(PyObject *self, PyObject *args) { return loss_common(args, 1); }

/* Optimizer hyperparameters, checked; t is the step count so far. */
static int get_optim(sia_optim *o, int kind, double lr, double momentum, double beta1, double beta2,
                     double eps, double rho, double weight_decay, long long t) {
    *o = (sia_optim){.kind = kind, .lr = lr, .momentum = momentum, .beta1 = beta1, .beta2 = beta2,
                     .eps = eps, .rho = rho, .weight_decay = weight_decay, .t = t};
    if (check_kind(kind, SIA_N_OPTIM, "optimizer") || check_positive(lr, "lr")) return -1;
    char b1[32], b2[32];
    if (!(momentum >= 0 && momentum < 1)) {
        PyErr_Format(PyExc_ValueError, "momentum: expected a value in [0, 1), got %s", fmt_g(b1, momentum));
        return -1;
    }
    if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1)) {
        PyErr_Format(PyExc_ValueError, "beta1, beta2: expected values in [0, 1), got %s, %s",
                     fmt_g(b1, beta1), fmt_g(b2, beta2));
        return -1;
    }
    if (!(rho >= 0 && rho < 1)) {
        PyErr_Format(PyExc_ValueError, "rho: expected a value in [0, 1), got %s", fmt_g(b1, rho));
        return -1;
    }
    if (!(weight_decay >= 0 && isfinite(weight_decay))) {
        PyErr_Format(PyExc_ValueError, "weight_decay: expected a finite number >= 0, got %s",
                     fmt_g(b1, weight_decay));
        return -1;
    }
    if (check_positive(eps, "eps")) return -1;
    if (t < 0 || t > SIA_MAX_STEPS) { /* the steps of a call add to t: keep it far from overflow */
        PyErr_Format(PyExc_ValueError, "t: expected a step count in [0, 2**62], got %lld", t);
        return -1;
    }
    return 0;
}

/* The optimizer's hyperparameters as the kernels of a float32 model use them (cast to float):
   lr and eps neither 0 nor inf, momentum, beta1, beta2 and rho still below 1. */
static int check_optim_f32(const sia_optim *o) {
    const struct { const char *name; double v; int below_one; } hp[] = {
        {"lr", o->lr, 0}, {"eps", o->eps, 0}, {"momentum", o->momentum, 1},
        {"beta1", o->beta1, 1}, {"beta2", o->beta2, 1}, {"rho", o->rho, 1}};
    for (size_t i = 0; i < sizeof hp / sizeof hp[0]; i++) {
        const float f = (float)hp[i].v;
        if (hp[i].below_one ? f < 1.0f : (f > 0.0f && isfinite(f))) continue;
        char b[32];
        PyErr_Format(PyExc_ValueError, "%s: expected a value that float32 holds %s, got %s "
                     "(%s in float32)", hp[i].name, hp[i].below_one ? "below 1" : "as a finite number > 0",
                     fmt_g(b, hp[i].v), hp[i].below_one ? "1" : (f == 0 ? "0" : "inf"));
        return -1;
    }
    return 0;
}

/* optim_step(p, m, v, g, kind, lr, momentum, beta1, beta2, eps, t[, rho, weight_decay, nthreads])
   -> t + 1, or t (nothing written) when a value of the step would not be finite */
static PyObject *py_optim_step(PyObject *self, PyObject *args) {
    PyObject *op, *om, *ov, *og;
    int kind;
    double lr, momentum, beta1, beta2, eps, rho = 0.9, weight_decay = 0;
    long long t;
    int nthreads = 1;
    if (!PyArg_ParseTuple(args, "OOOOidddddL|ddi", &op, &om, &ov, &og, &kind, &lr, &momentum, &beta1,
                          &beta2, &eps, &t, &rho, &weight_decay, &nthreads))
        return NULL;
    sia_optim o;
    PyArrayObject *p = get_array(op, "p", NPY_NOTYPE, 1, 1), *m, *v, *g;
    if (!p || !(m = get_like(om, "m", p, 1)) || !(v = get_like(ov, "v", p, 1)) ||
        !(g = get_like(og, "g", p, 0)) ||
        get_optim(&o, kind, lr, momentum, beta1, beta2, eps, rho, weight_decay, t) ||
        (PyArray_TYPE(p) == NPY_FLOAT32 && check_optim_f32(&o)))
        return NULL;
    int64_t n = PyArray_SIZE(p);
    nthreads = clamp_threads(nthreads);
    Py_BEGIN_ALLOW_THREADS /* refused (t unchanged, nothing written) when a value would not be finite */
    if (PyArray_TYPE(p) == NPY_FLOAT64)
        sia_optim_step_threads_f64(PyArray_DATA(p), PyArray_DATA(m), PyArray_DATA(v), PyArray_DATA(g), n, nthreads, &o);
    else
        sia_optim_step_threads_f32(PyArray_DATA(p), PyArray_DATA(m), PyArray_DATA(v), PyArray_DATA(g), n, nthreads, &o);
    Py_END_ALLOW_THREADS
    return PyLong_FromLongLong(o.t);
}

/* The generator state, uint64 (4,). A state read (not only written, as rng_seed does) must not
   be all zeros: xoshiro256** never leaves that state and yields only 0 from it. */
static sia_rng *get_rng_out(PyObject *obj, int read) {
    PyArrayObject *a = get_array(obj, "rng_state", NPY_UINT64, 1, 1);
    if (!a || check_dim(a, "rng_state", 0, 4)) return NULL;
    const uint64_t *s = PyArray_DATA(a);
    if (read && !(s[0] | s[1] | s[2] | s[3])) {
        PyErr_SetString(PyExc_ValueError, "rng_state: expected a generator state that is not all "
                        "zeros (xoshiro256** yields only 0 from it), got [0, 0, 0, 0]");
        return NULL;
    }
    return (sia_rng *)PyArray_DATA(a);
}
static sia_rng *get_rng(PyObject *obj) { return get_rng_out(obj, 1); }

/* rng_seed(state, seed): fills the uint64 (4,) state from a seed. */
static PyObject *py_rng_seed(PyObject *self, PyObject *args) {
    PyObject *ostate;
    unsigned long long seed;
    if (!PyArg_ParseTuple(args, "OK", &ostate, &seed)) return NULL;
    sia_rng *r = get_rng_out(ostate, 0);
    if (!r) return NULL;
    sia_rng_seed(r, seed);
    Py_RETURN_NONE;
}

/* rng_uniform(out, state), rng_normal(out, state): fill a float64 array. */
static PyObject *rng_fill(PyObject *args, int normal) {
    PyObject *oout, *ostate;
    if (!PyArg_ParseTuple(args, "OO", &oout, &ostate)) return NULL;
    PyArrayObject *out = get_array(oout, "out", NPY_FLOAT64, 1, 1);
    sia_rng *r = out ? get_rng(ostate) : NULL;
    if (!r) return NULL;
    double *o = PyArray_DATA(out);
    int64_t n = PyArray_SIZE(out);
    Py_BEGIN_ALLOW_THREADS
    for (int64_t i = 0; i < n; i++) o[i] = normal ? sia_rng_normal(r) : sia_rng_uniform(r);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}
static PyObject *py_rng_uniform(PyObject *self, PyObject *args) { return rng_fill(args, 0); }
static PyObject *py_rng_normal(PyObject *self, PyObject *args) { return rng_fill(args, 1); }

/* noise_apply(x, kind, level, state): corrupts x in place. */
static PyObject *py_noise_apply(PyObject *self, PyObject *args) {
    PyObject *ox, *ostate;
    int kind;
    double level;
    if (!PyArg_ParseTuple(args, "OidO", &ox, &kind, &level, &ostate)) return NULL;
    PyArrayObject *x = get_array(ox, "x", NPY_NOTYPE, PyArray_Check(ox) ? PyArray_NDIM((PyArrayObject *)ox) : 1, 1);
    sia_rng *r = x ? get_rng(ostate) : NULL;
    if (!r || check_kind(kind, SIA_N_NOISE, "noise")) return NULL;
    if (!(isfinite(level) && level >= 0 && (kind == SIA_NOISE_GAUSSIAN || level <= 1))) {
        char b[32];
        PyErr_Format(PyExc_ValueError, "level: expected %s, got %s",
                     kind == SIA_NOISE_GAUSSIAN ? "a finite σ >= 0" : "a probability in [0, 1]",
                     fmt_g(b, level));
        return NULL;
    }
    int64_t n = PyArray_SIZE(x);
    Py_BEGIN_ALLOW_THREADS
    if (PyArray_TYPE(x) == NPY_FLOAT64) sia_noise_apply_f64(PyArray_DATA(x), n, kind, level, r);
    else sia_noise_apply_f32(PyArray_DATA(x), n, kind, level, r);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

/* ---- image layer kinds (conv.c, pooling.c), one layer at a time, for their tests ---- */

static const char *const layer_names[SIA_N_LAYER] = {
    "Dense", "DenseTranspose", "Conv2D", "Conv2DTranspose", "MaxPool2D", "AveragePooling2D",
    "GlobalAveragePooling2D", "UpSampling2D", "Reshape", "Dropout", "GaussianNoise", "Sampling"};

/* One axis of a Conv2D or pool: n_out from n_in, kernel k, stride s and padding pad must be
   Keras's "valid" (pad 0, n_out = (n_in - k) / s + 1) or "same" (n_out = ceil(n_in / s),
   pad = max((n_out - 1) s + k - n_in, 0) / 2). */
static int check_conv_axis(const char *who, const char *axis, int64_t n_in, int64_t n_out, int64_t k,
                           int64_t s, int64_t pad) {
    const int64_t same = (n_in + s - 1) / s, total = (same - 1) * s + k - n_in;
    if (n_out == same && pad == (total > 0 ? total : 0) / 2) return 0;
    if (pad == 0 && n_in >= k && n_out == (n_in - k) / s + 1) return 0;
    if (pad == 0 && n_in < k && n_out != same)
        PyErr_Format(PyExc_ValueError, "%s: the kernel's %lld %s are more than the input's %lld",
                     who, (long long)k, axis, (long long)n_in);
    else
        PyErr_Format(PyExc_ValueError,
                     "%s: %lld output %s with padding %lld do not follow from %lld input %s, kernel "
                     "%lld and stride %lld ('valid': %lld with padding 0, 'same': %lld with padding %lld)",
                     who, (long long)n_out, axis, (long long)pad, (long long)n_in, axis, (long long)k,
                     (long long)s, (long long)(n_in >= k ? (n_in - k) / s + 1 : 0), (long long)same,
                     (long long)((total > 0 ? total : 0) / 2));
    return -1;
}

/* One axis of a Conv2DTranspose (Keras, output_padding None): "valid": n_out = n_in s +
   max(k - s, 0), crop 0; "same": n_out = n_in s, crop = max((n_in - 1) s + k - n_out, 0) / 2. */
static int check_conv_t_axis(const char *who, const char *axis, int64_t n_in, int64_t n_out,
                             int64_t k, int64_t s, int64_t pad) {
    const int64_t same = n_in * s, valid = same + (k > s ? k - s : 0), full = (n_in - 1) * s + k;
    const int64_t crop = (full - same > 0 ? full - same : 0) / 2;
    if ((n_out == valid && pad == 0) || (n_out == same && pad == crop)) return 0;
    PyErr_Format(PyExc_ValueError,
                 "%s: %lld output %s with crop %lld do not follow from %lld input %s, kernel %lld and "
                 "stride %lld ('valid': %lld with crop 0, 'same': %lld with crop %lld)",
                 who, (long long)n_out, axis, (long long)pad, (long long)n_in, axis, (long long)k,
                 (long long)s, (long long)valid, (long long)same, (long long)crop);
    return -1;
}

/* The shapes of an image layer l (kinds CONV2D .. UPSAMPLE), named `who` in the messages:
   every size >= 1, the sizes of a sample, of B of them and of the parameters without overflow,
   and the output shape the one that the kind, kernel, strides and padding give. Sets
   *n_in, *n_out and *n_params. */
static int check_image_layer(const sia_layer *l, const char *who, int64_t B, int64_t *n_in,
                             int64_t *n_out, int64_t *n_params) {
    const int64_t dims[] = {l->in_h, l->in_w, l->in_c, l->out_h, l->out_w, l->out_c,
                            l->kh, l->kw, l->sh, l->sw};
    static const char *names[] = {"in_h", "in_w", "in_c", "out_h", "out_w", "out_c",
                                  "kh", "kw", "sh", "sw"};
    for (int i = 0; i < 10; i++)
        if (dims[i] < 1 || dims[i] > ((int64_t)1 << 40)) { /* bounded: the axis checks multiply them */
            PyErr_Format(PyExc_ValueError, "%s: %s: expected a size >= 1 (and <= 2**40), got %lld",
                         who, names[i], (long long)dims[i]);
            return -1;
        }
    if (l->pad_t < 0 || l->pad_l < 0) {
        PyErr_Format(PyExc_ValueError, "%s: padding: expected sizes >= 0, got %lld, %lld", who,
                     (long long)l->pad_t, (long long)l->pad_l);
        return -1;
    }
    int64_t t, k, w = 0, rows;
    if (!sia_mul_ok(l->in_h, l->in_w, &t) || !sia_mul_ok(t, l->in_c, n_in) ||
        !sia_mul_ok(l->out_h, l->out_w, &t) || !sia_mul_ok(t, l->out_c, n_out) ||
        !sia_mul_ok(l->kh, l->kw, &k) || !sia_mul_ok(k, l->in_c, &t) || !sia_mul_ok(t, l->out_c, &w) ||
        !sia_mul_ok(B, *n_in, &rows) || !sia_mul_ok(B, *n_out, &rows) ||
        !sia_add_ok(w, l->out_c, &w) || (uint64_t)w > SIZE_MAX / 16 ||
        (uint64_t)(*n_in > *n_out ? *n_in : *n_out) > SIZE_MAX / 16 / (uint64_t)(B > 0 ? B : 1)) {
        PyErr_Format(PyExc_ValueError, "%s: its sizes overflow", who);
        return -1;
    }
    *n_params = 0;
    const int pool = l->kind != SIA_LAYER_CONV2D && l->kind != SIA_LAYER_CONV2D_T;
    if (pool && l->out_c != l->in_c) {
        PyErr_Format(PyExc_ValueError, "%s: expected as many output channels as input ones (%lld), got %lld",
                     who, (long long)l->in_c, (long long)l->out_c);
        return -1;
    }
    switch (l->kind) {
    case SIA_LAYER_CONV2D:
        *n_params = w;
        /* fall through */
    case SIA_LAYER_MAXPOOL:
    case SIA_LAYER_AVGPOOL:
        return check_conv_axis(who, "rows", l->in_h, l->out_h, l->kh, l->sh, l->pad_t) ||
                       check_conv_axis(who, "columns", l->in_w, l->out_w, l->kw, l->sw, l->pad_l)
                   ? -1 : 0;
    case SIA_LAYER_CONV2D_T:
        *n_params = w;
        return check_conv_t_axis(who, "rows", l->in_h, l->out_h, l->kh, l->sh, l->pad_t) ||
                       check_conv_t_axis(who, "columns", l->in_w, l->out_w, l->kw, l->sw, l->pad_l)
                   ? -1 : 0;
    case SIA_LAYER_GAP:
        if (l->out_h == 1 && l->out_w == 1) return 0;
        PyErr_Format(PyExc_ValueError, "%s: expected an output of 1 × 1 pixels, got %lld × %lld", who,
                     (long long)l->out_h, (long long)l->out_w);
        return -1;
    case SIA_LAYER_UPSAMPLE: {
        int64_t h, wd;
        if (sia_mul_ok(l->in_h, l->kh, &h) && sia_mul_ok(l->in_w, l->kw, &wd) && l->out_h == h &&
            l->out_w == wd && l->pad_t == 0 && l->pad_l == 0)
            return 0;
        PyErr_Format(PyExc_ValueError, "%s: expected an output of %lld × %lld pixels (the input's "
                     "%lld × %lld times the size %lld × %lld, no padding), got %lld × %lld",
                     who, (long long)(l->in_h * l->kh), (long long)(l->in_w * l->kw), (long long)l->in_h,
                     (long long)l->in_w, (long long)l->kh, (long long)l->kw, (long long)l->out_h,
                     (long long)l->out_w);
        return -1;
    }
    }
    PyErr_Format(PyExc_ValueError, "%s: expected an image layer kind in [%d, %d], got %d", who,
                 SIA_LAYER_CONV2D, SIA_LAYER_UPSAMPLE, (int)l->kind);
    return -1;
}

/* kind and geom int64 (12,) = (in_h, in_w, in_c, out_h, out_w, out_c, kh, kw, sh, sw, pad_t,
   pad_l) -> a record, checked. */
static int get_image_layer(sia_layer *l, char *who, size_t whosize, int kind, PyObject *ogeom,
                           int64_t B, int64_t *n_in, int64_t *n_out, int64_t *n_params) {
    if (kind < SIA_LAYER_CONV2D || kind > SIA_LAYER_UPSAMPLE) {
        PyErr_Format(PyExc_ValueError, "kind: expected an image layer kind in [%d, %d], got %d",
                     SIA_LAYER_CONV2D, SIA_LAYER_UPSAMPLE, kind);
        return -1;
    }
    PyArrayObject *geom = get_array(ogeom, "geom", NPY_INT64, 1, 0);
    if (!geom || check_dim(geom, "geom", 0, 12)) return -1;
    const int64_t *g = PyArray_DATA(geom);
    *l = (sia_layer){.kind = kind, .act = SIA_LINEAR, .beta = 1, .in_h = g[0], .in_w = g[1],
                     .in_c = g[2], .out_h = g[3], .out_w = g[4], .out_c = g[5], .kh = g[6],
                     .kw = g[7], .sh = g[8], .sw = g[9], .pad_t = g[10], .pad_l = g[11], .off = 0,
                     .tied = -1};
    snprintf(who, whosize, "layer (%s)", layer_names[kind]);
    return check_image_layer(l, who, B, n_in, n_out, n_params);
}

/* The scratch of kind for B rows, allocated here (the kernels never allocate). */
static int image_scratch(const sia_layer *l, int64_t B, int is64, void **out) {
    int64_t n = 0;
    if (l->kind == SIA_LAYER_CONV2D) n = is64 ? sia_conv2d_scratch_f64(l, B) : sia_conv2d_scratch_f32(l, B);
    else if (l->kind == SIA_LAYER_CONV2D_T) n = is64 ? sia_conv2d_t_scratch_f64(l, B) : sia_conv2d_t_scratch_f32(l, B);
    if (n < 0 || (uint64_t)n > SIZE_MAX / 16) {
        PyErr_NoMemory();
        return -1;
    }
    *out = malloc(n > 0 ? (size_t)n * (is64 ? sizeof(double) : sizeof(float)) : 1);
    if (!*out) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

/* The parameters of an image layer: W then b, (n_params,), or None when it has none. */
static PyArrayObject *get_layer_params(PyObject *obj, const char *name, PyArrayObject *ref,
                                       int64_t n_params, int writeable) {
    if (n_params == 0 && obj == Py_None) return NULL;
    PyArrayObject *a = get_array(obj, name, PyArray_TYPE(ref), 1, writeable);
    if (a && check_dim(a, name, 0, n_params)) return NULL;
    return a;
}

#define IMAGE_KERNEL(kind, what, T) \
    ((kind) == SIA_LAYER_CONV2D ? sia_conv2d_##what##_##T \
     : (kind) == SIA_LAYER_CONV2D_T ? sia_conv2d_t_##what##_##T : sia_pool_##what##_##T)

/* layer_forward(kind, geom, z, inp, W|None[, nthreads]): z (B, n_out) = the kind's linear part of
   inp (B, n_in), W (n_params,) its W then b (None for the kinds without parameters). */
static PyObject *py_layer_forward(PyObject *self, PyObject *args) {
    PyObject *ogeom, *oz, *oinp, *oW;
    int kind, nthreads = 1;
    if (!PyArg_ParseTuple(args, "iOOOO|i", &kind, &ogeom, &oz, &oinp, &oW, &nthreads)) return NULL;
    PyArrayObject *inp = get_array(oinp, "inp", NPY_NOTYPE, 2, 0), *z, *W = NULL;
    if (!inp) return NULL;
    sia_layer l;
    char who[64];
    int64_t B = PyArray_DIM(inp, 0), n_in, n_out, n_params;
    if (get_image_layer(&l, who, sizeof who, kind, ogeom, B, &n_in, &n_out, &n_params) ||
        check_dim(inp, "inp", 1, n_in) || !(z = get_matrix(oz, "z", inp, "inp", B, n_out, 1)))
        return NULL;
    if (n_params && !(W = get_layer_params(oW, "W", inp, n_params, 0))) return NULL;
    if (!n_params && oW != Py_None) {
        PyErr_Format(PyExc_ValueError, "W: %s has no parameters, expected None", who);
        return NULL;
    }
    const int is64 = PyArray_TYPE(inp) == NPY_FLOAT64;
    void *scratch;
    if (image_scratch(&l, B, is64, &scratch)) return NULL;
    void *pW = W ? PyArray_DATA(W) : NULL;
    nthreads = clamp_threads(nthreads);
    Py_BEGIN_ALLOW_THREADS
    if (is64) IMAGE_KERNEL(kind, forward, f64)(&l, PyArray_DATA(z), PyArray_DATA(inp), pW, NULL, B, scratch, nthreads);
    else IMAGE_KERNEL(kind, forward, f32)(&l, PyArray_DATA(z), PyArray_DATA(inp), pW, NULL, B, scratch, nthreads);
    Py_END_ALLOW_THREADS
    free(scratch);
    Py_RETURN_NONE;
}

/* layer_backward(kind, geom, dinp|None, dW|None, dz, inp, W|None, accumulate[, nthreads[,
   relu_below]]): from dz (B, n_out), writes dinp (B, n_in) and writes (or adds) dW (n_params,).
   relu_below: the ReLU of the layer below folded into dinp (dinp *= [inp > 0]) when the kind can
   (sia_layer_kind.backward_relu); returns whether it did. */
static PyObject *py_layer_backward(PyObject *self, PyObject *args) {
    PyObject *ogeom, *odinp, *odW, *odz, *oinp, *oW;
    int kind, accumulate, nthreads = 1, relu_below = 0;
    if (!PyArg_ParseTuple(args, "iOOOOOOp|ip", &kind, &ogeom, &odinp, &odW, &odz, &oinp, &oW,
                          &accumulate, &nthreads, &relu_below))
        return NULL;
    PyArrayObject *inp = get_array(oinp, "inp", NPY_NOTYPE, 2, 0), *dz, *dinp = NULL, *W = NULL, *dW = NULL;
    if (!inp) return NULL;
    sia_layer l;
    char who[64];
    int64_t B = PyArray_DIM(inp, 0), n_in, n_out, n_params;
    if (get_image_layer(&l, who, sizeof who, kind, ogeom, B, &n_in, &n_out, &n_params) ||
        check_dim(inp, "inp", 1, n_in) || !(dz = get_matrix(odz, "dz", inp, "inp", B, n_out, 0)))
        return NULL;
    if (odinp != Py_None && !(dinp = get_matrix(odinp, "dinp", inp, "inp", B, n_in, 1))) return NULL;
    if (n_params && (!(W = get_layer_params(oW, "W", inp, n_params, 0)) ||
                     !(dW = get_layer_params(odW, "dW", inp, n_params, 1))))
        return NULL;
    if (!n_params && (oW != Py_None || odW != Py_None)) {
        PyErr_Format(PyExc_ValueError, "W, dW: %s has no parameters, expected None", who);
        return NULL;
    }
    const int is64 = PyArray_TYPE(inp) == NPY_FLOAT64;
    void *scratch;
    if (image_scratch(&l, B, is64, &scratch)) return NULL;
    void *pW = W ? PyArray_DATA(W) : NULL, *pdW = dW ? PyArray_DATA(dW) : NULL;
    void *pdinp = dinp ? PyArray_DATA(dinp) : NULL;
    nthreads = clamp_threads(nthreads);
    int folded = 0;
    Py_BEGIN_ALLOW_THREADS
    /* relu_below: the kind's backward with the ReLU of the layer below folded in, when it has one */
    if (relu_below && is64 && sia_layer_ops_f64[kind].backward_relu)
        folded = sia_layer_ops_f64[kind].backward_relu(&l, pdinp, pdW, PyArray_DATA(dz), PyArray_DATA(inp), NULL, pW, NULL, B, scratch, accumulate, nthreads);
    else if (relu_below && !is64 && sia_layer_ops_f32[kind].backward_relu)
        folded = sia_layer_ops_f32[kind].backward_relu(&l, pdinp, pdW, PyArray_DATA(dz), PyArray_DATA(inp), NULL, pW, NULL, B, scratch, accumulate, nthreads);
    if (folded) {}
    else if (is64) IMAGE_KERNEL(kind, backward, f64)(&l, pdinp, pdW, PyArray_DATA(dz), PyArray_DATA(inp), NULL, pW, NULL, B, scratch, accumulate, nthreads);
    else IMAGE_KERNEL(kind, backward, f32)(&l, pdinp, pdW, PyArray_DATA(dz), PyArray_DATA(inp), NULL, pW, NULL, B, scratch, accumulate, nthreads);
    Py_END_ALLOW_THREADS
    free(scratch);
    return PyBool_FromLong(folded);
}

/* ---- networks: layer records (sia.h's sia_layer) over one flat parameter vector ---- */

/* A network for the engine: its records (allocated here, freed by net_done), sizes, buffers. */
typedef struct {
    sia_layer *layers;
    int64_t L, P, n_in, n_out; /* n_in of layer 0, n_out of the last layer */
    PyArrayObject *params, *grads; /* grads may be NULL */
    int is64;
} netrec;

static void net_done(netrec *s) {
    PyMem_Free(s->layers);
    s->layers = NULL;
}

/* Raises ValueError "layers[j] (kind): <message>" and returns -1. */
static int layer_error(int64_t j, const sia_layer *l, const char *fmt, ...) {
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const char *kind = l->kind >= 0 && l->kind < SIA_N_LAYER ? layer_names[l->kind] : "unknown kind";
    PyErr_Format(PyExc_ValueError, "layers[%lld] (%s): %s", (long long)j, kind, msg);
    return -1;
}

/* Checks one record against the layer before it (prev, NULL for the first) and the parameter
   count P: kinds, codes, shapes, sizes without overflow, offsets and lengths inside params. */
static int check_layer(const sia_layer *l, int64_t j, const sia_layer *prev, int64_t P) {
    if (l->kind < 0 || l->kind >= SIA_N_LAYER)
        return layer_error(j, l, "kind: expected a code in [0, %d), got %d", SIA_N_LAYER, l->kind);
    if (l->kind != SIA_LAYER_RESHAPE && !sia_layer_ops_f64[l->kind].forward)
        return layer_error(j, l, "this kind of layer is not in this build of the C core");
    if (l->act < 0 || l->act >= SIA_N_ACT)
        return layer_error(j, l, "act: expected a code in [0, %d), got %d", SIA_N_ACT, l->act);
    if (!(isfinite(l->beta) && l->beta > 0))
        return layer_error(j, l, "beta: expected a finite number > 0, got %.17g", l->beta);
    const int64_t dims[10] = {l->in_h, l->in_w, l->in_c, l->out_h, l->out_w, l->out_c, l->kh, l->kw, l->sh, l->sw};
    for (int i = 0; i < 10; i++)
        if (dims[i] < 1 || dims[i] > ((int64_t)1 << 40))
            return layer_error(j, l, "shapes: expected in (h, w, c), out (h, w, c), kernel and "
                               "strides in [1, 2**40], got in (%lld, %lld, %lld), out (%lld, %lld, "
                               "%lld), kernel (%lld, %lld), strides (%lld, %lld)",
                               (long long)l->in_h, (long long)l->in_w, (long long)l->in_c,
                               (long long)l->out_h, (long long)l->out_w, (long long)l->out_c,
                               (long long)l->kh, (long long)l->kw, (long long)l->sh, (long long)l->sw);
    int64_t n_in, n_out, t;
    if (!sia_mul_ok(l->in_h, l->in_w, &t) || !sia_mul_ok(t, l->in_c, &n_in) ||
        !sia_mul_ok(l->out_h, l->out_w, &t) || !sia_mul_ok(t, l->out_c, &n_out) ||
        n_in > ((int64_t)1 << 40) || n_out > ((int64_t)1 << 40))
        return layer_error(j, l, "shapes: a sample's size overflows");
    if (prev && (l->in_h != prev->out_h || l->in_w != prev->out_w || l->in_c != prev->out_c))
        return layer_error(j, l, "expected the input shape (%lld, %lld, %lld) of the layer before "
                           "it, got (%lld, %lld, %lld)", (long long)prev->out_h, (long long)prev->out_w,
                           (long long)prev->out_c, (long long)l->in_h, (long long)l->in_w, (long long)l->in_c);
    const int image = l->kind >= SIA_LAYER_CONV2D && l->kind <= SIA_LAYER_UPSAMPLE;
    if (!image && (l->pad_t != 0 || l->pad_l != 0 || l->kh != 1 || l->kw != 1 || l->sh != 1 || l->sw != 1))
        return layer_error(j, l, "kernel, strides, padding: expected (1, 1), (1, 1), (0, 0) for this "
                           "kind, got (%lld, %lld), (%lld, %lld), (%lld, %lld)", (long long)l->kh,
                           (long long)l->kw, (long long)l->sh, (long long)l->sw, (long long)l->pad_t,
                           (long long)l->pad_l);
    const int flat_in = l->in_h == 1 && l->in_w == 1, flat_out = l->out_h == 1 && l->out_w == 1;
    int64_t want_params = 0;
    switch (l->kind) {
    case SIA_LAYER_DENSE:
    case SIA_LAYER_DENSE_T:
        if (!flat_in || !flat_out)
            return layer_error(j, l, "expected flat (1, 1, n) shapes, got in (%lld, %lld, %lld), "
                               "out (%lld, %lld, %lld)", (long long)l->in_h, (long long)l->in_w,
                               (long long)l->in_c, (long long)l->out_h, (long long)l->out_w, (long long)l->out_c);
        if (l->kind == SIA_LAYER_DENSE_T) want_params = n_out;
        else if (!sia_mul_ok(n_out, n_in + 1, &want_params))
            return layer_error(j, l, "the parameter count overflows");
        break;
    case SIA_LAYER_CONV2D:
    case SIA_LAYER_CONV2D_T:
    case SIA_LAYER_MAXPOOL:
    case SIA_LAYER_AVGPOOL:
    case SIA_LAYER_GAP:
    case SIA_LAYER_UPSAMPLE: { /* conv.c's and pooling.c's geometry (Keras's rules), as their tests' */
        char who[64];
        snprintf(who, sizeof who, "layers[%lld] (%s)", (long long)j, layer_names[l->kind]);
        if (check_image_layer(l, who, 1, &n_in, &n_out, &want_params)) return -1;
        break;
    }
    case SIA_LAYER_RESHAPE:
        if (n_in != n_out)
            return layer_error(j, l, "expected an output of %lld values per sample, as its input, got %lld",
                               (long long)n_in, (long long)n_out);
        break;
    case SIA_LAYER_DROPOUT:
    case SIA_LAYER_GNOISE:
        if (l->out_h != l->in_h || l->out_w != l->in_w || l->out_c != l->in_c)
            return layer_error(j, l, "expected the output shape of its input");
        if (l->kind == SIA_LAYER_DROPOUT ? !(l->rate >= 0 && l->rate < 1) : !(isfinite(l->rate) && l->rate >= 0))
            return layer_error(j, l, "rate: expected %s, got %.17g",
                               l->kind == SIA_LAYER_DROPOUT ? "a rate in [0, 1)" : "a finite σ >= 0", l->rate);
        break;
    case SIA_LAYER_SAMPLE:
        if (!flat_in || !flat_out || l->in_c != 2 * l->out_c)
            return layer_error(j, l, "expected flat shapes, 2k inputs [mu | logvar] and k outputs, got "
                               "in (%lld, %lld, %lld), out (%lld, %lld, %lld)", (long long)l->in_h,
                               (long long)l->in_w, (long long)l->in_c, (long long)l->out_h,
                               (long long)l->out_w, (long long)l->out_c);
        break;
    }
    if ((l->kind == SIA_LAYER_RESHAPE || l->kind == SIA_LAYER_SAMPLE) && l->act != SIA_LINEAR)
        return layer_error(j, l, "act: expected %d (linear), got %d", SIA_LINEAR, l->act);
    if (l->n_params != want_params)
        return layer_error(j, l, "n_params: expected %lld, got %lld", (long long)want_params, (long long)l->n_params);
    if (want_params ? !(l->off >= 0 && l->off <= P - want_params) : l->off != -1)
        return layer_error(j, l, "off: expected %s, got %lld", want_params ? "an offset of its parameters "
                           "inside params" : "-1 (no parameters)", (long long)l->off);
    if (l->kind == SIA_LAYER_DENSE_T ? !(l->tied >= 0 && l->tied <= P - n_in * n_out) : l->tied != -1)
        return layer_error(j, l, "tied: expected %s, got %lld", l->kind == SIA_LAYER_DENSE_T ?
                           "the offset of the W it shares, inside params" : "-1", (long long)l->tied);
    if (l->reg < 0 || l->reg >= SIA_N_REG)
        return layer_error(j, l, "reg: expected a code in [0, %d), got %d", SIA_N_REG, l->reg);
    if (l->reg != SIA_REG_NONE && !(isfinite(l->reg_a) && l->reg_a >= 0))
        return layer_error(j, l, "reg_a: expected a finite number >= 0, got %.17g", l->reg_a);
    if (l->reg == SIA_REG_KL && !(l->reg_b > 0 && l->reg_b < 1))
        return layer_error(j, l, "reg_b: expected a target rho in (0, 1), got %.17g", l->reg_b);
    return 0;
}

/* The records from Python: int64 (L, SIA_REC_INTS) and float64 (L, SIA_REC_REALS) in sia.h's
   column order; then params (P,) and grads (P,) or None. Every record is checked. */
static int get_layers(netrec *s, PyObject *oints, PyObject *oreals, PyObject *params, PyObject *grads) {
    s->layers = NULL;
    PyArrayObject *ints = get_array(oints, "layers", NPY_INT64, 2, 0), *reals = NULL;
    if (!ints || !(reals = get_array(oreals, "layer_reals", NPY_FLOAT64, 2, 0))) return -1;
    s->L = (int64_t)PyArray_DIM(ints, 0);
    if (s->L < 1 || s->L > 100000) {
        PyErr_Format(PyExc_ValueError, "layers: expected 1 to 100000 layers, got %lld", (long long)s->L);
        return -1;
    }
    if (check_dim(ints, "layers", 1, SIA_REC_INTS) || check_dim(reals, "layer_reals", 0, s->L) ||
        check_dim(reals, "layer_reals", 1, SIA_REC_REALS))
        return -1;
    if (get_params_grads(&s->params, &s->grads, &s->is64, params, grads, -1)) return -1;
    s->P = (int64_t)PyArray_DIM(s->params, 0);
    if (!(s->layers = PyMem_Calloc((size_t)s->L, sizeof(sia_layer)))) {
        PyErr_NoMemory();
        return -1;
    }
    const int64_t *ri = PyArray_DATA(ints);
    const double *rd = PyArray_DATA(reals);
    int any = 0;
    for (int64_t j = 0; j < s->L; j++, ri += SIA_REC_INTS, rd += SIA_REC_REALS) {
        sia_layer *l = &s->layers[j];
        int ok = 1;
        for (int c = 0; c < 2; c++) ok &= ri[c] >= INT32_MIN && ri[c] <= INT32_MAX;
        ok &= ri[17] >= INT32_MIN && ri[17] <= INT32_MAX;
        *l = (sia_layer){.kind = ok ? (int32_t)ri[0] : -1, .act = ok ? (int32_t)ri[1] : -1,
                         .beta = rd[0], .in_h = ri[2], .in_w = ri[3], .in_c = ri[4], .out_h = ri[5],
                         .out_w = ri[6], .out_c = ri[7], .kh = ri[8], .kw = ri[9], .sh = ri[10],
                         .sw = ri[11], .pad_t = ri[12], .pad_l = ri[13], .off = ri[14],
                         .n_params = ri[15], .tied = ri[16], .reg = ok ? (int32_t)ri[17] : -1,
                         .rate = rd[1], .reg_a = rd[2], .reg_b = rd[3]};
        if (check_layer(l, j, j ? &s->layers[j - 1] : NULL, s->P)) goto fail;
        any |= l->kind != SIA_LAYER_RESHAPE;
    }
    for (int64_t j = 0; j < s->L; j++) { /* a tied layer's W is a dense layer's, of its shape */
        const sia_layer *l = &s->layers[j];
        if (l->kind != SIA_LAYER_DENSE_T) continue;
        int64_t k = 0;
        while (k < s->L && !(s->layers[k].kind == SIA_LAYER_DENSE && s->layers[k].off == l->tied &&
                             s->layers[k].out_c == l->in_c && s->layers[k].in_c == l->out_c))
            k++;
        if (k == s->L) {
            layer_error(j, l, "tied: expected the offset of a dense layer of %lld inputs and %lld "
                        "outputs, got %lld", (long long)l->out_c, (long long)l->in_c, (long long)l->tied);
            goto fail;
        }
    }
    if (!any) {
        PyErr_SetString(PyExc_ValueError, "layers: expected at least one layer that is not a reshape");
        goto fail;
    }
    s->n_in = sia_layer_n_in(&s->layers[0]);
    s->n_out = sia_layer_n_out(&s->layers[s->L - 1]);
    return 0;
fail:
    net_done(s);
    return -1;
}

/* The records of a dense stack (sizes (L+1,), act, beta), its parameters from `off` on. */
static void dense_records(sia_layer *out, const netspec *s, int64_t off) {
    for (int64_t l = 0; l < s->L; l++) {
        const int64_t n_in = s->sizes[l], n_out = s->sizes[l + 1];
        out[l] = (sia_layer){.kind = SIA_LAYER_DENSE, .act = s->act[l], .beta = s->beta[l],
                             .in_h = 1, .in_w = 1, .in_c = n_in, .out_h = 1, .out_w = 1,
                             .out_c = n_out, .kh = 1, .kw = 1, .sh = 1, .sw = 1, .off = off,
                             .n_params = n_out * (n_in + 1), .tied = -1, .reg = SIA_REG_NONE};
        off += n_out * (n_in + 1);
    }
}

/* A netrec of a dense stack checked by get_net (the entry points of the sizes notation). */
static int net_from_stack(netrec *r, const netspec *s) {
    if (!(r->layers = PyMem_Calloc((size_t)s->L, sizeof(sia_layer)))) {
        PyErr_NoMemory();
        return -1;
    }
    dense_records(r->layers, s, 0);
    *r = (netrec){.layers = r->layers, .L = s->L, .P = s->P, .n_in = s->sizes[0],
                  .n_out = s->sizes[s->L], .params = s->params, .grads = s->grads, .is64 = s->is64};
    return 0;
}

#define NET_INIT(T, r, nt)                                                                 \
    {.L = (r).L, .layers = (r).layers, .params = (T *)PyArray_DATA((r).params),           \
     .grads = (r).grads ? (T *)PyArray_DATA((r).grads) : NULL, .P = (r).P,                \
     .nthreads = clamp_threads(nt)}

/* The per-sample size at position l of the network (0: its input; L: its output). */
static int64_t net_width(const netrec *r, int64_t l) {
    return l < r->L ? sia_layer_n_in(&r->layers[l]) : sia_layer_n_out(&r->layers[r->L - 1]);
}

/* out = layers l0 .. l1-1 of X, deterministically. */
static PyObject *predict_common(netrec *r, PyObject *oout, PyObject *oX, long long l0, long long l1,
                                int nthreads) {
    int status = SIA_OK;
    PyArrayObject *X = NULL, *out = NULL;
    if (!(0 <= l0 && l0 <= l1 && l1 <= r->L)) {
        PyErr_Format(PyExc_ValueError, "l0, l1: expected 0 <= l0 <= l1 <= %lld, got %lld, %lld",
                     (long long)r->L, l0, l1);
        goto done;
    }
    if (!(X = get_matrix(oX, "X", r->params, "params", -1, net_width(r, l0), 0)) ||
        !(out = get_matrix(oout, "out", r->params, "params", PyArray_DIM(X, 0), net_width(r, l1), 1)))
        goto done;
    int64_t n = PyArray_DIM(X, 0);
    Py_BEGIN_ALLOW_THREADS
    if (r->is64) {
        sia_net_f64 net = NET_INIT(double, *r, nthreads);
        status = sia_net_predict_f64(&net, PyArray_DATA(out), PyArray_DATA(X), n, l0, l1);
    } else {
        sia_net_f32 net = NET_INIT(float, *r, nthreads);
        status = sia_net_predict_f32(&net, PyArray_DATA(out), PyArray_DATA(X), n, l0, l1);
    }
    Py_END_ALLOW_THREADS
    if (raise_status(status)) out = NULL;
done:
    net_done(r);
    if (!out) return NULL;
    Py_RETURN_NONE;
}

/* predict(sizes, act, beta, params, out, X, l0, l1[, nthreads]): out = layers l0+1..l1 of X. */
static PyObject *py_predict(PyObject *self, PyObject *args) {
    PyObject *osizes, *oact, *obeta, *oparams, *oout, *oX;
    long long l0, l1;
    int nthreads = 1;
    if (!PyArg_ParseTuple(args, "OOOOOOLL|i", &osizes, &oact, &obeta, &oparams, &oout, &oX, &l0, &l1, &nthreads))
        return NULL;
    netspec s;
    netrec r;
    if (get_net(&s, osizes, oact, obeta, oparams, NULL) || net_from_stack(&r, &s)) return NULL;
    return predict_common(&r, oout, oX, l0, l1, nthreads);
}

/* net_predict(layers, layer_reals, params, out, X, l0, l1[, nthreads]): out = layers l0 .. l1-1
   of X (n, their input), deterministically (Dropout and GaussianNoise off, SAMPLE gives μ). */
static PyObject *py_net_predict(PyObject *self, PyObject *args) {
    PyObject *oints, *oreals, *oparams, *oout, *oX;
    long long l0, l1;
    int nthreads = 1;
    if (!PyArg_ParseTuple(args, "OOOOOLL|i", &oints, &oreals, &oparams, &oout, &oX, &l0, &l1, &nthreads))
        return NULL;
    netrec r;
    if (get_layers(&r, oints, oreals, oparams, NULL)) return NULL;
    return predict_common(&r, oout, oX, l0, l1, nthreads);
}

/* The loss terms of X -> Y as one batch (noise: None or the stochastic layers' numbers). */
static int loss_grad_common(netrec *r, double out[4], PyObject *oX, PyObject *oY, PyObject *onoise,
                            int loss, double kl_weight, int nthreads) {
    int status = SIA_OK, ret = -1;
    PyArrayObject *X, *Y, *noise = NULL;
    if (!(X = get_matrix(oX, "X", r->params, "params", -1, r->n_in, 0)) ||
        !(Y = get_matrix(oY, "Y", r->params, "params", PyArray_DIM(X, 0), r->n_out, 0)) ||
        check_kind(loss, SIA_N_LOSS, "loss"))
        goto done;
    int64_t n = PyArray_DIM(X, 0), cols = 0;
    for (int64_t j = 0; j < r->L; j++) cols += sia_layer_n_noise(&r->layers[j]);
    if (onoise && onoise != Py_None) {
        if (!(noise = get_array(onoise, "noise", PyArray_TYPE(r->params), 1, 0)) ||
            check_dim(noise, "noise", 0, n * cols))
            goto done;
    }
    if (!isfinite(kl_weight) || kl_weight < 0) {
        char b[32];
        PyErr_Format(PyExc_ValueError, "kl_weight: expected a finite number >= 0, got %s", fmt_g(b, kl_weight));
        goto done;
    }
    const void *pn = noise ? PyArray_DATA(noise) : NULL;
    Py_BEGIN_ALLOW_THREADS
    if (r->is64) {
        sia_net_f64 net = NET_INIT(double, *r, nthreads);
        status = sia_net_loss_grad_f64(&net, out, PyArray_DATA(X), PyArray_DATA(Y), pn, n, loss, kl_weight);
    } else {
        sia_net_f32 net = NET_INIT(float, *r, nthreads);
        status = sia_net_loss_grad_f32(&net, out, PyArray_DATA(X), PyArray_DATA(Y), pn, n, loss, kl_weight);
    }
    Py_END_ALLOW_THREADS
    ret = raise_status(status);
done:
    net_done(r);
    return ret;
}

/* loss_grad(sizes, act, beta, params, grads, X, Y, loss[, nthreads]) -> loss; grads += dL/dparams
   (grads None: the loss only). */
static PyObject *py_loss_grad(PyObject *self, PyObject *args) {
    PyObject *osizes, *oact, *obeta, *oparams, *ograds, *oX, *oY;
    int loss, nthreads = 1;
    double out[4] = {0, 0, 0, 0};
    if (!PyArg_ParseTuple(args, "OOOOOOOi|i", &osizes, &oact, &obeta, &oparams, &ograds, &oX, &oY, &loss, &nthreads))
        return NULL;
    netspec s;
    netrec r;
    if (get_net(&s, osizes, oact, obeta, oparams, ograds) || net_from_stack(&r, &s) ||
        loss_grad_common(&r, out, oX, oY, NULL, loss, 0, nthreads))
        return NULL;
    return PyFloat_FromDouble(out[0]);
}

/* net_loss_grad(layers, layer_reals, params, grads, X, Y, noise, loss, kl_weight[, nthreads])
   -> (loss, reconstruction, kl, penalties); grads += the gradient of the loss (grads None: the
   terms only). noise: None (the deterministic forward) or the stochastic layers' numbers for
   the n rows, layer after layer, each (n, its count per sample), flat, in params' dtype. */
static PyObject *py_net_loss_grad(PyObject *self, PyObject *args) {
    PyObject *oints, *oreals, *oparams, *ograds, *oX, *oY, *onoise;
    int loss, nthreads = 1;
    double w, out[4] = {0, 0, 0, 0};
    if (!PyArg_ParseTuple(args, "OOOOOOOid|i", &oints, &oreals, &oparams, &ograds, &oX, &oY, &onoise,
                          &loss, &w, &nthreads))
        return NULL;
    netrec r;
    if (get_layers(&r, oints, oreals, oparams, ograds) ||
        loss_grad_common(&r, out, oX, oY, onoise, loss, w, nthreads))
        return NULL;
    return Py_BuildValue("dddd", out[0], out[1], out[2], out[3]);
}

/* pixel_errors(errs int64 (n,), Y, T) */
static PyObject *py_pixel_errors(PyObject *self, PyObject *args) {
    PyObject *oerrs, *oY, *oT;
    if (!PyArg_ParseTuple(args, "OOO", &oerrs, &oY, &oT)) return NULL;
    PyArrayObject *Y = get_array(oY, "Y", NPY_NOTYPE, 2, 0), *T, *errs;
    if (!Y || !(T = get_like(oT, "T", Y, 0)) || !(errs = get_array(oerrs, "errs", NPY_INT64, 1, 1)) ||
        check_dim(errs, "errs", 0, PyArray_DIM(Y, 0)))
        return NULL;
    int64_t n = PyArray_DIM(Y, 0), d = PyArray_DIM(Y, 1);
    if (PyArray_TYPE(Y) == NPY_FLOAT64) sia_pixel_errors_f64(PyArray_DATA(errs), PyArray_DATA(Y), PyArray_DATA(T), n, d);
    else sia_pixel_errors_f32(PyArray_DATA(errs), PyArray_DATA(Y), PyArray_DATA(T), n, d);
    Py_RETURN_NONE;
}

/* Everything sia_train needs, for run_in_slices. */
typedef struct {
    sia_net_f64 net64;
    sia_net_f32 net32;
    sia_trainer_f64 tr64;
    sia_trainer_f32 tr32;
    sia_train_state st;
    double *rec[4];             /* total, reconstruction, KL and penalties per epoch (1.. may be NULL) */
    const double *weights;      /* the KL weight of each epoch, or NULL */
    void *X, *Y, *m, *v;
    int64_t n;
    const sia_train_cfg *cfg;
    sia_optim *opt;
    sia_rng *rng;
    int is64;
} train_call;

static int train_slice(void *ctx, int64_t deadline) {
    train_call *c = ctx;
    return c->is64 ? sia_train_f64(&c->net64, &c->tr64, &c->st, c->rec, c->weights, c->X, c->Y,
                                   c->n, c->cfg, c->opt, c->m, c->v, c->rng, deadline)
                   : sia_train_f32(&c->net32, &c->tr32, &c->st, c->rec, c->weights, c->X, c->Y,
                                   c->n, c->cfg, c->opt, c->m, c->v, c->rng, deadline);
}

static int check_kl_weight(double w, const char *name) {
    if (isfinite(w) && w >= 0) return 0;
    char b[32];
    PyErr_Format(PyExc_ValueError, "%s: expected a finite number >= 0, got %s", name, fmt_g(b, w));
    return -1;
}


/* The training keywords, shared by train() and net_train(). */
typedef struct {
    int loss, shuffle, kind, noise, nthreads;
    long long batch, epochs, max_wrong;
    double lr, momentum, beta1, beta2, eps, loss_tol, level, rho, weight_decay;
} train_kw;

/* One training run of the network r: checks the run's arrays and settings, releases the GIL
   and trains; recs[0] is required, recs[1..3] and kl_weights may be None. Frees r. */
static PyObject *train_common(netrec *r, PyObject *oX, PyObject *oY, PyObject *om, PyObject *ov,
                              PyObject *ot, PyObject *orng, PyObject *const orec[4], PyObject *okw,
                              const train_kw *k) {
    static const char *recnames[] = {"losses", "recons", "kls", "regs"};
    PyObject *result = NULL;
    PyArrayObject *X, *Y, *m, *v, *t, *rec[4] = {NULL, NULL, NULL, NULL}, *kw = NULL;
    if (!r->grads) {
        PyErr_SetString(PyExc_TypeError, "grads: expected an array, got None");
        goto done;
    }
    if (!(X = get_matrix(oX, "X", r->params, "params", -1, r->n_in, 0))) goto done;
    int64_t n = PyArray_DIM(X, 0);
    if (!(Y = get_matrix(oY, "Y", r->params, "params", n, r->n_out, 0))) goto done;
    if (!(m = get_like(om, "m", r->params, 1)) || !(v = get_like(ov, "v", r->params, 1))) goto done;
    if (!(t = get_array(ot, "t", NPY_INT64, 1, 1)) || check_dim(t, "t", 0, 1)) goto done;
    sia_rng *rng = get_rng(orng);
    if (!rng) goto done;
    for (int i = 0; i < 4; i++)
        if ((i == 0 || (orec[i] && orec[i] != Py_None)) &&
            !(rec[i] = get_array(orec[i], recnames[i], NPY_FLOAT64, 1, 1)))
            goto done;
    if (okw && okw != Py_None && !(kw = get_array(okw, "kl_weights", NPY_FLOAT64, 1, 0))) goto done;
    sia_optim opt;
    if (get_optim(&opt, k->kind, k->lr, k->momentum, k->beta1, k->beta2, k->eps, k->rho,
                  k->weight_decay, *(int64_t *)PyArray_DATA(t)) ||
        (PyArray_TYPE(r->params) == NPY_FLOAT32 && check_optim_f32(&opt)))
        goto done;
    if (check_kind(k->loss, SIA_N_LOSS, "loss") || check_kind(k->noise, SIA_N_NOISE, "noise")) goto done;
    if (k->batch < 1 || k->batch > n) {
        PyErr_Format(PyExc_ValueError, "batch: expected a batch size in [1, %lld], got %lld", (long long)n, k->batch);
        goto done;
    }
    for (int i = 0; i < 4; i++)
        if (rec[i] && (k->epochs < 0 || k->epochs > PyArray_DIM(rec[i], 0))) {
            PyErr_Format(PyExc_ValueError, "epochs: expected 0 <= epochs <= len(%s) = %lld, got %lld",
                         recnames[i], (long long)PyArray_DIM(rec[i], 0), k->epochs);
            goto done;
        }
    const double *weights = kw ? PyArray_DATA(kw) : NULL;
    if (kw && k->epochs > PyArray_DIM(kw, 0)) {
        PyErr_Format(PyExc_ValueError, "kl_weights: expected at least %lld weights (one per epoch), got %lld",
                     k->epochs, (long long)PyArray_DIM(kw, 0));
        goto done;
    }
    for (long long e = 0; kw && e < k->epochs; e++) {
        char name[48];
        snprintf(name, sizeof name, "kl_weights[%lld]", e);
        if (check_kl_weight(weights[e], name)) goto done;
    }
    if (!(isfinite(k->level) && k->level >= 0) || !isfinite(k->loss_tol)) {
        char b1[32], b2[32];
        PyErr_Format(PyExc_ValueError, "noise_level, loss_tol: expected finite values, got %s, %s",
                     fmt_g(b1, k->level), fmt_g(b2, k->loss_tol));
        goto done;
    }
    sia_train_cfg cfg = {.loss = k->loss, .batch = k->batch, .shuffle = k->shuffle, .epochs = k->epochs,
                         .loss_tol = k->loss_tol, .max_wrong = k->max_wrong, .noise = k->noise,
                         .noise_level = k->level, .kl_weight = 1};
    train_call c = {.st = {0}, .n = n, .cfg = &cfg, .opt = &opt, .is64 = r->is64,
                    .net64 = NET_INIT(double, *r, k->nthreads), .net32 = NET_INIT(float, *r, k->nthreads),
                    .weights = weights, .X = PyArray_DATA(X), .Y = PyArray_DATA(Y),
                    .m = PyArray_DATA(m), .v = PyArray_DATA(v), .rng = rng};
    for (int i = 0; i < 4; i++) c.rec[i] = rec[i] ? PyArray_DATA(rec[i]) : NULL;
    int status = r->is64 ? sia_trainer_alloc_f64(&c.tr64, &c.net64, n, k->batch)
                         : sia_trainer_alloc_f32(&c.tr32, &c.net32, n, k->batch);
    if (raise_status(status)) goto done;
    status = run_in_slices(train_slice, &c);
    if (r->is64) sia_trainer_free_f64(&c.tr64);
    else sia_trainer_free_f32(&c.tr32);
    *(int64_t *)PyArray_DATA(t) = opt.t;
    if (status >= 0)
        result = Py_BuildValue("Li", (long long)c.st.epoch,
                               status == SIA_EDIVERGED ? 2 : (c.st.stopped ? 1 : 0));
done:
    net_done(r);
    return result;
}

#define TRAIN_KWLIST "loss", "batch", "shuffle", "epochs", "optimizer", "lr", "momentum", "beta1", \
                     "beta2", "eps", "loss_tol", "max_wrong", "noise", "noise_level", "nthreads", \
                     "rho", "weight_decay"
#define TRAIN_FMT "|iLpLiddddddLididd"
#define TRAIN_PTRS(k) &(k).loss, &(k).batch, &(k).shuffle, &(k).epochs, &(k).kind, &(k).lr,      \
                      &(k).momentum, &(k).beta1, &(k).beta2, &(k).eps, &(k).loss_tol,             \
                      &(k).max_wrong, &(k).noise, &(k).level, &(k).nthreads, &(k).rho,      \
                      &(k).weight_decay
#define TRAIN_DEFAULTS {.loss = SIA_MSE, .shuffle = 1, .kind = SIA_ADAM, .noise = SIA_NOISE_NONE,  \
                        .nthreads = 1, .batch = 32, .epochs = 1, .max_wrong = -1, .lr = 1e-3,     \
                        .momentum = 0.9, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .rho = 0.9}

/* train(sizes, act, beta, params, grads, X, Y, m, v, t, rng_state, losses, **cfg)
 *   -> (epochs_done, status) with status 0 done, 1 stopped by a condition, 2 diverged.
 * t (int64 (1,)) and rng_state (uint64 (4,)) are updated in place; losses (float64, >= epochs)
 * receives each completed epoch's loss, so that a KeyboardInterrupt loses nothing. */
static PyObject *py_train(PyObject *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"sizes", "act", "beta", "params", "grads", "X", "Y", "m", "v", "t",
                             "rng_state", "losses", TRAIN_KWLIST, NULL};
    PyObject *osizes, *oact, *obeta, *oparams, *ograds, *oX, *oY, *om, *ov, *ot, *orng, *orec[4] = {NULL};
    train_kw k = TRAIN_DEFAULTS;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOOOOOOOOOOO" TRAIN_FMT, kwlist, &osizes,
                                     &oact, &obeta, &oparams, &ograds, &oX, &oY, &om, &ov, &ot, &orng,
                                     &orec[0], TRAIN_PTRS(k)))
        return NULL;
    netspec s;
    netrec r;
    if (get_net(&s, osizes, oact, obeta, oparams, ograds) || net_from_stack(&r, &s)) return NULL;
    return train_common(&r, oX, oY, om, ov, ot, orng, orec, NULL, &k);
}

/* net_train(layers, layer_reals, params, grads, X, Y, m, v, t, rng_state, losses, recons, kls,
 *           regs, kl_weights, **cfg) -> (epochs_done, status)
 * As train(), for any network of layer records. recons, kls, regs (float64, >= epochs, or None)
 * receive each completed epoch's mean reconstruction loss, KL and activity penalties;
 * kl_weights (float64, >= epochs, or None: 1) the KL weight of each epoch of this call. */
static PyObject *py_net_train(PyObject *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"layers", "layer_reals", "params", "grads", "X", "Y", "m", "v", "t",
                             "rng_state", "losses", "recons", "kls", "regs", "kl_weights",
                             TRAIN_KWLIST, NULL};
    PyObject *oints, *oreals, *oparams, *ograds, *oX, *oY, *om, *ov, *ot, *orng, *orec[4], *okw;
    train_kw k = TRAIN_DEFAULTS;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOOOOOOOOOOOOOO" TRAIN_FMT, kwlist, &oints,
                                     &oreals, &oparams, &ograds, &oX, &oY, &om, &ov, &ot, &orng,
                                     &orec[0], &orec[1], &orec[2], &orec[3], &okw, TRAIN_PTRS(k)))
        return NULL;
    netrec r;
    if (get_layers(&r, oints, oreals, oparams, ograds)) return NULL;
    return train_common(&r, oX, oY, om, ov, ot, orng, orec, okw, &k);
}

/* ---- the latent kernels of the variational autoencoder (vae.c) ----
 * h (B, 2k) holds rows [μ | logvar]. */

/* h (B, 2k) and a (B, k) partner of the same dtype; returns k or -1. */
static int64_t get_latent_pair(PyArrayObject **h, PyArrayObject **x, PyObject *oh, PyObject *ox,
                               const char *xname, int x_writeable) {
    *h = get_array(oh, "h", NPY_NOTYPE, 2, 0);
    if (!*h) return -1;
    if (PyArray_DIM(*h, 1) % 2) {
        PyErr_Format(PyExc_ValueError, "h: expected an even number of columns ([mu | logvar]), got %lld",
                     (long long)PyArray_DIM(*h, 1));
        return -1;
    }
    int64_t k = PyArray_DIM(*h, 1) / 2;
    *x = get_matrix(ox, xname, *h, "h", PyArray_DIM(*h, 0), k, x_writeable);
    return *x ? k : -1;
}

/* reparam_forward(z, h, eps): z = μ + exp(½ logvar) ε. */
static PyObject *py_reparam_forward(PyObject *self, PyObject *args) {
    PyObject *oz, *oh, *oeps;
    if (!PyArg_ParseTuple(args, "OOO", &oz, &oh, &oeps)) return NULL;
    PyArrayObject *h, *eps, *z;
    int64_t k = get_latent_pair(&h, &eps, oh, oeps, "eps", 0);
    if (k < 0 || !(z = get_like(oz, "z", eps, 1))) return NULL;
    int64_t B = PyArray_DIM(h, 0);
    Py_BEGIN_ALLOW_THREADS
    if (PyArray_TYPE(h) == NPY_FLOAT64) sia_reparam_forward_f64(PyArray_DATA(z), PyArray_DATA(h), PyArray_DATA(eps), B, k);
    else sia_reparam_forward_f32(PyArray_DATA(z), PyArray_DATA(h), PyArray_DATA(eps), B, k);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

/* reparam_backward(dh, dz, h, eps): dh += dL/dh. */
static PyObject *py_reparam_backward(PyObject *self, PyObject *args) {
    PyObject *odh, *odz, *oh, *oeps;
    if (!PyArg_ParseTuple(args, "OOOO", &odh, &odz, &oh, &oeps)) return NULL;
    PyArrayObject *h, *eps, *dz, *dh;
    int64_t k = get_latent_pair(&h, &eps, oh, oeps, "eps", 0);
    if (k < 0 || !(dz = get_like(odz, "dz", eps, 0)) || !(dh = get_like(odh, "dh", h, 1))) return NULL;
    int64_t B = PyArray_DIM(h, 0);
    Py_BEGIN_ALLOW_THREADS
    if (PyArray_TYPE(h) == NPY_FLOAT64) sia_reparam_backward_f64(PyArray_DATA(dh), PyArray_DATA(dz), PyArray_DATA(h), PyArray_DATA(eps), B, k);
    else sia_reparam_backward_f32(PyArray_DATA(dh), PyArray_DATA(dz), PyArray_DATA(h), PyArray_DATA(eps), B, k);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

/* kl_forward(h) -> float;  kl_backward(dh, h, weight): dh += weight · dKL/dh. */
static PyObject *kl_common(PyObject *args, int backward) {
    PyObject *odh = NULL, *oh;
    double weight = 1, value = 0;
    int ok = backward ? PyArg_ParseTuple(args, "OOd", &odh, &oh, &weight) : PyArg_ParseTuple(args, "O", &oh);
    if (!ok) return NULL;
    PyArrayObject *h = get_array(oh, "h", NPY_NOTYPE, 2, 0), *dh = NULL;
    if (!h || (backward && !(dh = get_like(odh, "dh", h, 1)))) return NULL;
    if (PyArray_DIM(h, 1) % 2) {
        PyErr_Format(PyExc_ValueError, "h: expected an even number of columns ([mu | logvar]), got %lld",
                     (long long)PyArray_DIM(h, 1));
        return NULL;
    }
    if (!isfinite(weight)) {
        char b[32];
        PyErr_Format(PyExc_ValueError, "weight: expected a finite number, got %s", fmt_g(b, weight));
        return NULL;
    }
    int64_t B = PyArray_DIM(h, 0), k = PyArray_DIM(h, 1) / 2;
    int is64 = PyArray_TYPE(h) == NPY_FLOAT64;
    Py_BEGIN_ALLOW_THREADS
    if (backward && is64) sia_kl_backward_f64(PyArray_DATA(dh), PyArray_DATA(h), B, k, weight);
    else if (backward) sia_kl_backward_f32(PyArray_DATA(dh), PyArray_DATA(h), B, k, weight);
    else if (is64) value = sia_kl_forward_f64(PyArray_DATA(h), B, k);
    else value = sia_kl_forward_f32(PyArray_DATA(h), B, k);
    Py_END_ALLOW_THREADS
    if (backward) Py_RETURN_NONE;
    return PyFloat_FromDouble(value);
}
static PyObject *py_kl_forward(PyObject *self, PyObject *args) { return kl_common(args, 0); }
static PyObject *py_kl_backward(PyObject *self, PyObject *args) { return kl_common(args, 1); }

/* _set_slice_ns(ns) -> the previous value: how long a training call runs before it pauses to
 * check for Ctrl-C (>= 1 ns; 1 pauses at every check, between steps and between a step's
 * chunks). For the tests: a pause must not change any result. */
static PyObject *py_set_slice_ns(PyObject *self, PyObject *args) {
    long long ns;
    if (!PyArg_ParseTuple(args, "L", &ns)) return NULL;
    if (ns < 1) {
        PyErr_Format(PyExc_ValueError, "ns: expected a duration >= 1, got %lld", ns);
        return NULL;
    }
    long long old = (long long)slice_ns;
    slice_ns = (int64_t)ns;
    return PyLong_FromLongLong(old);
}

/* The vector path of the matrix product (sia.h, simd.c). */
static PyObject *py_simd_path(PyObject *self, PyObject *args) {
    return PyUnicode_FromString(sia_simd_name(sia_simd));
}

static PyObject *py_set_simd_path(PyObject *self, PyObject *args) {
    const char *name;
    if (!PyArg_ParseTuple(args, "s", &name)) return NULL;
    const int path = sia_simd_parse(name), widest = sia_simd_widest();
    if (path < 0) {
        PyErr_Format(PyExc_ValueError, "path: expected 'avx512', 'avx2' or 'baseline', got '%s'", name);
        return NULL;
    }
    if (path > widest) {
        PyErr_Format(PyExc_ValueError, "path: this CPU runs up to '%s', got '%s'", sia_simd_name(widest), name);
        return NULL;
    }
    PyObject *old = PyUnicode_FromString(sia_simd_name(sia_simd));
    sia_simd = path;
    return old;
}

/* _conv_vector_bits() -> 512 or 256: the vector width of conv.c's panel micro-kernels on the
   current path (sia.h); the tests check that SIA_SIMD narrows them. */
static PyObject *py_conv_vector_bits(PyObject *self, PyObject *args) {
    return PyLong_FromLong(8L * sia_simd_conv_bytes());
}

/* _set_winograd(on) -> the previous setting: whether 3 × 3 stride-1 Conv2D layers, 3 × 3
   stride-2 Conv2DTranspose forwards and the dW of 3 × 3 stride-2 layers go by Winograd where
   their shapes suit it (sia.h); the tests compare both paths. */
static PyObject *py_set_winograd(PyObject *self, PyObject *args) {
    int on;
    if (!PyArg_ParseTuple(args, "p", &on)) return NULL;
    const int old = sia_winograd;
    sia_winograd = on;
    return PyBool_FromLong(old);
}

/* At import: the widest path the CPU runs, or SIA_SIMD's if narrower (a wider one, or a name
   that is none of the three, warns and keeps the widest). */
static int simd_from_env(void) {
    const int widest = sia_simd_widest();
    sia_simd = widest;
    const char *env = getenv("SIA_SIMD");
    if (!env || !*env) return 0;
    const int path = sia_simd_parse(env);
    if (path < 0)
        return PyErr_WarnFormat(PyExc_RuntimeWarning, 1, "SIA_SIMD: expected 'avx512', 'avx2' or "
                                "'baseline', got '%s'; using '%s'", env, sia_simd_name(widest));
    if (path > widest)
        return PyErr_WarnFormat(PyExc_RuntimeWarning, 1, "SIA_SIMD: this CPU runs up to '%s', got "
                                "'%s'; using '%s'", sia_simd_name(widest), env, sia_simd_name(widest));
    sia_simd = path;
    return 0;
}

static PyMethodDef methods[] = {
    {"simd_path", py_simd_path, METH_NOARGS, "simd_path() -> 'avx512', 'avx2' or 'baseline': the matrix product's vector path"},
    {"_set_simd_path", py_set_simd_path, METH_VARARGS, "_set_simd_path(name) -> previous (tests only)"},
    {"_conv_vector_bits", py_conv_vector_bits, METH_NOARGS, "_conv_vector_bits() -> 512 or 256 (tests only)"},
    {"_set_winograd", py_set_winograd, METH_VARARGS, "_set_winograd(on) -> previous (tests only)"},
    {"_set_slice_ns", py_set_slice_ns, METH_VARARGS, "_set_slice_ns(ns) -> previous (tests only)"},
    {"gemm", py_gemm, METH_VARARGS, "gemm(C, A, B, transA, transB, accumulate[, nthreads])"},
    {"dense_forward", py_dense_forward, METH_VARARGS, "dense_forward(out, inp, W, b)"},
    {"dense_backward", py_dense_backward, METH_VARARGS, "dense_backward(dinp|None, dW, db, dout, inp, W)"},
    {"act_forward", py_act_forward, METH_VARARGS, "act_forward(out, inp, kind, beta)"},
    {"act_backward", py_act_backward, METH_VARARGS, "act_backward(dinp, dout, out, kind, beta)"},
    {"loss_forward", py_loss_forward, METH_VARARGS, "loss_forward(z, y, t, loss, kind, beta) -> float"},
    {"loss_backward", py_loss_backward, METH_VARARGS, "loss_backward(dz, z, y, t, loss, kind, beta)"},
    {"optim_step", py_optim_step, METH_VARARGS, "optim_step(p, m, v, g, kind, lr, momentum, beta1, beta2, eps, t[, rho, weight_decay]) -> t + 1, or t when refused"},
    {"rng_seed", py_rng_seed, METH_VARARGS, "rng_seed(state, seed)"},
    {"rng_uniform", py_rng_uniform, METH_VARARGS, "rng_uniform(out, state)"},
    {"rng_normal", py_rng_normal, METH_VARARGS, "rng_normal(out, state)"},
    {"noise_apply", py_noise_apply, METH_VARARGS, "noise_apply(x, kind, level, state)"},
    {"layer_forward", py_layer_forward, METH_VARARGS, "layer_forward(kind, geom, z, inp, W|None[, nthreads])"},
    {"layer_backward", py_layer_backward, METH_VARARGS, "layer_backward(kind, geom, dinp|None, dW|None, dz, inp, W|None, accumulate[, nthreads[, relu_below]]) -> whether the ReLU of the layer below was folded into dinp"},
    {"predict", py_predict, METH_VARARGS, "predict(sizes, act, beta, params, out, X, l0, l1[, nthreads])"},
    {"loss_grad", py_loss_grad, METH_VARARGS, "loss_grad(sizes, act, beta, params, grads, X, Y, loss[, nthreads]) -> loss"},
    {"pixel_errors", py_pixel_errors, METH_VARARGS, "pixel_errors(errs, Y, T)"},
    {"train", (PyCFunction)(void (*)(void))py_train, METH_VARARGS | METH_KEYWORDS, "train(...) -> (epochs_done, status)"},
    {"reparam_forward", py_reparam_forward, METH_VARARGS, "reparam_forward(z, h, eps)"},
    {"reparam_backward", py_reparam_backward, METH_VARARGS, "reparam_backward(dh, dz, h, eps)"},
    {"kl_forward", py_kl_forward, METH_VARARGS, "kl_forward(h) -> float"},
    {"kl_backward", py_kl_backward, METH_VARARGS, "kl_backward(dh, h, weight)"},
    {"net_predict", py_net_predict, METH_VARARGS, "net_predict(layers, layer_reals, params, out, X, l0, l1[, nthreads])"},
    {"net_loss_grad", py_net_loss_grad, METH_VARARGS, "net_loss_grad(layers, layer_reals, params, grads, X, Y, noise, loss, kl_weight[, nthreads]) -> (loss, recon, kl, reg)"},
    {"net_train", (PyCFunction)(void (*)(void))py_net_train, METH_VARARGS | METH_KEYWORDS, "net_train(...) -> (epochs_done, status)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef moduledef = {PyModuleDef_HEAD_INIT, "_core",
                                       "The sia_autoencoder C core. Private: use the Python API.",
                                       -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__core(void) {
    import_array();
    PyObject *mod = PyModule_Create(&moduledef);
    if (!mod) return NULL;
    if (simd_from_env() < 0) {
        Py_DECREF(mod);
        return NULL;
    }
    const struct { const char *name; int value; } consts[] = {
        {"LINEAR", SIA_LINEAR}, {"LOGISTIC", SIA_LOGISTIC}, {"TANH", SIA_TANH}, {"RELU", SIA_RELU},
        {"ELU", SIA_ELU}, {"SELU", SIA_SELU},
        {"MSE", SIA_MSE}, {"BCE", SIA_BCE}, {"MAE", SIA_MAE}, {"LOSS_MEAN", SIA_LOSS_MEAN},
        {"GD", SIA_GD}, {"MOMENTUM", SIA_MOMENTUM},
        {"ADAM", SIA_ADAM}, {"RMSPROP", SIA_RMSPROP}, {"NADAM", SIA_NADAM}, {"ADADELTA", SIA_ADADELTA},
        {"ADAMW", SIA_ADAMW}, {"NOISE_NONE", SIA_NOISE_NONE}, {"NOISE_SALT_PEPPER", SIA_NOISE_SALT_PEPPER},
        {"NOISE_BIT_FLIP", SIA_NOISE_BIT_FLIP}, {"NOISE_GAUSSIAN", SIA_NOISE_GAUSSIAN},
        {"LAYER_DENSE", SIA_LAYER_DENSE}, {"LAYER_DENSE_T", SIA_LAYER_DENSE_T},
        {"LAYER_CONV2D", SIA_LAYER_CONV2D}, {"LAYER_CONV2D_T", SIA_LAYER_CONV2D_T},
        {"LAYER_MAXPOOL", SIA_LAYER_MAXPOOL}, {"LAYER_AVGPOOL", SIA_LAYER_AVGPOOL},
        {"LAYER_GAP", SIA_LAYER_GAP}, {"LAYER_UPSAMPLE", SIA_LAYER_UPSAMPLE},
        {"LAYER_RESHAPE", SIA_LAYER_RESHAPE}, {"LAYER_DROPOUT", SIA_LAYER_DROPOUT},
        {"LAYER_GNOISE", SIA_LAYER_GNOISE}, {"LAYER_SAMPLE", SIA_LAYER_SAMPLE},
        {"N_LAYER", SIA_N_LAYER}, {"REG_NONE", SIA_REG_NONE}, {"REG_L1", SIA_REG_L1},
        {"REG_L2", SIA_REG_L2}, {"REG_KL", SIA_REG_KL}, {"REC_INTS", SIA_REC_INTS},
        {"REC_REALS", SIA_REC_REALS},
    };
    for (size_t i = 0; i < sizeof consts / sizeof consts[0]; i++)
        if (PyModule_AddIntConstant(mod, consts[i].name, consts[i].value) < 0) {
            Py_DECREF(mod);
            return NULL;
        }
    return mod;
}
