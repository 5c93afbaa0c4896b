/* rumor — Byzantine-robust mixing: what a peer does with neighbours that may send poison.
 *
 * Every algorithm's mix adds, per neighbour j that is up, w_ij (y_j - y_i), where y_j is the
 * peer's copy of j's public vector and y_i its own point (its public copy; for D-PSGD its
 * local step v). A neighbour whose messages decode perfectly can still put any y_j there.
 * The robust rules bound what one neighbour can do:
 *   clip:TAU     self-centered clipping (ClippedGossip, He, Karimireddy, Jaggi 2022): the
 *                term y_j - y_i is scaled to norm TAU when it is longer, which is the plain
 *                mix with w_ij replaced by w_ij min(1, TAU / ||y_j - y_i||). One neighbour
 *                then moves the result by at most (gamma) w_ij TAU.
 *   clip:auto[:B[:R[:M]]] TAU chosen each round from the distances: the (B+1)-th largest of the
 *                ||y_j - y_i|| over the neighbours that are up (B = 1 unless given), so that
 *                the B farthest neighbours, the expected number of Byzantine ones, are clipped
 *                to the distance of the farthest of the others, and those are mixed as they
 *                are. (The paper's rule picks TAU so that the clipped weight matches the
 *                Byzantine weight; here the weight is counted in neighbours.) A clipped term
 *                still pulls by w_ij TAU, the same way every round, and under label skew TAU
 *                (an honest distance) is long; so a term beyond TAU also fades, linearly in
 *                its distance, to nothing at R TAU (R = 1.5 unless given, "inf" for clipping
 *                alone): w_ij (TAU / dist) (R - dist / TAU) / (R - 1). Honest neighbours sit
 *                at nearly one distance (the farthest mostly within 1.3 TAU; one with unusual
 *                data up to 1.6 TAU, and faded too), while a sign-flipped, scaled, noisy or
 *                constant copy runs far beyond it and then pulls not at all. With half of a
 *                neighbourhood Byzantine and sitting near, TAU is theirs and the honest terms
 *                are the ones faded: no rule over distances holds there.
 *   clip:auto:B:R:M  the same with TAU = M times that distance (M >= 1, 1 unless given): terms
 *                within M times the (B+1)-th largest distance mix as they are, and the fade runs
 *                from M to R M of it. Under label skew on G(32, 0.2) an honest hub drifts, as
 *                seen from a peer of degree 3, to 2 to 3.3 times the second distance late in
 *                a run, while a sign flipper sits at 2 of them: M = 1.3 (fade out at 1.95)
 *                touches 3.5% of the honest terms instead of 14% and still fades the sign flip;
 *                M = 2 touches 0.4% and lets it through (docs/experiments.md).
 *   clip:auto...+shift  the same, and a neighbour whose terms keep shifting every parameter the
 *                same way fades out too. "A little is enough" (ALIE: per coordinate the mean less
 *                z standard deviations) sits inside the honest spread, so no rule over
 *                distances sees it, but its term moves every coordinate down by its spread: its
 *                cosine with the all-ones vector (its shift) averages -0.45 to -0.64 over a run,
 *                where an honest neighbour's stays within +-0.28 (mlp:128, label skew).
 *                Each round each term's shift goes into a running mean per neighbour (weight
 *                0.1); a neighbour whose mean exceeds 0.3 in magnitude fades linearly to nothing
 *                at 0.4, and counts as one of the B: it leaves the order that gives TAU, and
 *                TAU is the (B - k + 1)-th largest distance of the others when k are faded
 *                (the largest with k >= B). Left in, ALIE (near, inside the spread) took a
 *                place of the order and its neighbours faded their farthest honest
 *                neighbour instead. No message, one more pass over the copies. A test of
 *                ALIE's shape, not a bound: an attacker that flips the sign of its offset per
 *                coordinate is not seen.
 *   clip:auto...+origin  the same, and a neighbour that moves away from where the peer goes
 *                fades out too. Every peer starts from one initial model x0; a sign flipper's
 *                copy, built from its negated messages, runs from x0 against its own model and
 *                so against its neighbours': the cosine of y_j - x0 with y_i - x0 (its origin
 *                cosine) runs from -0.09 to -0.55 after round 20 for a sign-flipping hub of
 *                G(32, 0.2), while every honest neighbour's stays above 0.06 (mlp:128, label
 *                skew), although an honest hub seen from a peer of degree 3 sits as far away
 *                in distance. Running mean per neighbour as +shift's (weight 0.1); a neighbour
 *                whose mean falls below -0.05 fades linearly to nothing at -0.15, and counts as
 *                one of the B (it leaves the order that gives TAU). Both suffixes may be given
 *                ("+shift+origin"). A test of the sign flip's shape, not a bound.
 *   clip:auto...+jump  the same, and a neighbour whose distance jumps from where it has stood,
 *                while its copy lags the peer's way, fades out too. A sign flipper that starts
 *                late in a run stands, for `+origin`, on the peer's side of x0, and under label
 *                skew an honest hub seen from a peer of low degree drifts as far (2 to 3.3 TAU)
 *                as it does; but the hub drifts there over hundreds of rounds, while the
 *                flipper's copy runs away from the round it starts. Each round each
 *                neighbour's distance over the radius (the (B+1)-th largest distance, without
 *                the margin) goes into a fast running mean (weight 0.1) and a slow one (the
 *                average of its first 200 values, then weight 0.005); from its 200th round on,
 *                a neighbour has jumped when its fast mean is beyond the radius and 1.3 times
 *                its slow one (1.1 times once it has jumped), and its running mean origin
 *                cosine (as +origin keeps it) lies 0.08 or more below the largest of the
 *                neighbourhood's: it weighs 0 and counts as one of the B, and its slow mean
 *                holds still while it stays there (so that it does not follow the attacker
 *                out). The cosine keeps in honest neighbours whose distance jumps while they
 *                move the peer's way. A test of a sudden move away, not a bound: an attacker
 *                that drifts away slowly is not seen.
 *   trim:F       coordinate-wise trimmed mean: per coordinate the F largest and F smallest
 *                of the y_j - y_i are dropped and the rest averaged; the mix adds that mean
 *                times the weight of the neighbours that are up. Needs degree >= 2F + 1;
 *                with neighbours down it trims min(F, (up - 1) / 2) per side.
 * With no clipping needed the clipped weights are the plain ones bit for bit, so a clip whose
 * TAU is never reached mixes exactly as "none".
 *
 * Everything here is a pure function over vectors, plus one state object that holds the
 * scratch (allocated once, by rumor_robust_new), the per-neighbour clip counts and the running
 * means of +shift and +origin (kept in checkpoints, see rumor_robust_state), and +origin's
 * copy of the initial model. Called once per round with d up to 1e6 and degree up to a few
 * dozen; nothing allocates per call.
 */
