/* rumor — what the drivers (rumor peer, rumor sim) report of their peers: the start-up lines
 * and the fields their metrics records share (see peer.h). */
#include "rumor/log.h"
#include "rumor/peer.h"

#include <cblas.h>

void rumor_peer_blas_one_thread(void)
{
    openblas_set_num_threads(1);
}

void rumor_peer_announce(const rumor_peer_t *p, const char *who, char *desc, size_t cap)
{
    char why[512];
    if (rumor_peer_caution(p, why, sizeof why)) rumor_warn("%s%s", who, why);
    rumor_peer_describe(p, desc, cap);
}

double rumor_peer_bits_per_param(double bytes, uint32_t rounds, size_t d)
{
    return rounds ? 8.0 * bytes / ((double)rounds * (double)d) : 0.0;
}

void rumor_peer_write_times(FILE *f, double t_compute, double t_codec, double t_wait,
                            double cpu_compute, double cpu_codec)
{
    fprintf(f,
            ", \"time_compute_s\": %.3f, \"time_codec_s\": %.3f, \"time_comm_s\": %.3f, "
            "\"cpu_compute_s\": %.3f, \"cpu_codec_s\": %.3f",
            t_compute, t_codec, t_wait, cpu_compute, cpu_codec);
}
