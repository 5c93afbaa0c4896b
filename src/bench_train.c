/* rumor — `rumor bench train`: local SGD throughput of one model on one peer's worth of work.
 *
 * Times what a peer does every round before gossip: rumor_model_loss_grad on a minibatch
 * followed by a plain SGD update, for a fixed wall-clock budget after a short warm-up, and
 * reports samples/s and the GFLOP/s implied by rumor_model_flops_per_step. Batches are
 * consecutive slices of Fashion-MNIST's training split (no gather, so the figure is the
 * model's), or of synthetic data of the same shape when the dataset is not installed.
 */
#include "rumor/clock.h"
#include "rumor/bench.h"
#include "rumor/data.h"
#include "rumor/model.h"
#include "rumor/opt.h"
#include "rumor/rng.h"
#include "rumor/vec.h"

#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S_PROG "rumor bench train"

typedef struct {
    const char *spec;
    uint32_t batch;
    double seconds;
    uint32_t threads;
    double lr;
    const char *data_dir; /* NULL: the default location, falling back to synthetic data */
    int json;
} s_opts_t;

static const rumor_opt_t s_opts[] = {
    {RUMOR_OPT_STR("--model", s_opts_t, spec, "SPEC",
                   "softmax, mlp:H, mlp:H1,H2,... or cnn:C1,C2 (default mlp:128)")},
    {RUMOR_OPT_U32("--batch", s_opts_t, batch, "B", 1, 65536, "minibatch rows (default 64)")},
    {RUMOR_OPT_REAL("--seconds", s_opts_t, seconds, "S", 86400.0,
                    "measured time after warm-up (default 3)"),
     .want = "a positive number of seconds"},
    {RUMOR_OPT_U32("--threads", s_opts_t, threads, "T", 1, 256, "OpenBLAS threads (default 1)")},
    {RUMOR_OPT_REAL("--lr", s_opts_t, lr, "LR", 1e6, "SGD learning rate (default 0.05)"),
     .want = "a positive learning rate"},
    {RUMOR_OPT_STR("--data", s_opts_t, data_dir, "DIR",
                   "Fashion-MNIST directory; an error if it cannot be read")},
    {RUMOR_OPT_FLAG("--json", s_opts_t, json, "print one JSON object instead of the table")},
};

static const rumor_opt_cmd_t s_cmd = {
    .prog = S_PROG,
    .usage = S_PROG " [OPTIONS]",
    .about = "Measures local training speed: loss and gradient (forward + backward) on a\n"
             "minibatch plus an SGD update, repeated for a fixed time after a warm-up.\n"
             "Uses the Fashion-MNIST training split from " RUMOR_FASHION_MNIST_DIR "\n"
             "when it is installed, synthetic data of the same shape otherwise.",
    .opts = s_opts,
    .n_opts = sizeof s_opts / sizeof s_opts[0],
};

typedef struct {
    uint64_t steps;
    double seconds;
    double loss; /* mean training loss over the measured steps */
} s_result_t;

/* Runs steps until `budget` seconds have passed; batches walk the data in order. */
static s_result_t s_run(rumor_model_t *m, float *params, float *grad, const rumor_dataset_t *ds,
                        uint32_t batch, float lr, double budget, uint32_t *pos)
{
    const size_t np = rumor_model_nparams(m);
    s_result_t r = {0, 0.0, 0.0};
    double loss_sum = 0.0;
    const double t0 = rumor_clock_now();
    double t = t0;
    do {
        if (*pos + batch > ds->n) *pos = 0;
        const float *x = ds->x + (size_t)*pos * ds->dim;
        loss_sum += rumor_model_loss_grad(m, params, x, ds->y + *pos, batch, grad);
        rumor_vec_axpy(params, -lr, grad, np);
        *pos += batch;
        r.steps++;
        t = rumor_clock_now();
    } while (t - t0 < budget);
    r.seconds = t - t0;
    r.loss = loss_sum / (double)r.steps;
    return r;
}

