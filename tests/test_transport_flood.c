/* Tests of transport under floods before authentication: keyless connections cannot grow
 * its memory without bound, and unlisted keys are logged in bursts, not once a frame. Waits
 * are bounded, as in test_transport.c. */
#include "transport_support.h"

/* ---- floods before authentication ------------------------------------------------------ */

#define FLOOD_CONNS     500
#define FLOOD_MAX_FRAME (400u << 10) /* a d = 100k run's frames are this large */

/* The resident set of this process in KiB, from /proc/self/status. */
static long s_rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    assert_non_null(f);
    char line[256];
    long kib = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1) break;
    fclose(f);
    assert_true(kib > 0);
    return kib;
}

/* Enough file descriptors for both ends of every flood connection. */
static void s_raise_fd_limit(void)
{
    struct rlimit rl;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_cur < 4 * FLOOD_CONNS) {
        rl.rlim_cur = rl.rlim_max < 4 * FLOOD_CONNS ? rl.rlim_max : 4 * FLOOD_CONNS;
        assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
    }
    if (rl.rlim_cur < 2 * FLOOD_CONNS + 64) skip();
}

/* A keyless client: a plain TCP connection to 127.0.0.1:port that speaks just enough ZMTP to
 * reach the CURVE handshake (the greeting), then sends one frame header announcing `size`
 * bytes and all of them but the last, so the peer holds the frame until the handshake times
 * out. Returns the socket (non-blocking), with `want` bytes left to write in *left. */
static int s_keyless(int port, uint64_t size, size_t *left)
{
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    uint8_t hello[64 + 9] = {0xFF, 0, 0, 0, 0, 0, 0, 0, 0, 0x7F, 3, 0, 'C', 'U', 'R', 'V', 'E'};
    hello[64] = 0x06; /* a long command frame */
    for (int i = 0; i < 8; i++) hello[65 + i] = (uint8_t)(size >> (56 - 8 * i));
    assert_int_equal(send(fd, hello, sizeof hello, 0), (ssize_t)sizeof hello);
    assert_int_equal(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK), 0);
    *left = (size_t)size - 1;
    return fd;
}

/* Pushes the rest of every client's frame, for at most ms; returns the bytes not sent. */
static uint64_t s_push(int *fd, size_t *left, int n, int ms)
{
    static uint8_t junk[1 << 16];
    const double end = (double)time(NULL) + ms / 1000.0 + 1;
    uint64_t pending = 1;
    while (pending && (double)time(NULL) < end) {
        pending = 0;
        for (int i = 0; i < n; i++) {
            if (left[i] == 0 || fd[i] < 0) continue;
            const size_t chunk = left[i] < sizeof junk ? left[i] : sizeof junk;
            const ssize_t w = send(fd[i], junk, chunk, MSG_NOSIGNAL);
            if (w > 0) left[i] -= (size_t)w;
            if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) left[i] = 0; /* cut off */
            pending += left[i];
        }
        if (pending) s_sleep_ms(5);
    }
    return pending;
}

