/* governor/layers.c - the per-governor state of the layers above (see
 * hooks.h): one slot per layer, made once on first use, freed at destroy.
 *
 * The governor cannot call up into those layers, so it holds only an
 * opaque pointer per slot and the function that frees it.
 *
 * Invariants: a slot's state is set at most once, under its lock, and read
 * only after taking that lock (or by mgov_destroy, when no other thread
 * runs).
 * Locking: layer_lock[i] is held while slot i's make() runs; make() may
 * take lower slots' locks (it uses lower layers), never higher ones, so
 * they nest from high to low.  Nothing else is held with them.
 */
#include "governor/hooks.h"
#include "governor/internal.h"

int mgov__layer_state(mgov_t *gov, unsigned slot,
                      int (*make)(mgov_t *gov, void *arg, void **state), void *arg,
                      void (*free_fn)(void *state), void **out)
{
    if (!gov || slot >= MGOV__LAYER_SLOTS || !make || !free_fn || !out)
        return MGOV_EINVAL;
    int rc = MGOV_OK;
    pthread_mutex_lock(&gov->layer_lock[slot]);
    if (!gov->layer_state[slot]) {
        void *state = NULL;
        rc = make(gov, arg, &state);
        if (rc == MGOV_OK) {
            gov->layer_state[slot] = state;
            gov->layer_free[slot] = free_fn;
        }
    }
    *out = rc == MGOV_OK ? gov->layer_state[slot] : NULL;
    pthread_mutex_unlock(&gov->layer_lock[slot]);
    return rc;
}

void mgov__layers_destroy(mgov_t *gov)
{
    for (unsigned i = MGOV__LAYER_SLOTS; i-- > 0;) {
        if (gov->layer_state[i])
            gov->layer_free[i](gov->layer_state[i]);
        gov->layer_state[i] = NULL;
    }
}
