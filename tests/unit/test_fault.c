/*
 * Unit tests of the agent's fault table (node/agent/fault.c) on a real libuv loop: which
 * rule applies to which peer and direction, and fault_pass carrying out drop, delay and
 * dup: a duplicated message is delivered twice, the copy after the message itself.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "fault.h"

struct fixture {
    uv_loop_t loop;
    struct pl_rand rand;
    struct fault_table t;
    char got[16][8]; /* what was delivered, in order */
    int ngot;
};

static int setup(void **state)
{
    static struct fixture f;
    memset(&f, 0, sizeof(f));
    assert_int_equal(uv_loop_init(&f.loop), 0);
    pl_rand_seed(&f.rand, 42);
    fault_table_init(&f.t, &f.loop, &f.rand);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    return 0;
}

/* A held message reaching its destination. */
static void deliver_held(const struct fault_held *h)
{
    struct fixture *f = h->ctx;
    if (f->ngot < 16)
        snprintf(f->got[f->ngot++], sizeof(f->got[0]), "%.*s", (int)h->len,
                 (const char *)h->bytes);
}

/* One message through the table: delivered now when fault_pass says so, as a shell does. */
static void send_one(struct fixture *f, const char *peer, enum fault_dir dir, const char *text)
{
    if (fault_pass(&f->t, peer, dir, deliver_held, f, 0, NULL, (const uint8_t *)text,
                   strlen(text)) &&
        f->ngot < 16)
        snprintf(f->got[f->ngot++], sizeof(f->got[0]), "%s", text);
}

static void rule(struct fixture *f, const char *peer, enum fault_dir dir, double drop,
                 double dup, uint32_t dup_delay_ms)
{
    struct fault_rule r = {.dir = dir, .drop_rate = drop, .dup_rate = dup,
                           .dup_delay_ms = dup_delay_ms};
    snprintf(r.peer, sizeof(r.peer), "%s", peer);
    assert_int_equal(fault_rule_set(&f->t, &r), 0);
}

static void test_dup_delivers_twice_copy_last(void **state)
{
    struct fixture *f = *state;
    rule(f, "n2", FAULT_OUT, 0, 1, 0);
    send_one(f, "n2", FAULT_OUT, "a");
    /* The message itself at once, the copy only on a later loop turn. */
    assert_int_equal(f->ngot, 1);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(f->ngot, 2);
    assert_string_equal(f->got[0], "a");
    assert_string_equal(f->got[1], "a");
    assert_int_equal(f->t.duplicated, 1);
    /* Another peer and the other direction are not touched. */
    send_one(f, "n3", FAULT_OUT, "b");
    send_one(f, "n2", FAULT_IN, "c");
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(f->ngot, 4);
    assert_int_equal(f->t.duplicated, 1);
}

static void test_dup_with_delay_and_rate(void **state)
{
    struct fixture *f = *state;
    rule(f, "*", FAULT_BOTH, 0, 1, 30);
    uint64_t t0 = uv_now(&f->loop);
    send_one(f, "n5", FAULT_IN, "x");
    assert_int_equal(f->ngot, 1);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(f->ngot, 2);
    assert_true(uv_now(&f->loop) - t0 >= 30);
    /* A rate of 0.5 duplicates some and not all of 200 messages. */
    rule(f, "*", FAULT_BOTH, 0, 0.5, 0);
    f->t.duplicated = 0;
    for (int i = 0; i < 200; i++) {
        f->ngot = 0;
        send_one(f, "n5", FAULT_OUT, "y");
        uv_run(&f->loop, UV_RUN_DEFAULT);
    }
    assert_true(f->t.duplicated > 50 && f->t.duplicated < 150);
}

static void test_drop_wins_and_clear(void **state)
{
    struct fixture *f = *state;
    rule(f, "n2", FAULT_IN, 1, 0, 0); /* drop every message from n2 */
    rule(f, "*", FAULT_BOTH, 0, 1, 0);
    send_one(f, "n2", FAULT_IN, "d");
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(f->ngot, 0);
    assert_int_equal(f->t.dropped, 1);
    assert_int_equal(f->t.duplicated, 0);
    /* The same (peer, direction) replaces its rule; clear removes them. */
    rule(f, "n2", FAULT_IN, 0, 0, 0);
    assert_int_equal(f->t.n, 2);
    fault_clear(&f->t, NULL);
    assert_int_equal(f->t.n, 0);
    send_one(f, "n2", FAULT_IN, "e");
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(f->ngot, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_dup_delivers_twice_copy_last, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dup_with_delay_and_rate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_drop_wins_and_clear, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
