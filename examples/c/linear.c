/* Least squares trained by hand, gossiped by librumor. Every node holds its own rows of
 * y = X w* + noise and takes gradient steps on them; rumor_gossip_round mixes the weights.
 *   linear                        4 nodes in threads, one process (inproc, plaintext)
 *   linear SCENARIO TOPOLOGY ID KEY   one node (e.g. under scripts/launch-local --exec)
 * Build: cc linear.c $(pkg-config --cflags --libs rumor) -lm */
#include <rumor/rumor.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

enum { D = 8, ROWS = 64, ROUNDS = 200 };
static const char *s_scenario =
    "{\"name\": \"linear\", \"model\": \"external:8\", \"algorithm\": "
    "{\"name\": \"malcom\", \"gamma\": 0.5, \"lambda\": 0, \"rounds\": 200},"
    " \"compressor\": \"dither:8:biased\", \"codec\": \"auto\"}";
static const char *s_topology = "/tmp/rumor-linear-ring4.json", *s_key;
static double s_err[4];

static float s_truth(int k)
{
    return (float)(k % 3) - 1.0f + 0.25f * (float)k;
}

/* Node id: its data, ROUNDS of (one gradient step, one gossip round); returns |w - w*|. */
static int s_node(const char *scenario, uint32_t id, double *err)
{
    rumor_endpoint_t *g;
    const rumor_options_t o = {.insecure = s_key == NULL};
    if (rumor_open(&g, scenario, s_topology, id, s_key, &o) < 0) {
        fprintf(stderr, "node %u: %s\n", id, rumor_last_error(NULL));
        return 1;
    }
    float x[ROWS][D], y[ROWS], w[D] = {0}, grad[D];
    srand(id + 1);
    for (int i = 0; i < ROWS; i++) {
        y[i] = 0.01f * ((float)rand() / RAND_MAX - 0.5f);
        for (int k = 0; k < D; k++) {
            x[i][k] = (float)rand() / RAND_MAX - 0.5f + (k == (int)id % D ? 0.5f : 0.0f);
            y[i] += x[i][k] * s_truth(k);
        }
    }
    int rc = rumor_set_initial(g, w); /* every node starts from w = 0 */
    while (!rc && rumor_round(g) < rumor_rounds(g)) {
        for (int k = 0; k < D; k++) grad[k] = 0;
        for (int i = 0; i < ROWS; i++) {
            float r = -y[i];
            for (int k = 0; k < D; k++) r += x[i][k] * w[k];
            for (int k = 0; k < D; k++) grad[k] += 2.0f * r * x[i][k] / ROWS;
        }
        for (int k = 0; k < D; k++) w[k] -= 0.5f * grad[k];
        if ((rc = rumor_gossip_round(g, w)) < 0)
            fprintf(stderr, "node %u: %s\n", id, rumor_last_error(g));
    }
    *err = 0;
    for (int k = 0; k < D; k++) *err += (w[k] - s_truth(k)) * (w[k] - s_truth(k));
    *err = sqrt(*err);
    printf("node %u: %u rounds, %llu bytes sent, |w - w*| = %.5f\n", id, rumor_round(g),
           (unsigned long long)rumor_bytes_sent(g), *err);
    return rumor_close(g) < 0 || rc < 0;
}

static void *s_thread(void *arg)
{
    const uint32_t id = (uint32_t)(uintptr_t)arg;
    return (void *)(uintptr_t)s_node(s_scenario, id, &s_err[id]);
}

int main(int argc, char **argv)
{
    if (argc == 5) {
        s_topology = argv[2];
        s_key = argv[4];
        double err;
        return s_node(argv[1], (uint32_t)atoi(argv[3]), &err);
    }
    FILE *f = fopen(s_topology, "w");
    if (!f) return 1;
    fprintf(
        f,
        "{\"name\": \"ring4\", \"nodes\": [{\"id\": 0, \"endpoint\": \"inproc://n0\"}, {\"id\": 1, "
        "\"endpoint\": \"inproc://n1\"}, {\"id\": 2, \"endpoint\": \"inproc://n2\"}, {\"id\": 3, "
        "\"endpoint\": \"inproc://n3\"}], \"edges\": [[0, 1], [1, 2], [2, 3], [3, 0]]}\n");
    fclose(f);
    pthread_t t[4];
    void *rc[4];
    int bad = 0;
    for (uintptr_t i = 0; i < 4; i++) pthread_create(&t[i], NULL, s_thread, (void *)i);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], &rc[i]), bad |= rc[i] != NULL || !(s_err[i] < 0.05);
    printf("%s\n", bad ? "linear: FAILED" : "linear: every node within 0.05 of w*");
    return bad;
}
