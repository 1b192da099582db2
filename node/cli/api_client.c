/*
 * The libcurl client of api_client.h.
 */
#include "api_client.h"

#include "api_token.h"
#include "pl_buf.h"
#include "pl_err.h"
#include "cli.h"

#include <curl/curl.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *api_client_token_file;

/* The "Authorization: Bearer ..." line for a TCP request into out, or "" without a token.
 * 0, or PL_EUSAGE after printing why the token file cannot be used. */
static int auth_header(const char *cmd, char *out, size_t out_size)
{
    char token[API_TOKEN_MAX_CHARS + 1] = "";
    out[0] = '\0';
    if (api_client_token_file != NULL) {
        char err[512];
        if (api_token_read_client(api_client_token_file, token, sizeof(token), err,
                                  sizeof(err)) != 0)
            return cli_fail(cmd, "--token-file: %s", err);
    } else {
        const char *env = getenv("PLATELET_TOKEN");
        if (env == NULL || env[0] == '\0')
            return 0;
        if (strlen(env) >= sizeof(token) || strpbrk(env, "\r\n") != NULL)
            return cli_fail(cmd, "PLATELET_TOKEN: not an API token (one line of at most %d "
                                 "characters)", API_TOKEN_MAX_CHARS);
        snprintf(token, sizeof(token), "%s", env);
    }
    snprintf(out, out_size, "Authorization: Bearer %s", token);
    sodium_memzero(token, sizeof(token));
    return 0;
}

const char *api_client_addr(const char *flag)
{
    if (flag != NULL && flag[0] != '\0')
        return flag;
    const char *env = getenv("PLATELET_API");
    return env != NULL && env[0] != '\0' ? env : NULL;
}

static size_t write_cb(char *p, size_t size, size_t nmemb, void *data)
{
    struct pl_buf *b = data;
    size_t n = size * nmemb;
    return pl_buf_append(b, p, n) == 0 ? n : 0;
}

int api_client_json(const char *cmd, const char *addr, const char *method, const char *path,
                    const char *body, long timeout_ms, cJSON **out)
{
    if (addr == NULL)
        return cli_fail(cmd, "no agent address: give --api HOST:PORT or --api unix:PATH "
                             "(or set PLATELET_API)");
    char url[512];
    const char *sock = NULL;
    if (strncmp(addr, "unix:", 5) == 0)
        sock = addr + 5;
    else if (strchr(addr, '/') != NULL)
        sock = addr;
    if (sock != NULL)
        snprintf(url, sizeof(url), "http://localhost%s", path);
    else
        snprintf(url, sizeof(url), "http://%s%s", addr, path);

    char auth[API_TOKEN_MAX_CHARS + 64] = "";
    if (sock == NULL && auth_header(cmd, auth, sizeof(auth)) != 0)
        return PL_EUSAGE;
    CURL *curl = curl_easy_init();
    if (curl == NULL) {
        fprintf(stderr, "%s: cannot start libcurl\n", cmd);
        return -ENOMEM;
    }
    struct pl_buf resp;
    pl_buf_init(&resp, 64u << 20);
    struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
    if (auth[0] != '\0')
        headers = curl_slist_append(headers, auth);
    sodium_memzero(auth, sizeof(auth));
    curl_easy_setopt(curl, CURLOPT_URL, url);
    if (sock != NULL)
        curl_easy_setopt(curl, CURLOPT_UNIX_SOCKET_PATH, sock);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    if (body != NULL)
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &resp);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms > 0 ? timeout_ms : 10000L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");

    /* An agent started a moment ago (in the background, as the README's first steps do)
     * may not listen yet: keep trying to connect for a short while before giving up. */
    int rc = 0;
    struct timespec start, now, pause = {0, 50 * 1000 * 1000};
    clock_gettime(CLOCK_MONOTONIC, &start);
    CURLcode cc;
    for (;;) {
        cc = curl_easy_perform(curl);
        clock_gettime(CLOCK_MONOTONIC, &now);
        long waited_ms =
            (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
        if (cc != CURLE_COULDNT_CONNECT || waited_ms >= API_CLIENT_CONNECT_WAIT_MS)
            break;
        nanosleep(&pause, NULL);
    }
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    if (cc != CURLE_OK) {
        if (cc == CURLE_COULDNT_CONNECT)
            fprintf(stderr, "%s: cannot reach the agent at %s: %s (is it running? tried for %d s)\n",
                    cmd, addr, curl_easy_strerror(cc), API_CLIENT_CONNECT_WAIT_MS / 1000);
        else
            fprintf(stderr, "%s: cannot reach the agent at %s: %s\n", cmd, addr,
                    curl_easy_strerror(cc));
        rc = cc == CURLE_OPERATION_TIMEDOUT ? PL_ETIMEOUT : -ECONNREFUSED;
        goto done;
    }
    cJSON *doc = cJSON_ParseWithLength((const char *)resp.data, resp.len);
    if (status >= 400) {
        const cJSON *err = cJSON_GetObjectItemCaseSensitive(doc, "error");
        fprintf(stderr, "%s: %s\n", cmd,
                cJSON_IsString(err) ? err->valuestring : "the agent refused the request");
        cJSON_Delete(doc);
        rc = status == 400 ? PL_EUSAGE : PL_EPROTO;
        goto done;
    }
    if (doc == NULL) {
        fprintf(stderr, "%s: the agent sent an answer that is not JSON (HTTP %ld)\n", cmd, status);
        rc = PL_EPROTO;
        goto done;
    }
    *out = doc;
done:
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    pl_buf_close(&resp);
    return rc;
}

void api_client_print_json(const cJSON *doc, int pretty)
{
    char *text = pretty ? cJSON_Print(doc) : cJSON_PrintUnformatted(doc);
    if (text != NULL) {
        puts(text);
        free(text);
    }
}

int api_client_run(const char *cmd, const char *addr, const char *method, const char *path,
                   const char *body, bool json, void (*human)(const cJSON *doc))
{
    return api_client_run_timeout(cmd, addr, method, path, body, 0, json, human);
}

int api_client_run_timeout(const char *cmd, const char *addr, const char *method,
                           const char *path, const char *body, long timeout_ms, bool json,
                           void (*human)(const cJSON *doc))
{
    cJSON *doc = NULL;
    int rc = api_client_json(cmd, addr, method, path, body, timeout_ms, &doc);
    if (rc != 0)
        return rc;
    if (json || human == NULL)
        api_client_print_json(doc, !json);
    else
        human(doc);
    cJSON_Delete(doc);
    return 0;
}

const char *json_str(const cJSON *o, const char *key)
{
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));
    return s != NULL ? s : "";
}

double json_num(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}
