/* pool.c: a small persistent thread pool for gemm.c, in plain pthreads (not templated).
 *
 * Why not an OpenMP parallel region: its closing barrier waits for every thread of the team.
 * On a machine whose other cores are busy, a worker that the OS has not scheduled yet holds the
 * caller for a whole time slice (milliseconds), which made 2 threads 5-15× slower than 1.
 * Here a run is a list of tasks claimed one at a time from a shared counter: the caller claims
 * tasks too, and when it has taken the last one it waits only for the tasks that workers have
 * actually started. A worker that never got the CPU costs nothing.
 *
 * One run at a time: a caller that finds the pool in use (another Python thread) runs its
 * tasks alone. Workers spin for POOL_SPIN_NS after each run, then sleep on a condition
 * variable. fork(): the child has none of the workers, so an atfork handler resets the pool
 * and the child starts its own on first use (libgomp has no such reset and can hang there).
 *
 * The claim word holds the run's generation (high bits) and the next task (low POOL_TASK_BITS),
 * so a worker late from an older run can never claim a task of a newer one. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <time.h>
#include "sia.h"

#define POOL_MAX_WORKERS 63
#define POOL_TASK_BITS 24
#define POOL_SPIN_NS 50000

_Thread_local sia_shared_buffer sia_gemm_shared __attribute__((aligned(64)));

static struct {
    pthread_mutex_t busy;                 /* held by the caller that owns the current run */
    pthread_mutex_t lock;                 /* with wake: sleeping workers */
    pthread_cond_t wake;
    int started;                          /* workers created so far */
    _Atomic uint64_t claim;               /* generation << POOL_TASK_BITS | next task */
    _Atomic int64_t done;                 /* tasks of the current run finished */
    _Atomic int64_t n;                    /* tasks of the current run */
    _Atomic int want;                     /* workers 0 .. want-1 take part in the current run */
    _Atomic int sleepers;
    void (*task)(void *ctx, int64_t i);
    void *ctx;
} pool = {.busy = PTHREAD_MUTEX_INITIALIZER, .lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER};

static uint64_t pool_gen(uint64_t w) { return w >> POOL_TASK_BITS; }

static void pool_pause(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* Claim and run tasks of generation gen until none is left. */
static void pool_work(uint64_t gen) {
    for (;;) {
        uint64_t w = atomic_load(&pool.claim);
        if (pool_gen(w) != gen) return;
        const int64_t i = (int64_t)(w & ((1u << POOL_TASK_BITS) - 1));
        if (i >= atomic_load(&pool.n)) return;
        if (!atomic_compare_exchange_weak(&pool.claim, &w, w + 1)) continue;
        /* task i of gen is ours: the caller waits for it, so task and ctx stay valid */
        pool.task(pool.ctx, i);
        atomic_fetch_add(&pool.done, 1);
    }
}

static void *pool_worker(void *arg) {
    const int me = (int)(intptr_t)arg;
    uint64_t seen = pool_gen(atomic_load(&pool.claim));
    for (;;) {
        uint64_t w = atomic_load(&pool.claim);
        if (pool_gen(w) == seen) {
            const int64_t until = sia_now_ns() + POOL_SPIN_NS;
            for (int spin = 1; pool_gen(atomic_load(&pool.claim)) == seen; spin++) {
                pool_pause();
                if (spin % 64 == 0 && sia_now_ns() > until) {
                    pthread_mutex_lock(&pool.lock);
                    atomic_fetch_add(&pool.sleepers, 1);
                    while (pool_gen(atomic_load(&pool.claim)) == seen) pthread_cond_wait(&pool.wake, &pool.lock);
                    atomic_fetch_sub(&pool.sleepers, 1);
                    pthread_mutex_unlock(&pool.lock);
                    break;
                }
            }
            continue;
        }
        seen = pool_gen(w);
        if (me < atomic_load(&pool.want)) pool_work(seen);
    }
    return NULL;
}

static void pool_atfork_child(void) {
    pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t c = PTHREAD_COND_INITIALIZER;
    pool.busy = m;
    pool.lock = m;
    pool.wake = c;
    pool.started = 0;
    atomic_store(&pool.sleepers, 0);
}

/* Workers 0 .. k-1 exist (called with busy held); returns how many do. */
static int pool_start(int k) {
    if (pool.started == 0) pthread_atfork(NULL, NULL, pool_atfork_child);
    while (pool.started < k) {
        pthread_t th;
        pthread_attr_t attr;
        if (pthread_attr_init(&attr) != 0) break;
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        int err = pthread_create(&th, &attr, pool_worker, (void *)(intptr_t)pool.started);
        pthread_attr_destroy(&attr);
        if (err != 0) break;
        pool.started += 1;
    }
    return pool.started;
}

void sia_pool_run(int nthreads, int64_t n, void (*task)(void *ctx, int64_t i), void *ctx) {
    int workers = nthreads - 1 < POOL_MAX_WORKERS ? nthreads - 1 : POOL_MAX_WORKERS;
    if (workers < 1 || n < 2 || n >= ((int64_t)1 << POOL_TASK_BITS) ||
        pthread_mutex_trylock(&pool.busy) != 0) {
        for (int64_t i = 0; i < n; i++) task(ctx, i);
        return;
    }
    if (pool_start(workers) < workers) workers = pool.started;
    if (workers < 1) { /* no thread could start */
        pthread_mutex_unlock(&pool.busy);
        for (int64_t i = 0; i < n; i++) task(ctx, i);
        return;
    }
    pool.task = task;
    pool.ctx = ctx;
    atomic_store(&pool.n, n);
    atomic_store(&pool.done, 0);
    atomic_store(&pool.want, workers);
    const uint64_t gen = pool_gen(atomic_load(&pool.claim)) + 1;
    atomic_store(&pool.claim, gen << POOL_TASK_BITS); /* publishes the run */
    if (atomic_load(&pool.sleepers) > 0) {
        pthread_mutex_lock(&pool.lock);
        pthread_cond_broadcast(&pool.wake);
        pthread_mutex_unlock(&pool.lock);
    }
    pool_work(gen);
    /* Every task is claimed; wait for those still running on a worker. */
    for (int spin = 1; atomic_load(&pool.done) < n; spin++) {
        pool_pause();
        if (spin % 256 == 0) sched_yield(); /* a worker sharing this core gets to finish */
    }
    pthread_mutex_unlock(&pool.busy);
}
