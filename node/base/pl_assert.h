/*
 * Assertions (after SQLite's ALWAYS/NEVER and TigerBeetle's assert discipline).
 *
 * PL_ASSERT(x): a programmer error. Stays on in release builds; aborts with file,
 * line and the node's name so a crash report says where it came from.
 * PL_ALWAYS(x) / PL_NEVER(x): a belief we defend. They abort in debug and simulator
 * builds (PL_DEBUG defined) and evaluate to the condition in release, so the caller
 * handles the case it believes impossible:
 *
 *     if (PL_NEVER(n > max)) return PL_ECORRUPT;
 *
 * Never assert on input from outside the process: check it and return an error.
 */
#ifndef PL_ASSERT_H
#define PL_ASSERT_H

#include <assert.h> /* static_assert */

_Noreturn void pl_assert_fail(const char *expr, const char *file, int line);

#define PL_ASSERT(x) ((x) ? (void)0 : pl_assert_fail(#x, __FILE__, __LINE__))

#ifdef PL_DEBUG
/* Function calls here too, so that PL_NEVER(true) as a statement (the "cannot happen"
 * branch) is no unused-value warning in debug builds either. */
static inline int pl_always_(int v, const char *expr, const char *file, int line)
{
    if (!v)
        pl_assert_fail(expr, file, line);
    return v;
}
static inline int pl_never_(int v, const char *expr, const char *file, int line)
{
    if (v)
        pl_assert_fail(expr, file, line);
    return v;
}
#define PL_ALWAYS(x) pl_always_(!!(x), #x, __FILE__, __LINE__)
#define PL_NEVER(x) pl_never_(!!(x), #x, __FILE__, __LINE__)
#else
/* A function call, not a bare expression, so using it as a statement is not a warning. */
static inline int pl_belief_(int v) { return v; }
#define PL_ALWAYS(x) pl_belief_(!!(x))
#define PL_NEVER(x) pl_belief_(!!(x))
#endif

#define PL_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define PL_MIN(a, b) ((a) < (b) ? (a) : (b))
#define PL_MAX(a, b) ((a) > (b) ? (a) : (b))
#define PL_UNUSED(x) ((void)(x))

#endif
