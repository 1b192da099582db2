/*
 * libFuzzer target for the HTTP request path of the agent's API: the bytes are sent to a
 * real server (http_server.c on libuv, through libhttp-parser) on 127.0.0.1 and go through
 * the API's checks (api.c: Host, Origin, the bearer token, the scope) to a route that
 * echoes nothing. Whatever arrives, the server answers or closes, never crashes, and has
 * no connection left once the client is gone.
 */
#include "api.h"
#include "pl_assert.h"

#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static uv_loop_t loop;
static struct api api;
static struct api_tokens tokens;
static int port;

static void ok_cb(struct api_call *call, void *data)
{
    (void)data;
    api_reply_json(call, 200, cJSON_CreateObject());
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    static const char file[] = "operate 0123456789abcdef0123456789abcdef\n"
                               "read    fedcba9876543210fedcba9876543210\n";
    char err[256];
    PL_ASSERT(api_tokens_parse("fuzz", file, sizeof(file) - 1, &tokens, err, sizeof(err)) == 0);
    PL_ASSERT(uv_loop_init(&loop) == 0);
    api_init(&api, &loop, &tokens);
    api_route_add(&api, "GET", "/v1/x", ok_cb, NULL);
    api_route_add(&api, "POST", "/v1/x", ok_cb, NULL);
    PL_ASSERT(api_listen_tcp(&api, "127.0.0.1", 0) == 0);
    port = http_server_port(&api.http);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    PL_ASSERT(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
    PL_ASSERT(rc == 0 || errno == EINPROGRESS);
    size_t sent = 0;
    int eof = 0;
    /* Bounded: the server reads everything it is sent, answers and closes on EOF. */
    for (int turns = 0; turns < 100000 && !(eof && api.http.nconns == 0); turns++) {
        if (sent < size) {
            ssize_t n = send(fd, data + sent, size - sent, MSG_NOSIGNAL);
            if (n > 0)
                sent += (size_t)n;
            else if (n < 0 && errno != EAGAIN && errno != EINPROGRESS && errno != ENOTCONN)
                sent = size; /* the server closed: nothing more to send */
            if (sent == size)
                shutdown(fd, SHUT_WR);
        } else if (size == 0 && turns == 0) {
            shutdown(fd, SHUT_WR);
        }
        uv_run(&loop, UV_RUN_NOWAIT);
        char buf[4096];
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != ENOTCONN))
            eof = 1;
    }
    close(fd);
    while (api.http.nconns != 0)
        uv_run(&loop, UV_RUN_NOWAIT);
    return 0;
}