static void test_keyless_flood_memory_bounded(void **state)
{
    (void)state;
#if defined(__SANITIZE_THREAD__)
    /* The thread sanitizer's shadow memory multiplies what every connection costs: the bound
     * is checked in the plain and address-sanitizer builds. */
    skip();
#endif
    s_raise_fd_limit();
    void *ctx = zmq_ctx_new();
    s_net_t net;
    s_net_init(&net, 3, "tcp", S_STAR);
    rumor_transport_nbr_t nbrs[MAXN];
    rumor_transport_cfg_t cfg = s_cfg(&net, 0, nbrs, 0, NULL);
    cfg.max_frame = FLOOD_MAX_FRAME;
    rumor_errmsg_t em = {{0}};
    net.t[0] = rumor_transport_new(ctx, &cfg, &em);
    if (!net.t[0]) fail_msg("%s", em.msg);
    const int port = atoi(strrchr(net.ep[0], ':') + 1);
    s_sleep_ms(100);
    const long before = s_rss_kib();
    static int fd[FLOOD_CONNS];
    static size_t left[FLOOD_CONNS];
    /* Half announce the largest frame a neighbour may send, half the largest message
     * ZeroMQ lets in (a part and its CURVE wrapping). */
    for (int i = 0; i < FLOOD_CONNS; i++) {
        fd[i] =
            s_keyless(port, i % 2 ? FLOOD_MAX_FRAME : RUMOR_TRANSPORT_PART_BYTES + 256, &left[i]);
        if (i % 50 == 49) s_sleep_ms(10); /* within the listen backlog: no SYN retries */
    }
    const uint64_t unsent = s_push(fd, left, FLOOD_CONNS, 3000);
    s_sleep_ms(300); /* let the peer's I/O thread read what the kernel holds */
    const long during = s_rss_kib();
    for (int i = 0; i < FLOOD_CONNS; i++) close(fd[i]);
    s_sleep_ms(300);
    const long after = s_rss_kib();
    print_message("keyless flood: %d connections, %llu bytes unsent; RSS %ld KiB before, %ld "
                  "during (+%ld), %ld after (+%ld)\n",
                  FLOOD_CONNS, (unsigned long long)unsent, before, during, during - before, after,
                  after - before);
    assert_true(during - before < 32 * 1024);
    assert_true(after - before < 32 * 1024);
    /* The peer still hears its neighbour's largest frames. */
    void *ctx1 = zmq_ctx_new();
    cfg = s_cfg(&net, 1, nbrs, 0, NULL);
    cfg.max_frame = FLOOD_MAX_FRAME;
    net.t[1] = rumor_transport_new(ctx1, &cfg, &em);
    if (!net.t[1]) fail_msg("%s", em.msg);
    static uint8_t big[FLOOD_MAX_FRAME], got[FLOOD_MAX_FRAME];
    s_fill(big, 1, 0, sizeof big);
    s_link_up(net.t[1], 1, net.t[0], 0);
    assert_int_equal(rumor_transport_send(net.t[1], 0, big, sizeof big, WAIT_MS), 0);
    uint32_t from = 99;
    size_t len = 0;
    assert_int_equal(s_recv(net.t[0], &from, got, sizeof got, &len), 0);
    assert_int_equal(from, 1);
    assert_int_equal(len, sizeof big);
    assert_memory_equal(got, big, sizeof big);
    rumor_transport_destroy(&net.t[1]);
    rumor_transport_destroy(&net.t[0]);
    zmq_ctx_term(ctx1);
    zmq_ctx_term(ctx);
}

/* Lines of file path that contain text. */
static int s_count_lines(const char *path, const char *text)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[1024];
    int n = 0;
    while (fgets(line, sizeof line, f)) n += strstr(line, text) != NULL;
    fclose(f);
    return n;
}

static void test_unlisted_keys_logged_in_bursts(void **state)
{
    (void)state;
    s_raise_fd_limit();
    void *ctx = zmq_ctx_new();
    s_net_t net;
    s_net_init(&net, 2, "tcp", S_LINE);
    /* This process's stderr goes to a file while node 0 runs. */
    const char *log = s_scratch("refusals.log");
    fflush(stderr);
    const int saved = dup(2), lf = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(saved >= 0 && lf >= 0);
    assert_int_equal(dup2(lf, 2), 2);
    close(lf);
    s_node_start(&net, 0, ctx, NULL, 0);
    static void *cl[FLOOD_CONNS];
    for (int i = 0; i < FLOOD_CONNS; i++) {
        rumor_keypair_t kp;
        assert_int_equal(rumor_keys_generate(&kp, NULL), 0);
        cl[i] = s_raw(ctx, &kp, net.kp[0].public_key, NULL, 0, net.ep[0]);
        const int ivl = 60000; /* one try each */
        assert_int_equal(zmq_setsockopt(cl[i], ZMQ_RECONNECT_IVL, &ivl, sizeof ivl), 0);
    }
    rumor_transport_auth_stats_t st = {0};
    /* up to 60 s: 500 CURVE handshakes take seconds under the thread sanitizer on a busy machine */
    for (int i = 0; i < 6000 && st.refused < FLOOD_CONNS; i++) {
        s_assert_silent(net.t[0], 10);
        rumor_transport_auth_stats(net.t[0], &st);
    }
    for (int i = 0; i < FLOOD_CONNS; i++) zmq_close(cl[i]);
    rumor_transport_destroy(&net.t[0]); /* says what is left of the burst */
    fflush(stderr);
    assert_int_equal(dup2(saved, 2), 2);
    close(saved);
    const int lines = s_count_lines(log, "refused");
    print_message("%llu clients refused, %d log lines\n", (unsigned long long)st.refused, lines);
    assert_true(st.refused >= FLOOD_CONNS);
    assert_true(lines >= 2 && lines <= 3);
    char summary[64];
    snprintf(summary, sizeof summary, "refused %llu more CURVE clients",
             (unsigned long long)st.refused - 1);
    assert_int_equal(s_count_lines(log, summary), 1);
    zmq_ctx_term(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keyless_flood_memory_bounded),
        cmocka_unit_test(test_unlisted_keys_logged_in_bursts),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