#ifndef RUMOR_ROBUST_H
#define RUMOR_ROBUST_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    RUMOR_ROBUST_NONE = 0,
    RUMOR_ROBUST_CLIP = 1,      /* fixed TAU */
    RUMOR_ROBUST_CLIP_AUTO = 2, /* TAU from the distances, B expected Byzantine neighbours */
    RUMOR_ROBUST_TRIM = 3,      /* coordinate-wise trimmed mean, F per side */
} rumor_robust_kind_t;

/* clip:auto's R when the rule does not give it */
#define RUMOR_ROBUST_REJECT 1.5
/* clip:auto's M when the rule does not give it */
#define RUMOR_ROBUST_MARGIN 1.0
/* "+shift" and "+origin": the weight of each round's value in a neighbour's running mean */
#define RUMOR_ROBUST_RATE 0.1
/* "+shift": the magnitudes of the running mean shift at which a term starts to fade and
 * weighs 0 */
#define RUMOR_ROBUST_SHIFT_FROM 0.3
#define RUMOR_ROBUST_SHIFT_OUT  0.4
/* "+origin": the running mean origin cosines below which a term starts to fade, and at and
 * below which it weighs 0 */
#define RUMOR_ROBUST_ORIGIN_FROM -0.05
#define RUMOR_ROBUST_ORIGIN_OUT  -0.15
/* "+jump": the weight of each round's distance over the radius in a neighbour's slow running
 * mean (its fast one takes RUMOR_ROBUST_RATE), the ratio of fast to slow beyond which it has
 * jumped and the one beyond which, once it has, it stays so, and the rounds a neighbour is
 * mixed before its jumps count */
#define RUMOR_ROBUST_JUMP_SLOW  0.005
#define RUMOR_ROBUST_JUMP_RATIO 1.3
#define RUMOR_ROBUST_JUMP_HOLD  1.1
#define RUMOR_ROBUST_JUMP_ARM   200
/* "+jump": how far below the neighbourhood's largest running mean origin cosine a neighbour's
 * must be for its jump to count */
