/* ops/sort_kernel.c - the merge half of the sorting kernels (sort_kernel.h):
 * mgov__sort_entries_cmp (entries by the caller's comparison) and
 * mgov__sort_entries_bytes_merge (bytewise, for the runs of equal prefixes
 * that the radix sort in sort_radix.c leaves).
 *
 * A top-down merge sort that never copies back: sort_into sorts a range
 * into the other buffer, sort_in_place into its own, each by sorting its
 * halves the other way and merging them across.  Ranges of up to INSERTION
 * entries get a binary insertion sort (comparisons are the cost when they
 * are a callback).  A merge whose halves are already in order is a copy,
 * so presorted input costs one comparison per merge.
 *
 * Stable: a merge takes from the left half unless the right entry is
 * strictly before, and descending only turns the comparison around
 * (cmp > 0 instead of < 0), so equal records keep their input order.
 *
 * Pure functions: no allocation, no locks; recursion depth log2(n).
 */
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "ops/sort_kernel.h"

enum { INSERTION = 16 };

typedef mgov__sort_entry_t entry_t;

typedef struct order {
    mgov_sort_cmp_fn cmp; /* NULL: bytewise */
    void *ctx;
    bool desc;
} order_t;

/* a strictly before b */
static inline bool before(const order_t *o, const entry_t *a, const entry_t *b)
{
    int c;
    if (o->cmp)
        c = o->cmp(o->ctx, mgov__sort_rec_data(a->rec), mgov__sort_rec_len(a->rec),
                   mgov__sort_rec_data(b->rec), mgov__sort_rec_len(b->rec));
    else
        c = mgov__sort_entry_cmp(a, b);
    return o->desc ? c > 0 : c < 0;
}

static void insertion(const order_t *o, entry_t *a, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        if (!before(o, &a[i], &a[i - 1]))
            continue;
        entry_t x = a[i];
        /* the first position whose entry x is strictly before: after its equals */
        size_t lo = 0, hi = i - 1;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (before(o, &x, &a[mid]))
                hi = mid;
            else
                lo = mid + 1;
        }
        memmove(&a[lo + 1], &a[lo], (i - lo) * sizeof *a);
        a[lo] = x;
    }
}

static void merge(const order_t *o, const entry_t *l, size_t nl, const entry_t *r, size_t nr,
                  entry_t *dst)
{
    if (!before(o, &r[0], &l[nl - 1])) {
        memcpy(dst, l, nl * sizeof *l);
        memcpy(dst + nl, r, nr * sizeof *r);
        return;
    }
    size_t i = 0, j = 0, k = 0;
    while (i < nl && j < nr)
        dst[k++] = before(o, &r[j], &l[i]) ? r[j++] : l[i++];
    memcpy(dst + k, l + i, (nl - i) * sizeof *l);
    memcpy(dst + k + (nl - i), r + j, (nr - j) * sizeof *r);
}

static void sort_in_place(const order_t *o, entry_t *a, entry_t *tmp, size_t n);

/* Sorts the n entries at src into dst; src's content is lost. */
static void sort_into(const order_t *o, entry_t *src, entry_t *dst, size_t n)
{
    if (n <= INSERTION) {
        memcpy(dst, src, n * sizeof *src);
        insertion(o, dst, n);
        return;
    }
    size_t h = n / 2;
    sort_in_place(o, src, dst, h);
    sort_in_place(o, src + h, dst + h, n - h);
    merge(o, src, h, src + h, n - h, dst);
}

/* Sorts the n entries at a in place; tmp (n entries) is scratch. */
static void sort_in_place(const order_t *o, entry_t *a, entry_t *tmp, size_t n)
{
    if (n <= INSERTION) {
        insertion(o, a, n);
        return;
    }
    size_t h = n / 2;
    sort_into(o, a, tmp, h);
    sort_into(o, a + h, tmp + h, n - h);
    merge(o, tmp, h, tmp + h, n - h, a);
}

mgov__sort_entry_t *mgov__sort_entries_cmp(mgov__sort_entry_t *entries,
                                           mgov__sort_entry_t *scratch, size_t n,
                                           mgov_sort_cmp_fn cmp, void *ctx, bool descending)
{
    order_t o = { .cmp = cmp, .ctx = ctx, .desc = descending };
    if (n > 1)
        sort_in_place(&o, entries, scratch, n);
    return entries;
}

void mgov__sort_entries_bytes_merge(mgov__sort_entry_t *cur, mgov__sort_entry_t *alt, size_t n,
                                    bool to_alt, bool descending)
{
    order_t o = { .cmp = NULL, .ctx = NULL, .desc = descending };
    if (to_alt)
        sort_into(&o, cur, alt, n);
    else
        sort_in_place(&o, cur, alt, n);
}
