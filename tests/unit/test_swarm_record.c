/*
 * Unit tests of the leader's "decisions" gossip record (node/agent/swarm_record.c): the
 * pending decisions of a state round-trip, and every malformed shape is refused whole.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pl_err.h"
#include "swarm_record.h"

static void test_roundtrip(void **state)
{
    (void)state;
    struct swarm_state *s = calloc(1, sizeof(*s));
    assert_non_null(s);
    swarm_state_init(s);
    s->ndecisions = 3;
    for (uint32_t i = 0; i < 3; i++) {
        struct swarm_decision *d = &s->decisions[i];
        d->index = 10 + i;
        d->term = 4;
        d->action = i == 1 ? SWARM_OP_STOP : SWARM_OP_RESTART;
        d->state = i == 2 ? SWARM_DECISION_DONE : SWARM_DECISION_PENDING;
        strcpy(d->node, i == 0 ? "r1" : "r4");
        strcpy(d->service, "web");
    }
    static struct swarm_record r, back;
    swarm_record_from_state(s, 5, &r);
    assert_int_equal(r.n, 2); /* the done one is not pending */
    char *text = swarm_record_encode(&r);
    assert_non_null(text);
    assert_int_equal(swarm_record_parse(text, strlen(text), &back), 0);
    assert_int_equal(back.term, 5);
    assert_int_equal(back.n, 2);
    assert_int_equal(back.d[1].index, 11);
    assert_int_equal(back.d[1].action, SWARM_OP_STOP);
    assert_string_equal(back.d[1].node, "r4");
    assert_int_equal(back.d[1].state, SWARM_DECISION_PENDING);
    free(text);
    free(s);
}

static void test_refused(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "", "[]", "{}", "{\"term\":1}", "{\"term\":-1,\"decisions\":[]}",
        "{\"term\":1.5,\"decisions\":[]}", "{\"term\":1,\"decisions\":{}}",
        "{\"term\":1,\"decisions\":[1]}",
        "{\"term\":1,\"decisions\":[{\"id\":0,\"term\":1,\"node\":\"a\",\"service\":\"s\",\"op\":1}]}",
        "{\"term\":1,\"decisions\":[{\"id\":1,\"term\":1,\"node\":\"\",\"service\":\"s\",\"op\":1}]}",
        "{\"term\":1,\"decisions\":[{\"id\":1,\"term\":1,\"node\":\"a\",\"service\":\"s\",\"op\":256}]}",
        "{\"term\":1,\"decisions\":[{\"id\":1,\"term\":1,\"node\":\"a\",\"op\":1}]}",
        "{\"term\":1,\"decisions\":[{\"id\":1,\"term\":1,\"node\":\"a\",\"service\":7,\"op\":1}]}",
    };
    static struct swarm_record r;
    r.term = 99;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(swarm_record_parse(bad[i], strlen(bad[i]), &r), PL_EMALFORMED);
        assert_int_equal(r.term, 99); /* untouched */
    }
    /* A name one byte too long, and too many entries. */
    char text[8192];
    char name[SWARM_NAME_MAX + 1];
    memset(name, 'n', SWARM_NAME_MAX);
    name[SWARM_NAME_MAX] = '\0';
    snprintf(text, sizeof(text),
             "{\"term\":1,\"decisions\":[{\"id\":1,\"term\":1,\"node\":\"%s\",\"service\":\"s\","
             "\"op\":1}]}", name);
    assert_int_equal(swarm_record_parse(text, strlen(text), &r), PL_EMALFORMED);
    size_t at = (size_t)snprintf(text, sizeof(text), "{\"term\":1,\"decisions\":[");
    for (int i = 0; i <= SWARM_RECORD_MAX; i++)
        at += (size_t)snprintf(text + at, sizeof(text) - at,
                               "%s{\"id\":%d,\"term\":1,\"node\":\"a\",\"service\":\"s\",\"op\":1}",
                               i ? "," : "", i + 1);
    snprintf(text + at, sizeof(text) - at, "]}");
    assert_int_equal(swarm_record_parse(text, strlen(text), &r), PL_EMALFORMED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