#define RUMOR_ROBUST_JUMP_GAP 0.08

typedef struct {
    rumor_robust_kind_t kind;
    double tau;    /* CLIP */
    uint32_t f;    /* CLIP_AUTO: B; TRIM: F */
    double reject; /* CLIP_AUTO: R, the distance in TAUs from which a term weighs 0 (inf: never) */
    double margin; /* CLIP_AUTO: M, TAU in units of the (B+1)-th largest distance */
    int shift;     /* CLIP_AUTO: "+shift", terms that keep shifting every parameter fade out */
    int origin;    /* CLIP_AUTO: "+origin", neighbours that move away from the peer's way fade */
    int jump;      /* CLIP_AUTO: "+jump", neighbours whose distance jumps from its long-run place */
} rumor_robust_cfg_t;

/* Parses "none", "clip:TAU" (TAU > 0, finite), "clip:auto", "clip:auto:B" (B >= 1),
 * "clip:auto:B:R" (R > 1, or inf), "clip:auto:B:R:M" (M >= 1, finite), any clip:auto form
 * followed by any of "+shift", "+origin" and "+jump" (each at most once, in any order), or
 * "trim:F" (F >= 1). Returns 0 or RUMOR_EINVAL. */
int rumor_robust_parse(const char *s, rumor_robust_cfg_t *cfg);

/* The canonical text of cfg ("clip:0.5", "clip:auto:1", "clip:auto:2:inf", "clip:auto:1:1.5:1.3",
 * "clip:auto:1+shift", "clip:auto:1+shift+origin+jump", "trim:1", "none"; suffixes in that
 * order), which the run-config hash covers; R appears only when it or M is not its default
 * (RUMOR_ROBUST_REJECT), M only when it is not RUMOR_ROBUST_MARGIN. */
void rumor_robust_describe(const rumor_robust_cfg_t *cfg, char *buf, size_t cap);

/* The least degree a peer needs for the rule: 2F + 1 for trim:F, B + 1 for clip:auto:B, else
 * 0. */
uint32_t rumor_robust_min_degree(const rumor_robust_cfg_t *cfg);

/* ---- pure functions ---- */

/* The clip:auto radius: the (b + 1)-th largest of dist[s] over the slots s < deg with up[s]
 * (every slot when up is NULL); 0 when b or fewer are up. scratch holds deg doubles. */
double rumor_robust_auto_tau(const double *dist, const uint8_t *up, uint32_t deg, uint32_t b,
                             double *scratch);

/* w_out[s] = w[s] * min(1, tau / dist[s]) * fade: w[s] itself (bit for bit) when
 * dist[s] <= tau; beyond it fade = (reject - dist[s] / tau) / (reject - 1), 0 from
 * dist[s] >= reject * tau on, and 1 when reject is infinite (clipping alone). Returns the
 * number of slots clipped (dist[s] > tau) among those with up[s] (up NULL: all). */
uint32_t rumor_robust_clip_weights(const double *w, const double *dist, const uint8_t *up,
                                   uint32_t deg, double tau, double reject, double *w_out);

/* The shift of y from ref: the cosine of y - ref with the all-ones vector,
 * sum_k (y_k - ref_k) / (sqrt(d) ||y - ref||), in [-1, 1]; 0 when y = ref. */
double rumor_robust_shift(const float *y, const float *ref, uint32_t d);

/* The shift fade of "+shift": a slot with up[s] (up NULL: all) whose |avg[s]| exceeds
 * RUMOR_ROBUST_SHIFT_FROM has its w_out[s] scaled linearly down to 0 at RUMOR_ROBUST_SHIFT_OUT
 * and beyond. Returns how many slots of weight above 0 were faded. */
uint32_t rumor_robust_shift_fade(const double *avg, const uint8_t *up, uint32_t deg, double *w_out);

/* The origin cosine of y as seen from ref: the cosine of y - x0 with ref - x0, x0 the initial
 * model, in [-1, 1]; 0 when y = x0 or ref = x0. */
double rumor_robust_origin(const float *y, const float *ref, const float *x0, uint32_t d);

/* The origin fade of "+origin": a slot with up[s] (up NULL: all) whose avg[s] is below
 * RUMOR_ROBUST_ORIGIN_FROM has its w_out[s] scaled linearly down to 0 at
 * RUMOR_ROBUST_ORIGIN_OUT and below. Returns how many slots of weight above 0 were faded. */