int rumor_bench_train_main(int argc, char **argv)
{
    s_opts_t o = {"mlp:128", 64, 3.0, 1, 0.05, NULL, 0};
    int n_pos;
    const int parsed = rumor_opt_parse(&s_cmd, argc, argv, &o, NULL, &n_pos);
    if (parsed) return rumor_opt_exit(parsed);

    /* Check the spec's syntax before spending a second on loading the data; it is parsed
     * again below with the data's real shape. */
    rumor_errmsg_t em = {{0}};
    rumor_model_spec_t spec;
    if (rumor_model_spec_parse(o.spec, 784, 10, &spec, &em) != 0) {
        fprintf(stderr, S_PROG ": --model: %s\n", em.msg);
        return 2;
    }
    rumor_dataset_t *ds = NULL;
    int real = 0;
    if (rumor_data_load_fashion(o.data_dir, "train", NULL, &ds, &em) == 0) {
        real = 1;
    } else if (o.data_dir) {
        fprintf(stderr, S_PROG ": --data: %s\n", em.msg);
        return 1;
    } else {
        fprintf(stderr, S_PROG ": note: using synthetic data (%s)\n", em.msg);
        if (rumor_data_synthetic(o.batch > 4096 ? o.batch : 4096, 784, 10, 1.0, 1, &ds) != 0) {
            fprintf(stderr, S_PROG ": cannot generate synthetic data\n");
            return 1;
        }
    }
    int status = 1;
    rumor_model_t *m = NULL;
    float *params = NULL, *grad = NULL;
    if (o.batch > ds->n) {
        fprintf(stderr, S_PROG ": --batch: %u is larger than the %u training samples\n", o.batch,
                ds->n);
        status = 2;
        goto done;
    }
    if (rumor_model_spec_parse(o.spec, ds->dim, ds->classes, &spec, &em) != 0) {
        fprintf(stderr, S_PROG ": --model: %s\n", em.msg);
        status = 2;
        goto done;
    }
    const int mrc = rumor_model_create(&spec, o.batch, &m);
    if (mrc) {
        fprintf(stderr, S_PROG ": the model: %s\n", rumor_strerror(mrc));
        goto done;
    }
    const size_t np = rumor_model_nparams(m);
    params = malloc(np * sizeof *params);
    grad = malloc(np * sizeof *grad);
    if (!params || !grad) {
        fprintf(stderr, S_PROG ": cannot allocate the model\n");
        goto done;
    }
    rumor_rng_t rng;
    rumor_rng_seed(&rng, 1, 0, 0, RUMOR_RNG_INIT);
    rumor_model_init(m, params, &rng);

    openblas_set_num_threads((int)o.threads);
    uint32_t pos = 0;
    /* Warm-up: page in the workspace and the data, let OpenBLAS start its threads. */
    s_run(m, params, grad, ds, o.batch, (float)o.lr, o.seconds < 2.0 ? 0.1 * o.seconds : 0.2, &pos);
    const s_result_t r = s_run(m, params, grad, ds, o.batch, (float)o.lr, o.seconds, &pos);

    char arch[160];
    rumor_model_spec_describe(&spec, arch, sizeof arch);
    const double sps = (double)r.steps * o.batch / r.seconds;
    const double gflops =
        rumor_model_flops_per_step(m, o.batch) * (double)r.steps / r.seconds / 1e9;
    const int threads = openblas_get_num_threads();
    const char *core = openblas_get_corename();
    const char *data = real ? "fashion-mnist" : "synthetic";
    if (o.json) {
        printf("{\"bench\":\"train\",\"model\":\"%s\",\"arch\":\"%s\",\"nparams\":%zu,"
               "\"batch\":%u,\"threads\":%d,\"blas_core\":\"%s\",\"data\":\"%s\",\"steps\":%llu,"
               "\"seconds\":%.6f,\"samples_per_s\":%.1f,\"gflops\":%.3f,\"loss\":",
               o.spec, arch, np, o.batch, threads, core, data, (unsigned long long)r.steps,
               r.seconds, sps, gflops);
        /* a diverging --lr gives a non-finite loss, which JSON cannot spell */
        if (isfinite(r.loss))
            printf("%.6g}\n", r.loss);
        else
            printf("null}\n");
    } else {
        printf("model        %s (%s)\n", o.spec, arch);
        printf("nparams      %zu\n", np);
        printf("batch        %u\n", o.batch);
        printf("threads      %d (OpenBLAS core %s)\n", threads, core);
        printf("data         %s (%u samples)\n", data, ds->n);
        printf("steps        %llu in %.2f s\n", (unsigned long long)r.steps, r.seconds);
        printf("samples/s    %.0f\n", sps);
        printf("GFLOP/s      %.2f\n", gflops);
        printf("train loss   %.4f (mean over the measured steps)\n", r.loss);
    }
    fflush(stdout);
    status = 0;
done:
    free(params);
    free(grad);
    rumor_model_destroy(&m);
    rumor_dataset_destroy(&ds);
    return status;
}
