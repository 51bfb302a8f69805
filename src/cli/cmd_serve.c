/* dokja serve: the OpenAI-compatible server until SIGINT or SIGTERM. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "dokja/backend.h"
#include "dokja/error.h"
#include "dokja/serve.h"

int cmd_serve(int argc, char **argv)
{
    char *model_dir = NULL, *host = NULL, *api_key = NULL;
    int port = 8080, parallel = 4, queue = 64, context = 0, threads = 0;
    int64_t max_body = 1 << 20;
    dk_device_opts dev = {0};
    const dk_opt opts[] = {
        {"model", DK_FIELD_STRING, &model_dir, "DIR", "model directory (fp32 or q8)"},
        {"host", DK_FIELD_STRING, &host, "ADDR", "address to listen on (default 127.0.0.1)"},
        {"port", DK_FIELD_INT, &port, "N", "port (default 8080; 0: any free port)"},
        {"parallel", DK_FIELD_INT, &parallel, "N", "requests decoded together, each with a KV cache (default 4)"},
        {"queue", DK_FIELD_INT, &queue, "N", "requests that may wait for a slot; more get 429 (default 64)"},
        {"ctx-size", DK_FIELD_INT, &context, "N", "context per request (default: the model's)"},
        {"max-body", DK_FIELD_I64, &max_body, "BYTES", "larger request bodies get 413 (default 1048576)"},
        {"api-key", DK_FIELD_STRING, &api_key, "KEY", "require Authorization: Bearer KEY on /v1 and /tokenize"},
        {"threads", DK_FIELD_INT, &threads, "N", "threads for decoding (default: all cores)"},
        DK_DEVICE_OPTS(&dev),
        {0},
    };
    dk_cli cli = {.usage = "dokja serve --model DIR [--host 127.0.0.1] [--port 8080] [--parallel N] [--api-key KEY]",
                  .summary = "Serves the model over HTTP with OpenAI's API (/v1/models, /v1/completions,\n"
                             "/v1/chat/completions, streaming as Server-Sent Events), /tokenize, /detokenize, /health,\n"
                             "/metrics (Prometheus) and a chat page at /. Requests are decoded together in batches\n"
                             "(docs/server.md). Stops on Ctrl-C or SIGTERM.",
                  .opts = opts};
    dk_lm lm = {0};
    int rc = dk_cli_parse(&cli, argc, argv);
    if (rc >= 0) goto done;
    rc = DK_EXIT_USAGE;
    if (!model_dir || cli.npositional || port < 0 || port > 65535 || parallel < 1 || parallel > 256 || queue < 1 ||
        context < 0 || max_body < 1) {
        fprintf(stderr, "dokja: serve needs --model DIR, 0 <= --port <= 65535, 1 <= --parallel <= 256, --queue >= 1\n"
                        "usage: %s (see --help)\n", cli.usage);
        goto done;
    }
    /* the signals are taken with sigwait below, in this thread only */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);
    dk_server *s;
    dk_serve_config c = {.host = host ? host : "127.0.0.1", .port = port, .parallel = parallel, .queue = queue,
                         .context = context, .max_body = (size_t)max_body, .api_key = api_key, .threads = threads};
    const dk_backend *be = NULL;
    if (dk_lm_open(&lm, model_dir) || !(be = dk_device_opts_backend(&dev)) || dk_model_use(&lm.model, be) ||
        dk_server_start(&s, &lm, &c)) {
        rc = dk_cli_error();
        goto done;
    }
    fprintf(stderr, "dokja: serving %s%s on http://%s:%d/ (%d parallel)\n", lm.name, lm.model.q8 ? " (q8)" : "", c.host,
            dk_server_port(s), parallel);
    int sig;
    sigwait(&stop, &sig);
    fprintf(stderr, "dokja: stopping\n");
    dk_server_stop(s);
    rc = DK_EXIT_OK;
done:
    dk_lm_close(&lm);
    dk_device_opts_free(&dev);
    free(model_dir);
    free(host);
    free(api_key);
    return rc;
}