uint32_t rumor_robust_origin_fade(const double *avg, const uint8_t *up, uint32_t deg,
                                  double *w_out);

/* out[k] = the mean of y_s[k] - ref[k] over the slots s with up[s] (up NULL: all), the f
 * largest and f smallest of them dropped (f is lowered to (up - 1) / 2 when fewer are up;
 * out = 0 when none is). y holds deg vectors of d floats, row s at y + s * d. scratch holds
 * deg floats. */
void rumor_robust_trimmed_mean(const float *y, const uint8_t *up, uint32_t deg, const float *ref,
                               uint32_t d, uint32_t f, float *scratch, float *out);

/* ---- state: scratch and clip counts of one peer ---- */

typedef struct rumor_robust rumor_robust_t;

/* Per neighbour slot, since the start: rounds it was mixed in (up), rounds it was clipped in,
 * and the sum over those rounds of 1 - w_eff / w, the fraction of its term cut away. */
typedef struct {
    const uint64_t *mixed;
    const uint64_t *clipped;
    const double *cut;
} rumor_robust_stats_t;

/* NULL when cfg's kind is NONE, or out of memory (*oom set to 1 then, when oom not NULL). x0
 * (d floats) is the initial model, which every peer starts from; "+origin" and "+jump" keep a
 * copy (x0 may be NULL without them). */
rumor_robust_t *rumor_robust_new(const rumor_robust_cfg_t *cfg, uint32_t deg, uint32_t d,
                                 const float *x0, int *oom);
void rumor_robust_destroy(rumor_robust_t **r_p);

/* This round's mixing weights of the deg slots: w clipped (and for CLIP_AUTO faded) around
 * ref by the rule (CLIP or CLIP_AUTO), the distances ||y_s - ref||; with "+shift" the slots'
 * running mean shifts (rumor_robust_shift of y_s from ref) and with "+origin" their running
 * mean origin cosines (rumor_robust_origin) updated first, the slots whose mean shift exceeds
 * RUMOR_ROBUST_SHIFT_FROM in magnitude or whose mean origin cosine is below
 * RUMOR_ROBUST_ORIGIN_FROM left out of the auto radius (each one of the B), and the weights
 * faded by them (rumor_robust_shift_fade, rumor_robust_origin_fade); with "+jump" the origin
 * cosines and the running means of the distances over the radius updated, and the slots that
 * have jumped left out of the radius and weighed 0; updates the clip counts.
 * Points into r, valid until the next call. y and up as in rumor_robust_trimmed_mean. */
const double *rumor_robust_weights(rumor_robust_t *r, const float *y, const uint8_t *up,
                                   const double *w, const float *ref);

/* TRIM: the trimmed mean of the y_s - ref (see rumor_robust_trimmed_mean) into r's d-float
 * buffer, which it returns (valid until the next call). */
const float *rumor_robust_trim(rumor_robust_t *r, const float *y, const uint8_t *up,
                               const float *ref);

int rumor_robust_trims(const rumor_robust_t *r);
rumor_robust_stats_t rumor_robust_stats(const rumor_robust_t *r);

/* What r carries from one round to the next, for checkpoints: per neighbour slot (deg of them)
 * the clip counts of rumor_robust_stats, with "+shift" the running mean shifts and with
 * "+origin" the running mean origin cosines (NaN before a slot's first term; shift and origin
 * are NULL without their suffix), with "+jump" its running means and their count (NULL
 * without). Points into r. The initial model "+origin" holds is not
 * state: every run builds it from its seed. */
typedef struct {
    uint32_t deg;
    uint64_t *mixed, *clipped;
    double *cut, *shift, *origin;
    double *fast, *slow; /* "+jump": the running means of the distance over the radius */
    uint64_t *seen;      /* "+jump": the rounds they took */
    uint64_t *jumped;    /* "+jump": 1 for a slot that has jumped, else 0 */
} rumor_robust_state_t;
rumor_robust_state_t rumor_robust_state(rumor_robust_t *r);

/* dst's running means (shifts, origin cosines, +jump's means and count) := src's, both of one node
 * and rule: what a peer restarted from a checkpoint resumes with (the clip counts, which count what
 * was mixed, are left). */
void rumor_robust_copy_means(rumor_robust_t *dst, const rumor_robust_t *src);

#endif
